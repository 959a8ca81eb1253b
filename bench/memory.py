"""Peak memory of feature extraction at full GTZAN size (1000 x 30 s tracks).

    python bench/memory.py [--tracks 1000]

The tracks are 50 synthetic ones hard-linked under 1000 names (each is still
decoded on its own). Each variant runs in a fresh process and reports its peak
RSS: ours (``load_features``: streams track by track, MFCCs + 224x224 images) and
the naive way (decode every track into a list first, then extract). Last line:
``ratio:`` naive peak / our peak.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import ROOT, machine, synth_tracks

OURS = """
import resource, sys
from gtzan_core.data import discover_dataset
from gtzan_core.feature_cache import load_features
fs = load_features(discover_dataset(sys.argv[1]), cache_dir=sys.argv[2])
print(len(fs.tracks), fs.samples("mfcc")[0].shape, fs.samples("image")[0].shape, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

NAIVE = """
import resource, sys
import numpy as np
from gtzan_core.audio import load_audio
from gtzan_core.data import discover_dataset
from gtzan_core.features import mfcc_segments, spectrogram_input
ds = discover_dataset(sys.argv[1])
audio = [load_audio(p, max_seconds=30) for p in ds.tracks.audio_path]   # everything in memory first
mfcc = np.concatenate([mfcc_segments(y) for y in audio])
images = np.stack([spectrogram_input(y) for y in audio])
print(len(audio), mfcc.shape, images.shape, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def run(code, *argv):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env, check=True)
    n, *_, rss_kib = out.stdout.split()
    return out.stdout.strip(), int(rss_kib) / 1024  # MiB


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tracks", type=int, default=1000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    try:
        src = synth_tracks(work / "src", 50)
        files = sorted((src / "genres_original").rglob("*.wav"))
        dst = work / "data" / "genres_original"
        for k in range(args.tracks):
            f = files[k % len(files)]
            genre = f.parent.name
            target = dst / genre / f"{genre}.{k:05d}.wav"
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(f, target)
        print(f"machine: {machine()}")
        print(f"tracks: {args.tracks} x 30 s (audio as float32 would be {args.tracks * 661500 * 4 / 2**30:.2f} GiB)")
        out, ours = run(OURS, str(work / "data"), str(work / "cache"))
        print(f"ours  (streamed): peak RSS {ours:7.0f} MiB   [{out}]")
        out, naive = run(NAIVE, str(work / "data"))
        print(f"naive (all audio in memory): peak RSS {naive:7.0f} MiB   [{out}]")
        print(f"ratio: {naive / ours:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
