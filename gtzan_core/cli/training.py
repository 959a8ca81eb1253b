"""Commands that train and read results: ``train`` (under torchrun too), ``evaluate``, ``models``, ``reproduce``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import StudioError
from ..runs.record import RunRecord, Status
from .common import open_data, progress_bar


def _init_distributed(device: str | None):
    """Under ``torchrun`` (WORLD_SIZE > 1): join the process group; returns (rank, device)."""
    import os

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, device
    import torch
    import torch.distributed as dist

    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and device in (None, "auto", "cuda")
    if use_cuda:
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
    elif device in (None, "auto"):
        device = "cpu"
    dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return dist.get_rank(), device


def cmd_train(args) -> int:
    from ..hparams import make_config
    from ..jobs import JobSpec
    from ..jobs.local import train_here
    from ..models import get_spec
    from ..runs import RunStore
    from .common import knob_values

    rank, device = _init_distributed(args.device)
    config = make_config(args.model, recipe=args.recipe, protocol=args.protocol, device=device, **knob_values(args))
    spec = JobSpec(config, args.data, args.image_source)
    how_to_force = "Pass --allow-weak-split to train anyway."
    from tqdm.auto import tqdm

    bars: list = []  # drawn at the first epoch: a job the preflight refuses prints its one line alone

    def on_epoch(e):
        if not bars:
            bars.append(tqdm(total=config.epochs, desc=f"train {config.model}", unit="epoch", dynamic_ncols=True,
                             disable=rank != 0))
        bar = bars[0]
        bar.update(1)
        bar.set_postfix(train_loss=f"{e.train_loss:.3f}", val_loss=f"{e.val_loss:.3f}", val_acc=f"{e.val_acc:.3f}")

    try:
        if not distributed_world():
            record = train_here(spec, RunStore(args.runs), force_weak=args.allow_weak_split,
                                how_to_force=how_to_force, on_epoch=on_epoch,
                                warn=lambda w: print(f"warning: {w}", file=sys.stderr))
        else:
            record = _train_distributed(spec, args, rank, on_epoch, how_to_force)
    finally:
        for bar in bars:
            bar.close()
        _finish_distributed()
    if rank != 0:
        return 0
    run = RunRecord.of(record)
    if config.pretrained and not run.pretrained and get_spec(config.model).frozen_backbone:
        print(f"warning: {run.weights_note}", file=sys.stderr)
    _print_evaluation(record)
    return 0


def distributed_world() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def _train_distributed(spec, args, rank: int, on_epoch, how_to_force: str) -> dict:
    """Under torchrun: rank 0 opens the dataset and extracts the features (the cache is
    warm for the others after the barrier) and records the run; the other ranks train the
    same model in a scratch store."""
    import tempfile

    from ..data import open_dataset
    from ..feature_cache import feature_request, load_features
    from ..jobs import preflight, train
    from ..jobs.preflight import command_line_gate
    from ..runs import RunStore

    command_line_gate([spec], RunStore(args.runs))
    request = feature_request(spec.config.model, spec.image_source)
    if rank == 0:
        ds = open_data(spec.data_path)
        for warning in preflight([spec], dataset=ds, force_weak=args.allow_weak_split, how_to_force=how_to_force):
            print(f"warning: {warning}", file=sys.stderr)
        with progress_bar("features", "track") as p:
            fs = load_features(ds, progress=p, **request)
    _barrier()
    if rank != 0:  # the cache is warm now
        ds = open_dataset(spec.data_path)
        fs = load_features(ds, **request)
    scratch = tempfile.TemporaryDirectory(prefix="gtzan-rank-") if rank != 0 else None
    try:
        with progress_bar("backbone pass", "img") as p:
            return train(spec.config, fs, RunStore(scratch.name if scratch else args.runs), on_epoch=on_epoch,
                         progress=p if rank == 0 else None, dataset_info=ds.run_info())
    finally:
        if scratch:
            scratch.cleanup()


def _barrier() -> None:
    if distributed_world():
        import torch.distributed as dist

        dist.barrier()


def _finish_distributed() -> None:
    if distributed_world():
        import torch.distributed as dist

        dist.destroy_process_group()


def _print_evaluation(record) -> None:
    from ..hparams import recipe_label
    from ..models import record_steps
    from ..runs import RunRecord

    run = RunRecord.of(record)
    leak = f"  [{run.protocol_label}]" if run.selection_on_test else ""
    steps = record_steps(run.data)  # epochs, or the C values tried
    best = steps.point(int(run.best_epoch)) if steps.values and run.best_epoch else run.best_epoch
    print(f"run {run.run_id}: {run.model} on {run.dataset_label}, protocol {run.protocol}"
          f"{leak}, recipe {recipe_label(run.data)}, status {run.status}, {steps.many} {run.epochs_run} "
          f"(best {best})")
    ev = run.evaluation
    if ev is not None:
        levels = [(ev.segment, run.unit)] + ([(ev.track, "track")] if ev.track and not run.one_sample_per_track else [])
        for m, name in levels:  # (one picture per track: its one level is said once)
            print(f"  test {name:7s} accuracy {m.accuracy:.3f}   macro F1 {m.macro_f1:.3f}   (n={m.n})")
    padded = run.padded_inputs
    if padded:
        print(f"  {padded.tracks} of {padded.of} tracks were shorter than one 3 s {padded.unit} and "
              "repeat-padded to one")
    for warning in run.split_warnings:
        print(f"  WEAK SPLIT, these numbers say little: {warning}")
    if run.train_seconds is not None:
        print(f"  train time {run.train_seconds:.1f} s on {run.device}")


def cmd_evaluate(args) -> int:
    if args.errors and args.data:
        raise StudioError("--errors lists what runs got wrong; evaluate on the folder first (--data), then list "
                          "with --errors")
    if args.data:
        return _evaluate_folder(args)
    if args.errors:
        return _errors(args)
    from ..evaluation import report_frame
    from ..runs import RunStore

    store = RunStore(args.runs)
    if args.map:
        raise StudioError("--map is for --data FOLDER (the labels of another folder)")
    runs = [store.read(rid) for rid in dict.fromkeys(args.run_id)]
    if args.json:
        rows = [{k: run.get(k) for k in ("run_id", "model", "protocol", "leaky", "status", "dataset", "evaluation",
                                         "epochs_run", "train_seconds", "split_warnings", "image_params",
                                         "image_sources", "external_evaluations")} for run in runs]
        print(json.dumps(rows[0] if len(rows) == 1 else rows, indent=2))
        return 0
    for k, run in enumerate(runs):
        ev = run.evaluation
        if ev is None:
            from ..errors import CheckpointError

            raise CheckpointError(f"run {run.run_id} has no evaluation (status: {run.status})")
        if k:
            print()
        _print_evaluation(run)
        for level, scores in (("segment", ev.segment), ("track", ev.track)):
            if scores is not None:
                print(f"\n{level}-level report:")
                print(report_frame(scores).round(3).to_string())
        for ext in run.external_evaluations:
            print(f"  evaluated on {ext.name}: clip accuracy {_acc(ext.accuracy)} (n={ext.n_scored} of {ext.n_files} "
                  f"files; {ext.folder})")
    return 0


def _errors(args) -> int:
    """``evaluate RUN... --errors``: the test tracks (and other folders' clips) each run got wrong."""
    from ..insight import cells
    from ..runs import RunStore

    store = RunStore(args.runs)
    out = {}
    for rid in dict.fromkeys(args.run_id):
        kept = cells.ensure_test_predictions(store, rid, args.device,
                                             progress=lambda m: print(m, file=sys.stderr))
        wrong = cells.errors(kept)
        entry: dict = {"test": {"tracks": len(kept["tracks"]), "errors": [w.as_dict() for w in wrong]}}
        if kept.get("recomputed") and not kept.get("matches_record"):
            entry["test"]["note"] = ("made again from the checkpoint, these predictions do not make the confusion "
                                     "matrix the run recorded: its dataset has changed since")
        for ev in store.read(rid).external_evaluations:
            clips = cells.stored(store, rid, ev.folder)
            if clips is not None:
                entry.setdefault("external", {})[ev.folder] = {
                    "clips": len(clips["tracks"]), "errors": [w.as_dict() for w in cells.errors(clips)]}
        out[rid] = entry
    if args.json:
        print(json.dumps(next(iter(out.values())) if len(out) == 1 else out, indent=2))
        return 0
    for k, (rid, entry) in enumerate(out.items()):
        if k:
            print()
        test = entry["test"]
        print(f"run {rid}: {len(test['errors'])} of {test['tracks']} test tracks wrong (track level)")
        if "note" in test:
            print(f"  note: {test['note']}")
        _print_wrong(test["errors"])
        for folder, ext in (entry.get("external") or {}).items():
            print(f"  on {folder}: {len(ext['errors'])} of {ext['clips']} clips wrong")
            _print_wrong(ext["errors"])
    return 0


def _print_wrong(rows: list[dict]) -> None:
    for w in rows:
        print(f"  {w['true']:>9} -> {w['pred']:<9}  p(true) {w['p_true']:.2f}  p(pred) {w['p_pred']:.2f}  "
              f"{w['track']}")


def _acc(value) -> str:
    return "—" if value is None else f"{value:.3f}"


def _evaluate_folder(args) -> int:
    """``evaluate RUN... --data FOLDER``: each run on another labelled folder, file by file
    (a progress bar), its result printed (or JSON) and saved with the run."""
    from tqdm.auto import tqdm

    from ..external import evaluate_folder, parse_label_map, scan_folder
    from ..runs import RunStore
    from ..training import resolve_device

    label_map = parse_label_map(args.map)
    store = RunStore(args.runs)
    n = len(scan_folder(args.data).files)
    with tqdm(total=n, desc="evaluate", unit="file", dynamic_ncols=True, disable=n < 20) as bar:
        results = evaluate_folder(args.run_id, args.data, store, label_map, device=str(resolve_device(args.device)),
                                  on_file=lambda _: bar.update(1))
    if args.json:
        print(json.dumps({"data": next(iter(results.values())).folder,
                          "runs": {rid: {**ev.as_dict(), "saved": bool(ev.n_scored)} for rid, ev in results.items()}},
                         indent=2))
    else:
        for k, (rid, ev) in enumerate(results.items()):
            if k:
                print()
            _print_external(store.read(rid), ev)
    if not any(ev.n_scored for ev in results.values()):
        print(f"error: nothing was scored in {args.data}: no readable clip with a label of GTZAN's ten (map labels "
              "with --map LABEL=GENRE); nothing saved", file=sys.stderr)
        return 2
    return 0


#: Tracks left out as seen in training that the text report names (a folder the run trained on has hundreds).
DROPPED_SHOWN = 30


def _print_external(record: dict, ev) -> None:
    import pandas as pd

    from ..evaluation import confusion_frame, report_frame

    run = RunRecord.of(record)
    print(f"run {run.run_id}: {run.model} (trained on {run.dataset_label}), evaluated on {ev.name} ({ev.folder})")
    scope = ", ".join(f"{label} {count}" for label, count in ev.out_of_scope.items())
    print(f"  files {ev.n_files}: scored {ev.n_scored}, refused {ev.n_refused}, out of scope {ev.n_out_of_scope}"
          f"{f' ({scope})' if scope else ''}, left out as seen in training {ev.n_dropped}")
    if ev.label_map:
        print("  labels mapped: " + ", ".join(f"{k} -> {v}" for k, v in ev.label_map.items()))
    for note in ev.notes:
        print(f"  note: {note}")
    if ev.scores is not None:
        m = ev.scores
        print(f"  clip accuracy {m.accuracy:.3f}   macro F1 {m.macro_f1:.3f}   (n={m.n})")
        if m.n < 30:
            print(f"  only {m.n} clips: a handful, too few for an accuracy claim")
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            print("\n  per-class report (clips):")
            print(report_frame(m).round(3).to_string())
            print("\n  confusion matrix (rows true, columns predicted):")
            print(confusion_frame(m).to_string())
    for item in ev.refused[:DROPPED_SHOWN]:
        print(f"  refused {item['path']}: {item['reason']}")
    if len(ev.refused) > DROPPED_SHOWN:  # a folder of junk: a summary by reason, never a line a file
        from collections import Counter

        reasons = Counter(item["reason"] for item in ev.refused[DROPPED_SHOWN:]).most_common()
        shown = "; ".join(f"{n:,}: {reason}" for reason, n in reasons[:3])
        more = f"; {len(reasons) - 3} other reasons" if len(reasons) > 3 else ""
        print(f"  ... and {len(ev.refused) - DROPPED_SHOWN:,} more files refused ({shown}{more}; each in --json)")
    for item in ev.dropped[:DROPPED_SHOWN]:
        print(f"  left out {item['path']}: {item['reason']}")
    if len(ev.dropped) > DROPPED_SHOWN:
        print(f"  ... and {len(ev.dropped) - DROPPED_SHOWN} more tracks left out (each in --json)")
    print(f"  {'saved with the run' if ev.n_scored else 'nothing scored: not saved'}")


def cmd_models(args) -> int:
    from ..models import describe_models

    rows = describe_models(args.variant)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'model':19s} {'family':10s} {'input':18s} {'trainable':>12s} {'total':>12s}  weights")
    for r in rows:
        shape = "x".join(map(str, r["input_shape"]))
        weights = r["weights"] or "trained from scratch"
        if r["weights_available"] is False:
            weights += " (not on this machine)"
        print(f"{r['name']:19s} {r['family']:10s} {r['input_kind'] + ' ' + shape:18s} {r['trainable_params']:>12,} "
              f"{r['total_params']:>12,}  {weights}")
    for r in rows:
        if r["family"] == "pretrained" and r["weights_missing"]:
            print(f"note: {r['name']}: {r['weights_missing']}")
    return 0


