"""Commands that use trained runs on audio: ``predict``, ``explain``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .. import GENRES
from ..audio import printable
from .common import run_store


def cmd_predict(args) -> int:
    from ..inference import predict
    from ..runs import RunStore
    from ..training import resolve_device

    store = RunStore(args.runs)
    pred = predict(args.audio, args.run or None, store, device=str(resolve_device(args.device)))
    if not pred.results and not pred.refused:
        from ..errors import CheckpointError

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
    print(f"{printable(Path(args.audio).name)}: {pred.duration:.1f} s, {len(pred.mfcc)} segments"
          + (" (truncated)" if pred.truncated else ""))
    for rid, r in pred.results.items():
        top3 = sorted(zip(GENRES, r.probs, strict=False), key=lambda t: -t[1])[:3]
        print(f"  {r.title:10s} {rid}  [{r.dataset}]  -> {r.top:9s} " + "  ".join(f"{g} {p:.2f}" for g, p in top3))
    if pred.results:
        ens = pred.ensemble()
        print(f"  ensemble -> {GENRES[int(ens.argmax())]} ({ens.max():.2f}), agreement {pred.agreement():.0%}")
    return 0 if pred.results else 2


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
    return 0
