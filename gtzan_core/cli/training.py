"""Commands that train and read results: ``train`` (under torchrun too), ``evaluate``, ``models``, ``reproduce``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import StudioError
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
    from .common import recipe_knobs

    rank, device = _init_distributed(args.device)
    config = make_config(args.model, recipe=args.recipe, protocol=args.protocol, epochs=args.epochs,
                         batch_size=args.batch_size, lr=args.lr, patience=args.patience, device=device,
                         seed=args.seed, freeze_backbone=False if args.unfreeze else None,
                         pretrained=False if args.no_pretrained else None, variant=args.variant,
                         **recipe_knobs(args))
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
    if config.pretrained and not record.get("pretrained") and get_spec(config.model).frozen_backbone:
        print(f"warning: {record['weights_note']}", file=sys.stderr)
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
    from ..runs import RunStore

    preflight([spec])
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


def _print_evaluation(record: dict) -> None:
    ev = record.get("evaluation") or {}
    from ..hparams import recipe_label

    leak = f"  [{record.get('protocol_label')}]" if record.get("selection_on_test") else ""
    print(f"run {record['run_id']}: {record['model']} on {(record.get('dataset') or {}).get('label')}, protocol "
          f"{record.get('protocol')}"
          f"{leak}, recipe {recipe_label(record)}, status {record['status']}, epochs {record.get('epochs_run')} "
          f"(best {record.get('best_epoch')})")
    unit = (record.get("split") or {}).get("unit") or "segment"  # what one sample is: segment, patch or image
    for level, name in (("segment", unit), ("track", "track")):
        if level in ev and not (level == "track" and unit == "image"):  # one picture per track: said once
            m = ev[level]
            print(f"  test {name:7s} accuracy {m['accuracy']:.3f}   macro F1 {m['macro_f1']:.3f}   (n={m['n']})")
    padded = record.get("padded_inputs") or {}
    if padded.get("tracks"):
        print(f"  {padded['tracks']} of {padded['of']} tracks were shorter than one 3 s {padded['unit']} and "
              "repeat-padded to one")
    for warning in record.get("split_warnings") or []:
        print(f"  WEAK SPLIT, these numbers say little: {warning}")
    if record.get("train_seconds") is not None:
        print(f"  train time {record['train_seconds']:.1f} s on {record.get('device')}")


def cmd_evaluate(args) -> int:
    from ..evaluation import report_frame
    from ..runs import RunStore

    store = RunStore(args.runs)
    record = store.read(args.run_id)
    if args.json:
        print(json.dumps({k: record.get(k) for k in ("run_id", "model", "protocol", "leaky", "status", "dataset",
                                                      "evaluation", "epochs_run", "train_seconds", "split_warnings",
                                                      "image_params", "image_sources")}, indent=2))
        return 0
    if not record.get("evaluation"):
        from ..errors import CheckpointError

        raise CheckpointError(f"run {args.run_id} has no evaluation (status: {record.get('status')})")
    _print_evaluation(record)
    for level in ("segment", "track"):
        if record["evaluation"].get(level):
            print(f"\n{level}-level report:")
            print(report_frame(record["evaluation"][level]).round(3).to_string())
    return 0


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
        from ..models.musicnn import fetch_musicnn

        path = fetch_musicnn(wheel=args.wheel)
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

    from ..jobs import preflight
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
    preflight(reproduction_specs(plan, args.data, args.image_source), force_weak=True)  # (splits screened above)
    if not quiet:
        print(f"reproduction {plan.id}: {len(plan.configs)} runs ({', '.join(plan.protocols)} x "
              f"{len({c.model for c in plan.configs})} models x {plan.seeds} seed(s)) on "
              f"{ds.label}, {device}")

    def on_run(k, n, record):
        if quiet:
            return
        ev = (record.get("evaluation") or {}).get("segment") or {}
        result = f"acc {ev['accuracy']:.3f}  F1 {ev['macro_f1']:.3f}" if ev else record.get("error", "")
        print(f"[{k}/{n}] {record.get('model'):10s} {record.get('protocol'):8s} seed "
              f"{(record.get('reproduction') or {}).get('seed', '?')}  {record.get('status')}  {result}", flush=True)

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
    failed = [r for r in records if r.get("status") == "failed"]
    return 2 if failed and len(failed) == len(records) else 0


def cmd_transfer(args) -> int:
    """Does pretraining help? Every model that can read the data, pretrained on music, on
    photos or on nothing, on one honest split, over seeds; prints the table."""
    import time

    from ..reproduction import run_reproduction
    from ..reproduction.transfer import plan_transfer, screen_transfer, transfer_display, transfer_table
    from ..runs import RunStore
    from ..training import resolve_device

    t0 = time.perf_counter()
    ds = open_data(args.data)
    device = str(resolve_device(args.device))
    plan = plan_transfer(ds, seeds=args.seeds, protocol=args.protocol, epochs=args.epochs, recipe=args.recipe,
                         models=args.models, device=device, fine_tune=not args.no_fine_tune)
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
        ev = (record.get("evaluation") or {}).get("track") or {}
        result = f"track acc {ev['accuracy']:.3f}  F1 {ev['macro_f1']:.3f}" if ev else record.get("error", "")
        t = record.get("transfer") or {}
        print(f"[{k}/{n}] {record.get('model'):18s} {t.get('condition', ''):20s} seed {t.get('seed', '?')}  "
              f"{record.get('status')}  {result}", flush=True)

    with progress_bar("features / backbone", "it") as p:
        records = run_reproduction(plan, ds, store, args.image_source, on_run=on_run, progress=p)
    table = transfer_table(records)
    wall = time.perf_counter() - t0
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
    failed = [r for r in records if r.get("status") == "failed"]
    return 2 if failed and len(failed) == len(records) else 0


def cmd_starter(args) -> int:
    """Remake the starter model from real GTZAN pictures into the run store (checkpoints/)."""
    from ..runs import RunStore
    from ..starter import make_starter

    def on_run(k, n, record):
        ev = record["evaluation"]["track"]
        print(f"[{k}/{n}] seed {record['config']['seed']}: test track accuracy {ev['accuracy']:.3f} "
              f"(n={ev['n']}), {record.get('epochs_run')} epochs", flush=True)

    with progress_bar("features / backbone", "it") as p:
        record = make_starter(args.data, RunStore(args.runs), seeds=args.seeds, device=args.device or "cpu",
                              progress=p, on_run=on_run)
    s = record["starter"]
    print(f"starter {record['run_id']}: {100 * s['mean']:.1f} % ± {100 * s['sd']:.1f} test accuracy over "
          f"{len(s['seeds'])} seeds ({s['test_tracks']} test tracks each); in {RunStore(args.runs).root}")
    return 0
