"""Feature extraction: the paper's per-segment librosa loop vs ours, side by side.

    python bench/features.py [--tracks 50] [--repeats 3] [--device cpu|cuda]

Reference: per track ``librosa.load`` then ``librosa.feature.mfcc`` on each 3 s
segment, one process. Ours: ``gtzan_core.feature_cache.load_features`` with a cold
cache (MFCCs only, as the reference computes), threads on every core, MFCCs on
``--device``; then the warm cache on its own line. Prints the largest difference
between the two results and, last, ``ratio: reference / ours (cold)``.
"""

import argparse
import shutil
import tempfile
from pathlib import Path

import numpy as np

from _common import cold_and_warm, machine, synth_tracks, timed


def reference(paths):
    import librosa

    out = []
    for p in paths:
        y, sr = librosa.load(p, sr=22050)
        for s in range(10):
            seg = y[s * 66150:(s + 1) * 66150]
            if len(seg) == 66150:
                out.append(librosa.feature.mfcc(y=seg, sr=sr, n_mfcc=13, n_fft=2048, hop_length=512).T)
    return np.stack(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tracks", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()

    from gtzan_core.data import discover_dataset
    from gtzan_core.features import ImageParams

    work = Path(tempfile.mkdtemp(prefix="bench-features-"))
    try:
        ds = discover_dataset(synth_tracks(work / "data", args.tracks))
        paths = list(ds.tracks.audio_path)
        print(f"machine: {machine()}")
        print(f"tracks: {len(paths)} x 30 s")
        ref_out = reference(paths[:2])  # warm-up (imports, FFT plans)
        t_ref, all_ref = timed(lambda: reference(paths), args.repeats)
        ref_out = reference(paths)

        t_ours, all_ours, t_warm, fs = cold_and_warm(ds, work, args.repeats, args.workers,
                                                     image=ImageParams(source="none"), device=args.device)
        diff = float(np.abs(fs.samples("mfcc")[0] - ref_out).max())

        def per_track(t):
            return f"{1000 * t / len(paths):.1f} ms/track"

        print(f"reference (librosa per segment, 1 process): {t_ref:.2f} s  ({per_track(t_ref)})  runs {['%.2f' % t for t in all_ref]}")
        print(f"ours, cold cache ({args.device}):           {t_ours:.2f} s  ({per_track(t_ours)})  runs {['%.2f' % t for t in all_ours]}")
        print(f"ours, warm cache:                          {t_warm:.3f} s  ({per_track(t_warm)})")
        print(f"max |ours - reference| = {diff:.4g} (MFCC values up to {np.abs(ref_out).max():.0f})")
        print(f"ratio: {t_ref / t_ours:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
