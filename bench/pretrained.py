"""The pretrained family's costs, side by side in one run.

    python bench/pretrained.py [--tracks 100] [--repeats 3] [--excerpts DIR]

1. The inputs of a dataset for the MFCC models and musicnn (what the studio extracts
   for a dataset: both at once). The reference is a per-file loop producing the same
   two things the libraries' way: ``librosa.load(sr=22050)`` then
   ``librosa.feature.mfcc`` on each 3 s segment (the paper's extraction), and the
   released musicnn extractor's ``librosa.load(sr=16000)`` +
   ``librosa.feature.melspectrogram`` + log (in float32, its float16 overflow left
   out), each clip repeat-padded to one segment as the studio pads it. Ours is
   ``load_features(..., musicnn=MusicnnParams())``, a cold cache (threads on every
   core, each file decoded once, the torch mel), then the warm cache. On the real
   2-3 s GTZAN excerpts when ``--excerpts`` (default ``../shared/data/gtzan-real/
   excerpts``) is there, else (or with ``--excerpts none``) on synthetic 30 s tracks.
2. A 30 s upload through both new models (predict, models loaded, as on a running
   server): musicnn with its real weights when fetched (else random init, said so)
   and EfficientNet-Lite0; cold (first load) and warm, against the Predict budget of
   1 s on this machine.

Last line: ``ratio: reference / ours (cold)`` for the extraction.
"""

import argparse
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from _common import ROOT, machine, synth_tracks, timed


def padded(y: np.ndarray, n: int) -> np.ndarray:
    """``y`` repeated up to ``n`` samples (the studio's padding of a short clip)."""
    return np.resize(y, n) if len(y) < n else y


def reference(paths):
    import librosa

    out = []
    for p in paths:
        y, sr = librosa.load(p, sr=22050)
        y = padded(y, 66150)
        mfccs = [librosa.feature.mfcc(y=y[s * 66150:(s + 1) * 66150], sr=sr, n_mfcc=13, n_fft=2048, hop_length=512).T
                 for s in range(min(10, len(y) // 66150))]
        y, _ = librosa.load(p, sr=16000)
        y = padded(y, 187 * 256)
        mel = librosa.feature.melspectrogram(y=y, sr=16000, n_fft=512, hop_length=256, n_mels=96).T
        out.append((mfccs, np.log10(1 + 10000 * mel).astype(np.float32)))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tracks", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--excerpts", default=str(ROOT.parent / "shared" / "data" / "gtzan-real" / "excerpts"))
    args = ap.parse_args()

    from gtzan_core.data import discover_dataset
    from gtzan_core.feature_cache import load_features
    from gtzan_core.features import ImageParams
    from gtzan_core.mel_patches import MusicnnParams

    work = Path(tempfile.mkdtemp(prefix="bench-pretrained-"))
    try:
        print(f"machine: {machine()}")
        excerpts = Path(args.excerpts)
        if args.excerpts != "none" and (excerpts / "genres_original").is_dir():
            src = work / "excerpts" / "genres_original"
            for genre in sorted((excerpts / "genres_original").iterdir()):
                (src / genre.name).mkdir(parents=True)
                for f in sorted(genre.glob("*.wav"))[: max(1, args.tracks // 10)]:
                    os.symlink(f, src / genre.name / f.name)
            ds = discover_dataset(work / "excerpts")
            what = f"{len(ds.tracks)} real GTZAN excerpts of 2-3 s"
        else:
            ds = discover_dataset(synth_tracks(work / "data", args.tracks))
            what = f"{len(ds.tracks)} synthetic 30 s tracks"
        paths = list(ds.tracks.audio_path)
        print(f"MFCC segments and musicnn patches for {what}")
        reference(paths[:2])  # warm-up
        t_ref, runs_ref = timed(lambda: reference(paths), args.repeats)
        params, no_pictures = MusicnnParams(), ImageParams(source="none")
        load_features(ds, image=no_pictures, musicnn=params, cache_dir=work / "warm")  # warm-up, and the warm entry

        def ours():
            load_features(ds, image=no_pictures, musicnn=params, cache_dir=Path(tempfile.mkdtemp(dir=work)))

        t_ours, runs_ours = timed(ours, args.repeats)
        t_warm, _ = timed(lambda: load_features(ds, image=no_pictures, musicnn=params, cache_dir=work / "warm"),
                          args.repeats)
        per = lambda t: f"{1000 * t / len(paths):.1f} ms/track"  # noqa: E731
        print(f"reference (per-file librosa loops, 1 process):     {t_ref:.2f} s ({per(t_ref)})  runs "
              f"{['%.2f' % t for t in runs_ref]}")
        print(f"ours, cold cache (MFCCs and patches, all cores):   {t_ours:.2f} s ({per(t_ours)})  runs "
              f"{['%.2f' % t for t in runs_ours]}")
        print(f"ours, warm cache:                                  {t_warm:.3f} s")
        print()
        upload(work)
        print(f"ratio: {t_ref / t_ours:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def upload(work: Path) -> None:
    """A 30 s clip through musicnn and EfficientNet-Lite0, cold and warm."""
    import soundfile as sf

    from gtzan_core.data.synth import synth_track
    from gtzan_core.feature_cache import feature_request, load_features
    from gtzan_core.hparams import make_config
    from gtzan_core.inference import clear_model_cache, predict
    from gtzan_core.models import check_weights
    from gtzan_core.runs import RunStore
    from gtzan_core.jobs import train

    try:
        check_weights("musicnn")
        musicnn_note, musicnn_pretrained = "its real MSD weights", True
    except Exception:
        musicnn_note, musicnn_pretrained = "random init (weights not fetched; the same compute)", False
    demo = discover_demo(work)
    store = RunStore(work / "runs")
    ids = {}
    for model, pretrained in (("musicnn", musicnn_pretrained), ("efficientnet_lite0", True)):
        fs = load_features(demo, cache_dir=work / "features", **feature_request(model))
        config = make_config(model, recipe="studio", epochs=1, device="cpu", pretrained=pretrained)
        ids[model] = train(config, fs, store)["run_id"]
    clip = work / "upload.wav"
    sf.write(clip, synth_track("rock", 30.0, seed=5), 22050)
    for model, rid in ids.items():
        clear_model_cache()
        t_cold, _ = timed(lambda: predict(clip, [rid], store), 1)
        t_warm, runs = timed(lambda: predict(clip, [rid], store), 5)
        note = f" ({musicnn_note})" if model == "musicnn" else ""
        print(f"30 s upload, {model}{note}: cold {t_cold:.2f} s, warm {t_warm:.2f} s (runs "
              f"{['%.2f' % t for t in runs]}); budget 1 s: {'met' if t_warm <= 1.0 else 'MISSED'}")
    clear_model_cache()
    t_both, _ = timed(lambda: predict(clip, list(ids.values()), store), 5)
    print(f"30 s upload, both models: warm {t_both:.2f} s")


def discover_demo(work: Path):
    from gtzan_core.data import discover_dataset
    from gtzan_core.data.synth import generate_demo

    return discover_dataset(generate_demo(work / "demo", per_genre=6, seconds=6.2, seed=3))


if __name__ == "__main__":
    main()
