"""Wall time of a full reproduction of the paper's table: the seven models under
the paper protocol and recipe, and the same seven under the honest track split
(``python -m gtzan_core reproduce``), on a synthetic set of a given size.

    python bench/reproduce.py [--per-genre 20] [--device cpu|cuda] [--seeds 1] [--epochs N]

``--per-genre 100`` is GTZAN's size (1000 x 30 s tracks). Synthesis and feature
extraction are timed apart from training. No pretrained weights are fetched
(GTZAN_STUDIO_OFFLINE): image backbones start from random initialisation unless
the hub cache holds the weights. Last line: ``wall: <seconds>`` for the training.
"""

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from _common import machine


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-genre", type=int, default=20, help="tracks per genre (100 = GTZAN's size)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=None, help="cap on the recipe's epochs")
    ap.add_argument("--keep", help="keep the work folder here (report, runs)")
    args = ap.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="bench-reproduce-"))
    os.environ.setdefault("GTZAN_STUDIO_OFFLINE", "1")
    os.environ["GTZAN_STUDIO_HOME"] = str(work / "home")

    from gtzan_core.data import discover_dataset
    from gtzan_core.data.synth import generate_demo
    from gtzan_core.feature_cache import load_features
    from gtzan_core.models import image_params_for
    from gtzan_core.reproduction import comparison_table, plan_reproduction, run_reproduction, write_report
    from gtzan_core.runs import RunStore

    print(f"machine: {machine()}")
    t0 = time.perf_counter()
    ds = discover_dataset(generate_demo(work / "synth", per_genre=args.per_genre, seed=0))
    t_synth = time.perf_counter() - t0
    t0 = time.perf_counter()
    for size_of in ("vgg19", "resnext"):  # the two image sizes (MFCCs come with both)
        load_features(ds, image=image_params_for(size_of), device=args.device)
    t_feat = time.perf_counter() - t0
    print(f"tracks: {len(ds.tracks)}; synthesis {t_synth:.1f} s, features {t_feat:.1f} s (device {args.device})")

    plan = plan_reproduction(seeds=args.seeds, epochs=args.epochs, device=args.device)
    per_run = []

    def on_run(k, n, record):
        per_run.append({"model": record.get("model"), "protocol": record.get("protocol"),
                        "seconds": record.get("train_seconds"), "epochs": record.get("epochs_run"),
                        "accuracy": ((record.get("evaluation") or {}).get("segment") or {}).get("accuracy")})
        r = per_run[-1]
        print(f"[{k}/{n}] {r['model']:10s} {r['protocol']:6s} {r['epochs']} epochs  {r['seconds'] or 0:.1f} s  "
              f"acc {r['accuracy'] if r['accuracy'] is not None else float('nan'):.3f}", flush=True)

    t0 = time.perf_counter()
    records = run_reproduction(plan, ds, RunStore(work / "runs"), on_run=on_run)
    wall = time.perf_counter() - t0
    write_report(work / "report.html", records, plan.id)
    print(comparison_table(records)[["model", "paper_accuracy", "ours_paper_accuracy", "ours_honest_accuracy",
                                     "inflation"]].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    (work / "bench-reproduce.json").write_text(json.dumps({"wall": wall, "runs": per_run}, indent=1))
    print(f"report: {work / 'report.html'}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print(f"wall: {wall:.1f}")


if __name__ == "__main__":
    main()
