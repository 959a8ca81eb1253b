"""Command line: ``python -m gtzan_core`` or ``gtzan-studio``.

Every user-facing problem exits with status 2 and a single ``error: ...`` line.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from . import GENRES, __version__
from .errors import StudioError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump
        self.exit(2, f"error: {message} (see '{self.prog} --help')\n")


def _progress(desc: str, unit: str = "it"):
    from .progress import tqdm_progress

    return tqdm_progress(desc, unit=unit)


def _open_dataset(data: str | None):
    from .data import open_dataset

    with _progress("synthesising demo set", "track") as p:
        return open_dataset(data, progress=p)


# --------------------------------------------------------------------------- commands


def cmd_synth(args) -> int:
    from .data.synth import generate_demo

    with _progress("synthesising", "track") as p:
        out = generate_demo(args.out_dir, per_genre=args.per_genre, seconds=args.seconds, seed=args.seed, progress=p)
    print(f"wrote synthetic demo set ({args.per_genre} tracks x {len(GENRES)} genres, {args.seconds:g} s) to {out}")
    return 0


def cmd_download(args) -> int:
    from .data.download import download_gtzan

    with _progress("download", "B") as p:
        out = download_gtzan(args.url, args.out, sha256=args.sha256, md5=args.md5, progress=p)
    print(f"GTZAN unpacked in {out}; use it with --data {out}")
    return 0


def _image_sources(fs) -> dict:
    """How many tracks' pictures came from the dataset's PNGs and how many were drawn."""
    if "image_source" not in fs.tracks:
        return {}
    return {str(k): int(v) for k, v in fs.tracks["image_source"].value_counts().items() if k != "none"}


def cmd_features(args) -> int:
    from .feature_cache import load_features
    from .features import ImageParams

    ds = _open_dataset(args.data)
    with _progress("features", "track") as p:
        fs = load_features(ds, image=ImageParams(size=args.image_size, source=args.image_source),
                           workers=args.workers, progress=p, rebuild=args.rebuild)
    counts = fs.tracks.groupby("genre").size().reindex(list(GENRES), fill_value=0)
    skipped = list(ds.skipped) + list(fs.failed)
    if args.json:
        out = ds.summary()
        out.update({"extracted_tracks": int(len(fs.tracks)), "segments": int(len(fs.mfcc)),
                    "mfcc_shape": list(fs.mfcc.shape), "image_shape": list(fs.images.shape),
                    "image_style": fs.image_params.style,
                    "image_sources": _image_sources(fs),
                    "failed": [{"track": t, "reason": r} for t, r in fs.failed],
                    "notes": [{"track": t, "note": n} for t, n in fs.notes],
                    "cache": str(fs.path), "cache_hit": fs.cache_hit})
        print(json.dumps(out, indent=2))
        return 0
    print(f"dataset: {ds.label}  ({ds.root}, layout {ds.layout})")
    print("tracks per genre: " + ", ".join(f"{g} {n}" for g, n in counts.items()))
    print(f"tracks: {len(fs.tracks)}   segments: {len(fs.mfcc)}   MFCC {tuple(fs.mfcc.shape[1:])}   "
          f"images {tuple(fs.images.shape[1:])}")
    sources = _image_sources(fs)
    if sources:
        print(f"images: {', '.join(f'{n} {k}' for k, n in sources.items())} (style {fs.image_params.style})")
    for track, note in fs.notes:
        print(f"note: {track}: {note}")
    if skipped:
        print(f"skipped {len(skipped)} file(s):")
        for path, reason in skipped:
            print(f"  {path}: {reason}")
    for w in ds.warnings:
        print(f"warning: {w}")
    state = "cache hit" if fs.cache_hit else f"extracted in {fs.seconds:.1f} s"
    print(f"cache: {fs.path} ({state})")
    return 0


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
    import tempfile

    from .feature_cache import image_params_for, load_features
    from .hparams import make_config
    from .runs import RunStore
    from .splits import check_planned_split
    from .training import train

    rank, device = _init_distributed(args.device)
    config = make_config(args.model, recipe=args.recipe, protocol=args.protocol, epochs=args.epochs,
                         batch_size=args.batch_size, lr=args.lr, patience=args.patience, device=device,
                         seed=args.seed, freeze_backbone=False if args.unfreeze else None,
                         pretrained=False if args.no_pretrained else None, variant=args.variant)
    try:
        image = image_params_for(args.model, args.image_source)
        if rank == 0:
            ds = _open_dataset(args.data)
            for warning in check_planned_split(ds, config, force=args.allow_weak_split,
                                               how_to_force="Pass --allow-weak-split to train anyway."):
                print(f"warning: {warning}", file=sys.stderr)
            with _progress("features", "track") as p:
                fs = load_features(ds, image=image, progress=p)
        _barrier()
        if rank != 0:  # the cache is warm now
            from .data import open_dataset

            ds = open_dataset(args.data)
            fs = load_features(ds, image=image)
        # rank 0 records the run; the other ranks train the same model in a scratch store
        scratch = tempfile.TemporaryDirectory(prefix="gtzan-rank-") if rank != 0 else None
        store = RunStore(scratch.name if scratch else args.runs)
        from tqdm.auto import tqdm

        bar = tqdm(total=config.epochs, desc=f"train {config.model}", unit="epoch", dynamic_ncols=True,
                   disable=rank != 0)

        def on_epoch(e):
            bar.update(1)
            bar.set_postfix(train_loss=f"{e.train_loss:.3f}", val_loss=f"{e.val_loss:.3f}", val_acc=f"{e.val_acc:.3f}")

        try:
            with _progress("backbone pass", "img") as p:
                record = train(config, fs, store, on_epoch=on_epoch, progress=p if rank == 0 else None,
                               dataset_info=ds.run_info())
        finally:
            bar.close()
            if scratch:
                scratch.cleanup()
        if rank != 0:
            return 0
        if config.pretrained and not record.get("pretrained") and record["input_kind"] == "image":
            print(f"warning: {record['weights_note']}", file=sys.stderr)
        _print_evaluation(record)
        return 0
    finally:
        _finish_distributed()


def _barrier() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def _finish_distributed() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _print_evaluation(record: dict) -> None:
    ev = record.get("evaluation") or {}
    from .hparams import recipe_label

    leak = f"  [{record['protocol_label']}]" if record.get("selection_on_test") else ""
    print(f"run {record['run_id']}: {record['model']} on {record['dataset'].get('label')}, protocol {record['protocol']}"
          f"{leak}, recipe {recipe_label(record)}, status {record['status']}, epochs {record.get('epochs_run')} (best {record.get('best_epoch')})")
    for level in ("segment", "track"):
        if level in ev:
            m = ev[level]
            print(f"  test {level:7s} accuracy {m['accuracy']:.3f}   macro F1 {m['macro_f1']:.3f}   (n={m['n']})")
    for warning in record.get("split_warnings") or []:
        print(f"  WEAK SPLIT, these numbers say little: {warning}")
    if record.get("train_seconds") is not None:
        print(f"  train time {record['train_seconds']:.1f} s on {record.get('device')}")


def cmd_evaluate(args) -> int:
    from .evaluation import report_frame
    from .runs import RunStore

    store = RunStore(args.runs)
    record = store.read(args.run_id)
    if args.json:
        print(json.dumps({k: record.get(k) for k in ("run_id", "model", "protocol", "leaky", "status", "dataset",
                                                      "evaluation", "epochs_run", "train_seconds", "split_warnings",
                                                      "image_params", "image_sources")}, indent=2))
        return 0
    if not record.get("evaluation"):
        from .errors import CheckpointError

        raise CheckpointError(f"run {args.run_id} has no evaluation (status: {record.get('status')})")
    _print_evaluation(record)
    for level in ("segment", "track"):
        print(f"\n{level}-level report:")
        print(report_frame(record["evaluation"][level]).round(3).to_string())
    return 0


def cmd_predict(args) -> int:
    from .inference import predict
    from .runs import RunStore
    from .training import resolve_device

    store = RunStore(args.runs)
    pred = predict(args.audio, args.run or None, store, device=str(resolve_device(args.device)))
    if not pred.results and not pred.refused:
        from .errors import CheckpointError

        raise CheckpointError("no trained runs to predict with; train one first (gtzan-studio train cnn)")
    for why in pred.refused.values():
        print(f"error: {why}", file=sys.stderr)
    for w in pred.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if args.json:
        out = {rid: r.as_dict() for rid, r in pred.results.items()}
        out.update({rid: {"error": why} for rid, why in pred.refused.items()})
        print(json.dumps(out, indent=2))
        return 0 if pred.results else 2
    print(f"{Path(args.audio).name}: {pred.duration:.1f} s, {len(pred.mfcc)} segments"
          + (" (truncated)" if pred.truncated else ""))
    for rid, r in pred.results.items():
        top3 = sorted(zip(GENRES, r.probs), key=lambda t: -t[1])[:3]
        print(f"  {r.title:10s} {rid}  [{r.dataset}]  -> {r.top:9s} " + "  ".join(f"{g} {p:.2f}" for g, p in top3))
    if pred.results:
        ens = pred.ensemble()
        print(f"  ensemble -> {GENRES[int(ens.argmax())]} ({ens.max():.2f}), agreement {pred.agreement():.0%}")
    return 0 if pred.results else 2


def cmd_models(args) -> int:
    from .models import describe_models

    rows = describe_models(args.variant)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'model':11s} {'input':16s} {'trainable':>12s} {'total':>12s}  weights")
    for r in rows:
        shape = "x".join(map(str, r["input_shape"]))
        print(f"{r['name']:11s} {r['input_kind'] + ' ' + shape:16s} {r['trainable_params']:>12,} "
              f"{r['total_params']:>12,}  {r['weights'] or 'trained from scratch'}")
    return 0


def cmd_reproduce(args) -> int:
    import time

    from .reproduction import (comparison_table, plan_reproduction, protocol_table, run_reproduction, screen_splits,
                               skipped_summary, write_report)
    from .runs import RunStore
    from .training import resolve_device

    t0 = time.perf_counter()
    ds = _open_dataset(args.data)
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

    with _progress("features / backbone", "it") as p:
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

        from .reproduction.report import comparison_display

        with pd.option_context("display.width", 250, "display.max_columns", 30):
            print()
            print(comparison_display(comparison_table(records)).to_string(index=False))
        print(f"\nreport: {out.resolve()}  ({wall:.0f} s)")
    failed = [r for r in records if r.get("status") == "failed"]
    return 2 if failed and len(failed) == len(records) else 0


def cmd_explain(args) -> int:
    from .explain import explain

    ex = explain(args.audio, args.run, _store(args), genre=args.genre, methods=tuple(args.methods.split(",")),
                 max_seconds=args.seconds)
    if args.json:
        print(json.dumps(ex.as_dict(), indent=2))
        return 0
    print(f"{Path(args.audio).name}: run {args.run} ({ex.model}) predicts {GENRES[ex.predicted]}; explaining "
          f"{GENRES[ex.genre]}")
    for name, m in ex.maps.items():
        band = f", band {m.top_band[0]:.0f}-{m.top_band[1]:.0f} {m.band_unit}" if m.top_band else ""
        print(f"  {name:9s} map {tuple(m.values.shape)}: top time span {m.top_time[0]:.2f}-{m.top_time[1]:.2f} s"
              f"{band}  ({ex.seconds[name]:.2f} s)")
    return 0


def cmd_export(args) -> int:
    from .share import export_archive, export_onnx

    store = _store(args)
    if args.format == "onnx":
        result = export_onnx(store, args.run_id, args.out)
        if args.json:
            print(json.dumps(result, indent=2))
            return 0
        check = (f"; onnxruntime matches torch to {result['max_abs_diff']:.1e}" if "max_abs_diff" in result
                 else "; onnxruntime not installed, not checked")
        print(f"wrote {result['onnx']} (input {tuple(result['input_shape'])}) and its card {result['card']}{check}")
        return 0
    out = export_archive(store, args.run_id, args.out)
    if args.json:
        print(json.dumps({"archive": str(out), "bytes": out.stat().st_size}))
    else:
        print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB): run {args.run_id} with its checkpoint, "
              "feature parameters and model card")
    return 0


def cmd_import(args) -> int:
    from .share import import_archive

    result = import_archive(args.archive, _store(args))
    if args.json:
        print(json.dumps({"run_id": result.run_id, "model": result.record.get("model"),
                          "warnings": result.warnings}))
        return 0
    print(f"imported run {result.run_id} ({result.record.get('title', result.record.get('model'))}, "
          f"{(result.record.get('dataset') or {}).get('label', '?')} data)")
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    return 0


def _store(args):
    from .runs import RunStore

    return RunStore(args.runs)


def cmd_runs(args) -> int:
    from .runs import RunStore

    from .trash import list_trash, purge_entry, purge_expired, restore_run, trash_days

    store = RunStore(args.runs)
    purge_expired(store)
    if args.delete:
        entry = store.delete(args.delete, who="cli")
        print(f"moved run {args.delete} to the trash ({entry.entry}; restore it with --restore {args.delete}, "
              f"purged after {trash_days():g} days)")
        return 0
    if args.restore:
        print(f"restored run {restore_run(store, args.restore, 'cli')}")
        return 0
    if args.purge:
        print(f"purged run {purge_entry(store, args.purge, 'cli')} for good")
        return 0
    if args.trash:
        entries = [e.as_dict() for e in list_trash(store)]
        if args.json:
            print(json.dumps(entries, indent=2))
        else:
            for e in entries or [{"entry": "the trash is empty"}]:
                print("  ".join(str(e.get(k) or "") for k in ("entry", "model", "owner", "by", "problem")))
        return 0
    df = store.leaderboard(include_paper=not args.no_paper)
    if args.json:
        print(df.to_json(orient="records", indent=2))
        return 0
    if df.empty:
        print("no runs yet")
        return 0
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(df.drop(columns=["track_macro_f1"]).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    from .data.download import DEFAULT_URL
    from .data.synth import DEFAULT_PER_GENRE, DEFAULT_SECONDS, DEFAULT_SEED
    from .features import IMAGE_SOURCES

    parser = _Parser(prog="gtzan-studio", description="GTZAN Genre Studio: music-genre classification.")
    parser.add_argument("--version", action="version", version=f"gtzan-studio {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("synth", help="write the synthetic demo set (GTZAN layout) to a folder")
    p.add_argument("out_dir")
    p.add_argument("--per-genre", type=int, default=DEFAULT_PER_GENRE, help="tracks per genre")
    p.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="length of each track")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("download", help="download and unpack GTZAN (needs internet)")
    p.add_argument("--url", default=DEFAULT_URL)
    p.add_argument("--out", default="gtzan", help="target folder")
    p.add_argument("--sha256", help="expected SHA-256 of the archive")
    p.add_argument("--md5", help="expected MD5 of the archive")
    p.set_defaults(func=cmd_download)

    p = sub.add_parser("features", help="extract and cache MFCCs and spectrogram images")
    p.add_argument("--data", help="GTZAN folder (default: the synthetic demo set)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--rebuild", action="store_true", help="ignore the cache")
    p.add_argument("--image-source", choices=IMAGE_SOURCES, default="auto",
                   help="auto: the dataset's PNGs when present; render: always from audio; none: MFCC only")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_features)

    from .hparams import recipes
    from .models import MODELS
    from .splits import PROTOCOLS

    p = sub.add_parser("train", help="train a model; prints test metrics and the run id")
    p.add_argument("model", choices=list(MODELS))
    p.add_argument("--data", help="GTZAN folder (default: the synthetic demo set)")
    p.add_argument("--recipe", choices=list(recipes()), default=None,
                   help="hyperparameter recipe from hparams.yaml (default: paper, the paper's code's values)")
    p.add_argument("--protocol", choices=list(PROTOCOLS), default=None, help="evaluation protocol (default: track)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--patience", type=int)
    p.add_argument("--device", default=None, help="auto (default), cpu, cuda, mps")
    p.add_argument("--seed", type=int)
    p.add_argument("--unfreeze", action="store_true", help="image models: fine-tune the whole backbone")
    p.add_argument("--no-pretrained", action="store_true", help="image models: do not load ImageNet weights")
    p.add_argument("--variant", help="resnext: resnext101_32x8d_wsl (default, the paper's), resnext101_32x8d or "
                                     "resnext50_32x4d (ImageNet, for smaller machines)")
    p.add_argument("--image-source", choices=IMAGE_SOURCES[:3], default="auto",
                   help="image models: the dataset's PNGs when present (auto), or always rendered from audio")
    p.add_argument("--allow-weak-split", action="store_true",
                   help="train even when the split leaves a genre with fewer than 3 tracks in a part "
                        "(the warning is recorded and shown beside the run's numbers)")
    p.add_argument("--runs", help="run store folder (default: checkpoints/)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("models", help="the seven models: parameters, input, pretrained weights")
    p.add_argument("--variant", help="resnext variant (default: the paper's resnext101_32x8d_wsl)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("reproduce", help="train all seven models under the paper's protocol and recipe and "
                                         "honestly; write the comparison report")
    p.add_argument("--data", help="GTZAN folder (default: the synthetic demo set)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda")
    p.add_argument("--seeds", type=int, default=1, help="seeds per configuration (mean ± sd)")
    p.add_argument("--epochs", type=int, help="cap on the recipe's maximum epochs (a quick look)")
    p.add_argument("--models", nargs="+", choices=list(MODELS), help="only these models (default: all seven)")
    p.add_argument("--paper-only", action="store_true", help="skip the honest protocols")
    p.add_argument("--image-source", choices=IMAGE_SOURCES[:3], default="auto")
    p.add_argument("--allow-weak-split", action="store_true",
                   help="also run protocols whose split leaves a genre with fewer than 3 tracks in a part "
                        "(default: skip them, saying why)")
    p.add_argument("--out", help="HTML report file (default: ./<reproduction id>.html)")
    p.add_argument("--json", action="store_true", help="print one row per model and protocol as JSON")
    p.add_argument("--runs", help="run store folder (default: checkpoints/)")
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("evaluate", help="show a run's test metrics")
    p.add_argument("run_id")
    p.add_argument("--json", action="store_true")
    p.add_argument("--runs", help="run store folder")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="predict the genre of an audio file with trained runs")
    p.add_argument("audio")
    p.add_argument("--run", action="append", help="run id (repeatable; default: all runs)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, mps or auto")
    p.add_argument("--json", action="store_true")
    p.add_argument("--runs", help="run store folder")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("explain", help="why a run chose a genre: occlusion, Grad-CAM, per-segment view")
    p.add_argument("audio")
    p.add_argument("--run", required=True, help="run id")
    p.add_argument("--genre", help="the genre to explain (default: the predicted one)")
    p.add_argument("--methods", default="occlusion,gradcam,segments", help="comma-separated")
    p.add_argument("--seconds", type=float, default=30.0, help="explain the first S seconds (default 30)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--runs", help="run store folder")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("export", help="export a run: a zip to import elsewhere, or an ONNX model")
    p.add_argument("run_id")
    p.add_argument("--out", required=True, help="file to write (FILE.zip, or FILE.onnx with FILE.md)")
    p.add_argument("--format", choices=("zip", "onnx"), default="zip")
    p.add_argument("--json", action="store_true")
    p.add_argument("--runs", help="run store folder")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("import", help="import a run exported with `export` (checked before anything is written)")
    p.add_argument("archive")
    p.add_argument("--json", action="store_true")
    p.add_argument("--runs", help="run store folder")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("runs", help="the leaderboard: all runs, best first, with the paper's results")
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-paper", action="store_true", help="leave out the paper's reference rows")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--delete", metavar="RUN_ID", help="move a run to the trash (restorable)")
    what.add_argument("--restore", metavar="RUN_ID", help="restore a run from the trash (run id or trash entry)")
    what.add_argument("--purge", metavar="RUN_ID", help="remove a trashed run for good")
    what.add_argument("--trash", action="store_true", help="list the trash (with --json: each with trashed: true)")
    p.add_argument("--runs", help="run store folder")
    p.set_defaults(func=cmd_runs)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR, format="%(levelname)s: %(message)s")
    try:
        return args.func(args) or 0
    except StudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
