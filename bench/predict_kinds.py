"""Predict with one run of each input kind: only what the run reads (now) against every input
computed for every clip (the path before issue 43), side by side in one process.

    python bench/predict_kinds.py [--repeats 3] [--seconds 30]

Trains one run of each kind for one epoch on a small demo set (random init; offline): the MFCC
CNN, SqueezeNet (pictures), musicnn (log-mel patches), and logistic regression (feature
vectors) on a generated Kaggle-style table (its prediction on a song extracts the song's
vector from audio all the same). Then, per run alone and for the four together, times
``gtzan_core.inference.predict`` on an already decoded synthetic clip (what the Predict page
hands over), models warm:

- ``after``: ``predict`` as it is (each run's kind derives only its own rows);
- ``before``: the same call, then ``Prediction.mfcc`` and ``Prediction.image`` read, which
  computes what the old ``predict`` computed for every clip whatever the runs read (the
  clip's MFCC segments and its first picture; shared with a run that already made them, as
  the old code's memo did).

``--parts-only``: only the two parts ``before`` adds, alone on the same clip (its MFCC
segments; its first picture at 224², as the old code drew it), median and fastest of
``--repeats`` after one warm-up: what a run that reads neither saves.

The two are run alternately (``--repeats`` pairs, after one warm-up pair), so a load that
comes and goes on a shared machine falls on both; the median and the fastest of each are
printed.
"""

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import machine

RUNS = {"MFCC CNN": "cnn", "picture (SqueezeNet)": "squeezenet", "musicnn": "musicnn",
        "feature vector (logreg)": "logreg"}


def _table(path: Path) -> Path:
    """A Kaggle-style table (the 57 columns) whose rows depend on the genre."""
    from gtzan_core import GENRES
    from gtzan_core.audio_features import KAGGLE_COLUMNS

    rng = np.random.default_rng(0)
    lines = [",".join(["filename", "length", *KAGGLE_COLUMNS, "label"])]
    for g, genre in enumerate(GENRES):
        for n in range(8):
            values = rng.normal(size=len(KAGGLE_COLUMNS)) + (np.arange(len(KAGGLE_COLUMNS)) % 10 == g) * 3.0
            lines.append(",".join([f"{genre}.{n:05d}.wav", "661794", *(f"{v:.6g}" for v in values), genre]))
    path.write_text("\n".join(lines) + "\n")
    return path


def parts(seconds: float, repeats: int) -> None:
    from gtzan_core.data.synth import synth_track
    from gtzan_core.features import ImageParams, MFCCParams, mfcc_segments, spectrogram_input

    y = synth_track("rock", seconds, seed=9)
    print(f"machine: {machine()}")
    print(f"clip: {seconds:g} s; median and fastest of {repeats}")
    for name, fn in (("MFCC segments", lambda: mfcc_segments(y, 22050, MFCCParams())),
                     ("first picture (224²)", lambda: spectrogram_input(y, MFCCParams(), ImageParams()))):
        fn()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        print(f"{name:22s} median {statistics.median(times):.3f} s, fastest {min(times):.3f} s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--parts-only", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("GTZAN_STUDIO_OFFLINE", "1")
    if args.parts_only:
        return parts(args.seconds, args.repeats)

    from gtzan_core.audio import DecodedAudio
    from gtzan_core.data import discover_dataset, open_dataset
    from gtzan_core.data.synth import generate_demo, synth_track
    from gtzan_core.feature_cache import feature_request, load_features
    from gtzan_core.hparams import make_config
    from gtzan_core.inference import predict
    from gtzan_core.jobs import train
    from gtzan_core.runs import RunStore

    work = Path(tempfile.mkdtemp(prefix="bench-predict-kinds-"))
    os.environ["GTZAN_STUDIO_HOME"] = str(work / "home")
    try:
        ds = discover_dataset(generate_demo(work / "demo", per_genre=4, seconds=6.2))
        store = RunStore(work / "runs")
        ids = {}
        for label, model in RUNS.items():
            if model == "logreg":
                table = _table(work / "features.csv")
                ids[label] = train(make_config(model, device="cpu"), load_features(open_dataset(table)),
                                   store)["run_id"]
                continue
            req = feature_request(model)
            fs = load_features(ds, **req,
                               cache_dir=work / "features")
            # random init (pretrained=False): the same forward time, and no weights to fetch
            ids[label] = train(make_config(model, epochs=1, device="cpu", pretrained=False), fs, store)["run_id"]
        clip = DecodedAudio(synth_track("rock", args.seconds, seed=9), 22050)
        print(f"machine: {machine()}")
        print(f"clip: {args.seconds:g} s, decoded (22.05 kHz), models warm, median of {args.repeats}")

        def after(run_ids):
            return predict(clip, run_ids, store)

        def before(run_ids):
            pred = predict(clip, run_ids, store)
            pred.view("mfcc"), pred.view("image")  # what the old path computed for every clip
            return pred

        print(f"{'runs':26s} {'before: median':>15s} {'fastest':>8s}  {'after: median':>14s} {'fastest':>8s}  "
              "saved (medians)")
        for label, run_ids in [*((k, [v]) for k, v in ids.items()), ("all four", list(ids.values()))]:
            assert not after(run_ids).refused  # warm: models loaded, numba compiled
            before(run_ids)
            times = {"before": [], "after": []}
            for _ in range(args.repeats):
                for name, fn in (("before", before), ("after", after)):
                    t0 = time.perf_counter()
                    fn(run_ids)
                    times[name].append(time.perf_counter() - t0)
            (b, bmin), (a, amin) = ((statistics.median(t), min(t)) for t in times.values())
            print(f"{label:26s} {b:14.2f}s {bmin:7.2f}s  {a:13.2f}s {amin:7.2f}s  {1 - a / b:6.0%}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
