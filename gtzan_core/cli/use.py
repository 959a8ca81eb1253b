"""Commands that use trained runs on audio: ``predict``, ``explain``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .. import DEMO_DATASET, GENRES
from ..audio import printable
from .common import run_store


def _fetch_for_starter(store) -> None:
    """Before a default prediction: when the musicnn starter is here without its weights,
    fetch them in the foreground (once per machine), or say in one line why not."""
    from ..claims import shipped_starter
    from ..inference import missing_backbone
    from ..models.autofetch import ensure_musicnn_weights, fetch_needed, weights_note
    from ..starter import STARTERS

    musicnn = STARTERS["musicnn"].run_id
    waiting = [r for r in store.list() if shipped_starter(r) and r.run_id == musicnn and missing_backbone(r)]
    if not waiting:
        return
    if fetch_needed():
        print("note: fetching musicnn's weights for the musicnn starter (first start, once per machine)…",
              file=sys.stderr, flush=True)
        print(f"note: {ensure_musicnn_weights()['message']}", file=sys.stderr)
    else:
        print(f"note: {weights_note()[1]}", file=sys.stderr)


def cmd_predict(args) -> int:
    from ..inference import predict
    from ..runs import RunStore
    from ..training import resolve_device

    store = RunStore(args.runs)
    if not args.run:
        _fetch_for_starter(store)
    if args.csv or len(args.audio) > 1 or Path(args.audio[0]).is_dir():
        return _predict_folder(args, store, str(resolve_device(args.device)))
    args.audio = args.audio[0]
    pred = predict(args.audio, args.run or None, store, device=str(resolve_device(args.device)))
    if not pred.results and not pred.refused:
        from ..errors import CheckpointError

        why = "; ".join(pred.unavailable.values())
        raise CheckpointError("no trained runs to predict with; train one first (gtzan-studio train cnn)"
                              + (f" ({why})" if why else ""))
    for why in pred.refused.values():
        print(f"error: {why}", file=sys.stderr)
    for w in pred.warnings:
        print(f"warning: {w}", file=sys.stderr)
    answer = pred.answer()
    if args.json:
        out = {rid: {**r.as_dict(), "in_answer": rid in {a["run_id"] for a in answer.runs},
                     **({"trained_on": DEMO_DATASET} if rid in answer.demo_runs else {})}
               for rid, r in pred.results.items()}
        out.update({rid: {"error": why} for rid, why in pred.refused.items()})
        out["answer"] = answer.as_dict()
        print(json.dumps(out, indent=2))
        return 0 if pred.results else 2
    from ..inputs.mfcc import segment_count

    print(f"{printable(Path(args.audio).name)}: {pred.duration:.1f} s, {segment_count(pred.clip)} segments"
          + (" (truncated)" if pred.truncated else ""))

    def line(rid, r):
        top3 = sorted(zip(GENRES, r.probs, strict=False), key=lambda t: -t[1])[:3]
        return f"  {r.title:10s} {rid}  [{r.dataset}]  -> {r.top:9s} " + "  ".join(f"{g} {p:.2f}" for g, p in top3)

    for rid, r in pred.results.items():
        if rid not in answer.demo_runs:
            print(line(rid, r))
    if answer.probs is not None:
        weights = ", ".join(f"{a['run_id']} {a['weight']:.2f}" for a in answer.runs)
        print(f"  answer -> {answer.top} ({answer.probs.max():.2f}), by {answer.answered_by}; weights (from "
              f"validation accuracy): {weights}")
        networks = sorted({a["networks"] for a in answer.runs})
        print(f"  networks that answered: {printable('; '.join(networks))}")
    else:
        print(f"  answer: none ({answer.answered_by})")
    for rid, why in answer.left_out.items():
        print(f"  not in the answer: {rid}: {why}")
    if answer.demo_runs:
        print("  trained on the synthetic demo set (never heard real music; not in the answer):")
        for rid in answer.demo_runs:
            print(line(rid, pred.results[rid]))
    if len(pred.results) > 1:
        print(f"  agreement {pred.agreement():.0%} of {len(pred.results)} runs on the top genre")
    return 0 if pred.results else 2


def _predict_folder(args, store, device: str) -> int:
    """``predict FOLDER… [--csv FILE]``: each audio file's default answer, one line (or row) a
    file, a progress bar on stderr; refused files are named and skipped."""
    from tqdm import tqdm

    from ..errors import CheckpointError
    from ..folder_predict import CsvAnswers, answer_selection, audio_files, done_files, predict_files

    files = audio_files(args.audio)
    done = done_files(args.csv) if args.csv else set()
    todo = [f for f in files if str(f) not in done]
    if args.run:
        run_ids, missing = list(args.run), {}
    else:
        run_ids, missing = answer_selection(store)
    if not run_ids:
        why = "; ".join(missing.values())
        raise CheckpointError("no trained run enters the default answer; train one first (gtzan-studio train cnn)"
                              + (f" ({why})" if why else ""))
    if done:
        print(f"note: {len(files) - len(todo)} of {len(files)} files are already in {args.csv}: skipped",
              file=sys.stderr)
    out = CsvAnswers(args.csv) if args.csv else None
    answered = refused = 0
    first_refusal = ""
    try:
        with tqdm(total=len(todo), unit="file", desc="predicting", file=sys.stderr, dynamic_ncols=True) as bar:
            for answer in predict_files(todo, store, device, run_ids, missing):
                refused += bool(answer.error)
                answered += not answer.error
                if out is not None:
                    out.write(answer)
                if answer.error:
                    first_refusal = first_refusal or answer.line()
                    bar.write(f"warning: {answer.line()}", file=sys.stderr)
                elif out is None:
                    bar.write(json.dumps(answer.row()) if args.json else answer.line(), file=sys.stdout)
                bar.update()
    finally:
        if out is not None:
            out.close()
    print(f"{answered} answered, {refused} skipped" + (f", written to {args.csv}" if out is not None else ""),
          file=sys.stderr)
    if todo and not answered:  # nothing to show for it: one error line, as every refusal of the CLI
        raise CheckpointError(f"no file was answered ({refused} skipped; the first: {first_refusal})")
    return 0


def cmd_explain(args) -> int:
    from ..explain import explain

    ex = explain(args.audio, args.run, run_store(args), genre=args.genre, methods=tuple(args.methods.split(",")),
                 max_seconds=args.seconds)
    if args.json:
        print(json.dumps(ex.as_dict(), indent=2))
        return 0
    print(f"{printable(Path(args.audio).name)}: run {args.run} ({ex.model}) predicts {GENRES[ex.predicted]}; "
          f"explaining {GENRES[ex.genre]}")
    for name, m in ex.maps.items():
        band = f", band {m.top_band[0]:.0f}-{m.top_band[1]:.0f} {m.band_unit}" if m.top_band else ""
        print(f"  {name:9s} map {tuple(m.values.shape)}: top time span {m.top_time[0]:.2f}-{m.top_time[1]:.2f} s"
              f"{band}  ({ex.seconds[name]:.2f} s)")
    if ex.tags:
        print(f"  {printable(ex.tags_text())}")
    return 0