def cmd_weights(args) -> int:
    """List the pretrained weights and where they are; ``--fetch musicnn`` brings musicnn's."""
    from ..models.weights import WEIGHTS, weights_available, weights_path

    if args.fetch:
        from ..models.autofetch import WheelSource, ensure_musicnn_weights
        from ..models.musicnn import fetch_musicnn

        source = WheelSource(index_url=args.index_url, find_links=args.find_links, wheel=args.wheel)
        if args.auto:
            outcome = ensure_musicnn_weights(source=source)
            print(f"{outcome['outcome']}: {outcome['message']}")
            return 0
        chosen = bool(args.index_url or args.find_links)
        path = fetch_musicnn(wheel=args.wheel, index_args=source.pip_args() if chosen else ())
        print(f"musicnn weights (MSD) ready in {path}")
        return 0
    rows = [{"key": key, "name": w.name, "origin": w.origin, "file": w.file, "available": weights_available(w),
             "path": str(weights_path(w) or ""), "install": w.install, "licence": w.licence}
            for key, w in WEIGHTS.items()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        mark = "yes" if r["available"] else "no "
        print(f"{mark}  {r['key']:21s} {r['name']}")
        if not r["available"]:
            print(f"     to get it: {r['install']}")
    return 0


def cmd_reproduce(args) -> int:
    import time

    from ..jobs.preflight import command_line_gate
    from ..reproduction import (
        comparison_table,
        plan_reproduction,
        protocol_table,
        reproduction_specs,
        run_reproduction,
        screen_splits,
        skipped_summary,
        write_report,
    )
    from ..runs import RunStore
    from ..training import resolve_device

    t0 = time.perf_counter()
    ds = open_data(args.data)
    device = str(resolve_device(args.device))
    plan = plan_reproduction(real_gtzan=not ds.is_synthetic, seeds=args.seeds, epochs=args.epochs, device=device,
                             honest=not args.paper_only, models=args.models)
    screen_splits(plan, ds, allow_weak=args.allow_weak_split)
    store = RunStore(args.runs)
    quiet = args.json
    for line in skipped_summary(plan):
        print(line, file=sys.stderr)
    if not plan.configs:
        raise StudioError("every run of this reproduction was skipped: its splits cannot give meaningful numbers "
                          "on this dataset (pass --allow-weak-split to run them anyway)")
    specs = reproduction_specs(plan, args.data, args.image_source)
    command_line_gate(specs, store)  # each job's checks, the limits, the memory budget (splits screened above)
    if not quiet:
        print(f"reproduction {plan.id}: {len(plan.configs)} runs ({', '.join(plan.protocols)} x "
              f"{len({c.model for c in plan.configs})} models x {plan.seeds} seed(s)) on "
              f"{ds.label}, {device}")

    def on_run(k, n, record):
        if quiet:
            return
        run = RunRecord.of(record)
        ev = run.evaluation
        result = f"acc {ev.segment.accuracy:.3f}  F1 {ev.segment.macro_f1:.3f}" if ev else run.error or ""
        print(f"[{k}/{n}] {run.model:10s} {run.protocol:8s} seed {run.part_of.get('seed', '?')}  {run.status}  "
              f"{result}", flush=True)

    with progress_bar("features / backbone", "it") as p:
        records = run_reproduction(plan, ds, store, args.image_source, on_run=on_run, progress=p)
    out = Path(args.out or f"{plan.id}.html")
    write_report(out, records, plan.id)
    wall = time.perf_counter() - t0
    table = protocol_table(records)
    if args.json:
        cols = ["model", "protocol", "protocol_label", "unit", "seeds_done", "accuracy", "accuracy_sd", "macro_f1",
                "macro_f1_sd", "track_accuracy", "paper_accuracy", "paper_f1_text", "paper_macro_f1",
                "delta_accuracy", "delta_macro_f1"]
        rows = json.loads(table[cols].to_json(orient="records"))
        comparison = json.loads(comparison_table(records).to_json(orient="records"))
        print(json.dumps({"reproduction": plan.id, "dataset": ds.label, "device": device, "seeds": plan.seeds,
                          "rows": rows, "comparison": comparison, "report": str(out.resolve()),
                          "skipped": plan.skipped,
                          "wall_seconds": round(wall, 1)}, indent=2))
    else:
        import pandas as pd

        from ..reproduction.report import comparison_display

        with pd.option_context("display.width", 250, "display.max_columns", 30):
            print()
            print(comparison_display(comparison_table(records)).to_string(index=False))
        print(f"\nreport: {out.resolve()}  ({wall:.0f} s)")
    failed = [r for r in map(RunRecord.of, records) if r.status == Status.FAILED]
    return 2 if failed and len(failed) == len(records) else 0


def cmd_distill(args) -> int:
    """Does a teacher help? The teacher (musicnn's head), then each student without and with it,
    per seed, on the track split; prints the table (and writes it as a result file)."""
    import time

    from ..reproduction.distill_study import (
        distill_display,
        distill_table,
        epoch_caps,
        new_study_id,
        run_distill_study,
        write_distill_result,
    )
    from ..runs import RunStore
    from ..training import resolve_device

    t0 = time.perf_counter()
    ds = open_data(args.data)
    device = str(resolve_device(args.device))
    from ..models import check_weights

    check_weights("musicnn", True, None)
    caps = epoch_caps(args.epochs, args.students)
    store = RunStore(args.runs)
    study, done = new_study_id(), []
    planned = args.seeds * (1 + 2 * len(args.students))

    def on_run(record):
        done.append(record)
        if args.result:  # after every run: a study cut short leaves its table so far, saying so
            write_distill_result(args, ds, distill_table(done), study, device, time.perf_counter() - t0, len(done),
                                 planned)
        if args.json:
            return
        run = RunRecord.of(record)
        ev = run.evaluation.track if run.evaluation else None
        result = f"track acc {ev.accuracy:.3f}  F1 {ev.macro_f1:.3f}" if ev else run.error or ""
        part = record.get("distill_study") or {}
        print(f"{run.model:8s} {part.get('condition', ''):16s} seed {part.get('seed', '?')}  {run.status}  {result}",
              flush=True)

    with progress_bar("features / backbone", "it") as p:
        study, records = run_distill_study(ds, store, args.seeds, args.recipe, args.students, caps,
                                           args.kd_temperature, args.kd_alpha, device, on_run, p, study,
                                           args.teachers)
    table = distill_table(records)
    if args.json:
        print(json.dumps({"distill": study, "rows": json.loads(table.to_json(orient="records"))}, indent=1))
    else:
        print(distill_display(table.to_dict("records")).to_string(index=False))
    return 0


def cmd_transfer(args) -> int:
    """Does pretraining help? Every model that can read the data, pretrained on music, on
    photos or on nothing, on one honest split, over seeds; prints the table."""
    import time

    from ..reproduction import run_reproduction
    from ..reproduction.transfer import (
        evaluate_test_data,
        leave_out_test_tracks,
        plan_transfer,
        read_test_folder,
        screen_transfer,
        transfer_display,
        transfer_table,
    )
    from ..runs import RunStore
    from ..training import resolve_device

    t0 = time.perf_counter()
    ds = open_data(args.data)
    test_data = None
    if args.test_data:  # its tracks leave the training data before any split is made
        found, test_ids = read_test_folder(args.test_data)
        ds, left_out = leave_out_test_tracks(ds, test_ids, found.name)
        test_data = {"name": found.name, "folder": str(found.root), "files": len(found.files), "left_out": left_out}
        if left_out:
            print(f"left out of training: {len(left_out)} track(s) of the data that {found.name} holds "
                  f"({', '.join(left_out[:8])}{', ...' if len(left_out) > 8 else ''})", file=sys.stderr)
    device = str(resolve_device(args.device))
    plan = plan_transfer(ds, seeds=args.seeds, protocol=args.protocol, epochs=args.epochs, recipe=args.recipe,
                         models=args.models, device=device, fine_tune=not args.no_fine_tune,
                         random_init=not args.no_random_init)
    plan.test_data = test_data
    for config in plan.configs:
        from ..models import check_weights

        check_weights(config.model, config.pretrained, config.variant)
    screen_transfer(plan, ds, allow_weak=args.allow_weak_split)
    for run, problems in plan.skipped.items():
        print(f"skipped {run}: {'; '.join(problems)}", file=sys.stderr)
    if not plan.configs:
        raise StudioError("every run of this study was skipped: its splits cannot give meaningful numbers on this "
                          "dataset (pass --allow-weak-split to run them anyway)")
    store = RunStore(args.runs)
    if not args.json:
        print(f"transfer study {plan.id}: {len(plan.configs)} runs on {ds.label} ({ds.root}), protocol "
              f"{args.protocol}, {args.seeds} seed(s), {device}")

    def on_run(k, n, record):
        if args.json:
            return
        run = RunRecord.of(record)
        ev = run.evaluation.track if run.evaluation else None
        result = f"track acc {ev.accuracy:.3f}  F1 {ev.macro_f1:.3f}" if ev else run.error or ""
        t = run.part_of
        print(f"[{k}/{n}] {run.model:18s} {t.get('condition', ''):20s} seed {t.get('seed', '?')}  "
              f"{run.status}  {result}", flush=True)

    with progress_bar("features / backbone", "it") as p:
        records = run_reproduction(plan, ds, store, args.image_source, on_run=on_run, progress=p)
    if test_data:
        if not args.json:
            print(f"testing the finished runs on {test_data['name']} ({test_data['files']} files)", flush=True)
        from tqdm.auto import tqdm

        with tqdm(total=test_data["files"], desc="test folder", unit="file", dynamic_ncols=True,
                  disable=args.json) as bar:
            records = evaluate_test_data(plan, records, store, device, on_file=lambda _: bar.update(1))
    table = transfer_table(records)
    wall = time.perf_counter() - t0
    if args.result:
        from ..reproduction.transfer import write_transfer_result

        write_transfer_result(args, ds, table, plan, wall)
    if args.json:
        print(json.dumps({"transfer": plan.id, "dataset": ds.label, "root": str(ds.root), "protocol": args.protocol,
                          "seeds": args.seeds, "device": device, "skipped": plan.skipped,
                          "rows": json.loads(table.to_json(orient="records")), "wall_seconds": round(wall, 1)},
                         indent=2))
    else:
        import pandas as pd

        with pd.option_context("display.width", 200, "display.max_columns", 10):
            print()
            print(transfer_display(table).to_string(index=False))
        print(f"\n({wall:.0f} s; the runs are in the run store, tagged {plan.id})")
    failed = [r for r in map(RunRecord.of, records) if r.status == Status.FAILED]
    return 2 if failed and len(failed) == len(records) else 0


def cmd_starter(args) -> int:
    """Remake a starter model from real GTZAN material into the run store (checkpoints/)."""
    from ..runs import RunStore
    from ..starter import make_starter

    def on_run(k, n, record):
        run = RunRecord.of(record)
        from ..starter import validation_accuracy

        ev = run.evaluation.at("track") if run.evaluation else None
        val = validation_accuracy(record)
        result = f"test track accuracy {ev.accuracy:.3f} (n={ev.n})" if ev else run.error or "no evaluation"
        print(f"[{k}/{n}] seed {run.seed}: validation accuracy {'?' if val is None else f'{val:.3f}'} "
              f"(epoch {run.best_epoch} kept), {result}, {run.epochs_run} epochs", flush=True)

    with progress_bar("features / backbone", "it") as p:
        record = make_starter(args.data, RunStore(args.runs), seeds=args.seeds, device=args.device or "cpu",
                              progress=p, on_run=on_run, model=args.model, epochs=args.epochs)
    run = RunRecord.of(record)
    s = run.starter
    assert s is not None  # (make_starter writes its numbers)
    print(f"starter {run.run_id}: {100 * s.mean:.1f} % ± {100 * s.sd:.1f} test accuracy over "
          f"{len(s.seeds)} seeds ({s.test_tracks} test tracks each); in {RunStore(args.runs).root}")
    return 0
