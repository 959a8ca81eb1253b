"""Commands on the run store: ``export``, ``import``, ``runs`` (the leaderboard and the trash), ``repair``."""

from __future__ import annotations

import json
import sys

from ..runs.record import RunRecord
from .common import run_store


def cmd_export(args) -> int:
    from ..share import export_archive, export_onnx

    store = run_store(args)
    if args.format == "onnx":
        result = export_onnx(store, args.run_id, args.out, force=args.force)
        if args.json:
            print(json.dumps(result, indent=2))
            return 0
        check = (f"; onnxruntime matches torch to {result['max_abs_diff']:.1e}" if "max_abs_diff" in result
                 else "; onnxruntime not installed, not checked")
        print(f"wrote {result['onnx']} (input {tuple(result['input_shape'])}) and its card {result['card']}{check}")
        return 0
    out = export_archive(store, args.run_id, args.out, force=args.force)
    if args.json:
        print(json.dumps({"archive": str(out), "bytes": out.stat().st_size}))
    else:
        print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB): run {args.run_id} with its checkpoint, "
              "feature parameters and model card")
    return 0


def cmd_import(args) -> int:
    from ..share import import_archive

    result = import_archive(args.archive, run_store(args))
    record = RunRecord.of(result.record)
    if args.json:
        print(json.dumps({"run_id": result.run_id, "model": record.model,
                          "warnings": result.warnings}))
        return 0
    print(f"imported run {result.run_id} ({record.title}, {record.dataset_label or '?'} data)")
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    return 0


def cmd_runs(args) -> int:
    from ..leaderboard import leaderboard
    from ..runs import RunStore
    from ..runs.trash import list_trash, move_to_trash, purge_entry, purge_expired, restore_run, trash_days

    store = RunStore(args.runs)
    purge_expired(store)
    if args.delete:
        entry = move_to_trash(store, args.delete, who="cli")
        if entry.record is None:  # a damaged run: nothing to restore it to
            print(f"moved damaged run {args.delete} to the trash ({entry.entry}; purge it now with --purge "
                  f"{args.delete}, else it is purged after {trash_days():g} days)")
        else:
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
    if args.damaged:
        damaged = store.damaged()
        if args.json:
            print(json.dumps([d.as_dict() for d in damaged], indent=2))
        else:
            for d in damaged:
                print(damaged_line(d))
            if not damaged:
                print("no damaged runs")
        return 0
    df = leaderboard(store, include_paper=not args.no_paper)
    damaged = store.damaged()
    if args.json:  # the list of runs, as before; damaged runs are named on stderr (`runs --damaged --json`)
        print(df.to_json(orient="records", indent=2))
        if damaged:
            print(f"warning: {len(damaged)} damaged run(s) left out: {', '.join(d.run_id for d in damaged)} "
                  "(list them with `runs --damaged --json`)", file=sys.stderr)
        return 0
    if df.empty:
        print("no runs yet")
    else:
        import pandas as pd

        with pd.option_context("display.width", 200, "display.max_columns", 20):
            print(df.drop(columns=["track_macro_f1"]).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    for d in damaged:
        print(damaged_line(d))
    return 0


def damaged_line(d) -> str:
    """One damaged run, as `runs` prints it: its id, what is wrong, how to remove it."""
    return f"damaged: {d.run_id}: {d.problem} (remove it with `runs --delete {d.run_id}`)"


def cmd_repair(args) -> int:
    from ..runs.repair import repair_store, state_problems

    store = run_store(args)
    if args.check:
        problems = state_problems(store.root)
        for path, problem in problems:
            print(f"{path}: {problem}")
        print(f"{len(problems)} damaged state file(s)" if problems else "no damaged state file")
        return 1 if problems else 0
    lines = repair_store(store.root)
    for line in lines:
        print(line)
    print(f"repaired {len(lines)} state file(s)" if lines else "no damaged state file")
    return 0
