"""Should the LSTM/GRU train under bf16 autocast on CUDA too? Both ways, side by
side on the same data and seeds: test accuracy (mean over seeds) and time per epoch.

    python bench/amp_rnn.py [--per-genre 20] [--seeds 3] [--recipe studio] [--device cuda]

Today the recurrent models run in fp32 (``ModelSpec.amp`` is off for them).
Last line: ``ratio: <fp32 epoch time / bf16 epoch time>`` (geometric mean of LSTM and GRU).
"""

import argparse
import math
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from _common import machine


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-genre", type=int, default=20)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--recipe", default="studio")
    ap.add_argument("--device", default="cuda")
    args = ap.parse_args()
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("error: this benchmark compares CUDA autocast; no CUDA GPU here")
    work = Path(tempfile.mkdtemp(prefix="bench-amp-"))
    os.environ["GTZAN_STUDIO_HOME"] = str(work / "home")
    import dataclasses

    from gtzan_core.data import discover_dataset
    from gtzan_core.data.synth import generate_demo
    from gtzan_core.feature_cache import load_features
    from gtzan_core.hparams import make_config
    from gtzan_core.jobs import train
    from gtzan_core.models import MODELS
    from gtzan_core.runs import RunStore

    print(f"machine: {machine()}")
    fs = load_features(discover_dataset(generate_demo(work / "synth", per_genre=args.per_genre)))
    store = RunStore(work / "runs")
    ratios = []
    try:
        for model in ("lstm", "gru"):
            out = {}
            for label, amp in (("fp32", False), ("bf16", True)):
                MODELS[model] = dataclasses.replace(MODELS[model], amp=amp)
                accs, per_epoch = [], []
                for seed in range(args.seeds):
                    rec = train(make_config(model, recipe=args.recipe, device=args.device, seed=seed), fs, store)
                    accs.append(rec["evaluation"]["segment"]["accuracy"])
                    per_epoch.append(statistics.median(h["seconds"] for h in rec["history"]))
                out[label] = (statistics.mean(accs), statistics.pstdev(accs), statistics.median(per_epoch))
                print(f"{model} {label}: accuracy {out[label][0]:.3f} ± {out[label][1]:.3f} over {args.seeds} seeds, "
                      f"{out[label][2]:.3f} s/epoch (mixed_precision={rec.get('mixed_precision')})", flush=True)
            ratios.append(out["fp32"][2] / out["bf16"][2])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"ratio: {math.prod(ratios) ** (1 / len(ratios)):.2f}")


if __name__ == "__main__":
    main()
