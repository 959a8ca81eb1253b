"""A 30 s upload -> genre probabilities from every trained run, cold and warm.

    python bench/predict.py [--repeats 5] [--device cpu]

Trains each of the seven models for one epoch on a small demo set (random init
for the image models: the timing is the same with ImageNet weights), then times
``gtzan_core.inference.predict`` on a 30 s mp3: cold (model cache cleared: the
checkpoints are read and the models rebuilt) and warm (models cached), for all
runs but VGG19 together and for VGG19 alone. Last line: ``ratio:`` cold / warm
for the six models.
"""

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from _common import machine, timed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    os.environ.setdefault("GTZAN_STUDIO_OFFLINE", "1")

    import soundfile as sf

    from gtzan_core.data import discover_dataset
    from gtzan_core.data.synth import generate_demo, synth_track
    from gtzan_core.feature_cache import load_features
    from gtzan_core.models import image_params_for
    from gtzan_core.hparams import make_config
    from gtzan_core.inference import clear_model_cache, predict
    from gtzan_core.models import MODELS
    from gtzan_core.runs import RunStore
    from gtzan_core.jobs import train

    work = Path(tempfile.mkdtemp(prefix="bench-predict-"))
    try:
        ds = discover_dataset(generate_demo(work / "demo", per_genre=4, seconds=6.2))
        store = RunStore(work / "runs")
        ids = {m: train(make_config(m, epochs=1, device="cpu"),
                        load_features(ds, image=image_params_for(m), cache_dir=work / "features"), store)["run_id"]
               for m in MODELS}
        clip = work / "upload.mp3"
        sf.write(clip, synth_track("rock", 30.0, seed=9), 22050, format="MP3")
        data = clip.read_bytes()
        six = [ids[m] for m in MODELS if m != "vgg19"]
        print(f"machine: {machine()}")
        print(f"clip: 30 s mp3 ({len(data) // 1024} KiB), device {args.device}")

        def cold(run_ids):
            clear_model_cache()
            predict(data, run_ids, store, device=args.device)

        results = {}
        for label, run_ids in (("six models (all but VGG19)", six), ("VGG19 alone", [ids["vgg19"]]),
                               ("all seven", list(ids.values()))):
            t_cold, _ = timed(lambda: cold(run_ids), max(2, args.repeats // 2))
            predict(data, run_ids, store, device=args.device)
            t_warm, _ = timed(lambda: predict(data, run_ids, store, device=args.device), args.repeats)
            results[label] = (t_cold, t_warm)
            print(f"{label:28s} cold {t_cold:.2f} s | warm {t_warm:.2f} s")
        for m in MODELS:
            t, _ = timed(lambda: predict(data, [ids[m]], store, device=args.device), args.repeats)
            print(f"  warm, {m:10s} alone: {t:.3f} s (includes decoding and features)")
        t_cold, t_warm = results["six models (all but VGG19)"]
        print(f"ratio: {t_cold / t_warm:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
