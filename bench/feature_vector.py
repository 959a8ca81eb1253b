"""The Kaggle feature vector: a per-file librosa loop vs the studio's extraction, side by side.

    python bench/feature_vector.py [--tracks 20] [--repeats 2]

Reference: per track, ``librosa.load`` and then each feature the way the Kaggle table's
notebooks compute it, one librosa call each (chroma_stft, rms, spectral centroid,
bandwidth, rolloff, zero-crossing rate, ``effects.harmonic`` and ``effects.percussive``,
``beat_track``, 20 MFCCs), one process. Ours: ``gtzan_core.feature_cache.load_features``
asked for the same 57 columns (``inputs.vector.VectorParams``), cold cache, threads on
every core, one STFT shared by the harmonic/percussive split; then the warm cache on its
own line. Prints the largest relative difference per column group and, last,
``ratio: reference / ours (cold)``.
"""

import argparse
import shutil
import tempfile
from pathlib import Path

import numpy as np

from _common import cold_and_warm, machine, synth_tracks, timed


def kaggle_loop(paths) -> np.ndarray:
    import librosa

    from gtzan_core.audio_features import KAGGLE_COLUMNS

    rows = []
    for p in paths:
        y, sr = librosa.load(p, sr=22050)
        f: dict[str, float] = {}

        def mv(name, values):
            f[f"{name}_mean"], f[f"{name}_var"] = float(np.mean(values)), float(np.var(values))

        mv("chroma_stft", librosa.feature.chroma_stft(y=y, sr=sr))
        mv("rms", librosa.feature.rms(y=y))
        mv("spectral_centroid", librosa.feature.spectral_centroid(y=y, sr=sr))
        mv("spectral_bandwidth", librosa.feature.spectral_bandwidth(y=y, sr=sr))
        mv("rolloff", librosa.feature.spectral_rolloff(y=y, sr=sr))
        mv("zero_crossing_rate", librosa.feature.zero_crossing_rate(y))
        mv("harmony", librosa.effects.harmonic(y))
        mv("perceptr", librosa.effects.percussive(y))
        tempo, _ = librosa.beat.beat_track(y=y, sr=sr)
        f["tempo"] = float(np.atleast_1d(tempo)[0])
        mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20)
        for i in range(20):
            mv(f"mfcc{i + 1}", mfcc[i])
        rows.append([f[c] for c in KAGGLE_COLUMNS])
    return np.asarray(rows)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tracks", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()

    from gtzan_core.audio_features import GROUPS, KAGGLE_COLUMNS
    from gtzan_core.data import discover_dataset
    from gtzan_core.features import ImageParams
    from gtzan_core.inputs.vector import VectorParams

    work = Path(tempfile.mkdtemp(prefix="bench-vector-"))
    try:
        ds = discover_dataset(synth_tracks(work / "data", args.tracks))
        paths = list(ds.tracks.audio_path)
        print(f"machine: {machine()}")
        print(f"tracks: {len(paths)} x 30 s")
        kaggle_loop(paths[:1])  # warm-up (imports, FFT plans, the beat tracker's compilation)
        t_ref, all_ref = timed(lambda: kaggle_loop(paths), args.repeats)
        ref = kaggle_loop(paths)

        t_ours, all_ours, t_warm, fs = cold_and_warm(ds, work, args.repeats, args.workers,
                                                     inputs={"vector": VectorParams()})
        order = [fs.inputs["vector"].info["columns"].index(c) for c in KAGGLE_COLUMNS]
        mine = np.asarray(fs.samples("vector")[0], dtype=float)[:, order]
        rel = np.abs(mine - ref) / np.maximum(np.abs(ref), 1e-12)

        def per_track(t):
            return f"{1000 * t / len(paths):.0f} ms/track"

        print(f"reference (per-file librosa loop, 1 process): {t_ref:.2f} s  ({per_track(t_ref)})  "
              f"runs {['%.2f' % t for t in all_ref]}")
        print(f"ours, cold cache:                              {t_ours:.2f} s  ({per_track(t_ours)})  "
              f"runs {['%.2f' % t for t in all_ours]}")
        print(f"ours, warm cache:                              {t_warm:.3f} s  ({per_track(t_warm)})")
        for group in ("mfcc", "chroma", "spectral", "rhythm"):
            cols = [KAGGLE_COLUMNS.index(c) for c in GROUPS[group]]
            print(f"  {group:9s} median relative difference {np.median(rel[:, cols]):.2g}, "
                  f"largest {rel[:, cols].max():.2g}")
        print(f"ratio: {t_ref / t_ours:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
