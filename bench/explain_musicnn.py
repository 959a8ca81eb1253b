"""musicnn's occlusion explanation, before and after the front end's reduce-then-normalise
(:class:`gtzan_core.models.musicnn._FrontEndConv`): the starter musicnn run on the first
``--seconds`` of a real GTZAN clip, the two front ends taking turns (``--rounds``) so a
busy machine slows both alike; the maps must agree.

    python bench/explain_musicnn.py [--seconds 9] [--rounds 2]

Needs the musicnn weights (``python -m gtzan_core weights --fetch musicnn``) and
``../shared/data/gtzan-real`` beside the checkout."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CLIP = ROOT.parent / "shared" / "data" / "gtzan-real" / "genres_original" / "pop" / "pop.00010.wav"


def before(self, x):  # the front end as it was: ReLU and batch norm over the whole (B, filters, T, F) map
    x = F.pad(x, (0, 0, *self.pad_time))
    return self.bn(F.relu(self.conv(x))).amax(dim=3)


def main() -> int:
    from gtzan_core.audio import decode_audio
    from gtzan_core.explain import explain
    from gtzan_core.models.musicnn import _FrontEndConv
    from gtzan_core.runs import RunStore

    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=9.0)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    if not CLIP.is_file():
        print(f"no clip at {CLIP}")
        return 1
    store_dir = Path(tempfile.mkdtemp())
    shutil.copytree(ROOT / "checkpoints" / "starter-gtzan-musicnn", store_dir / "starter-gtzan-musicnn")
    store = RunStore(store_dir)
    y = decode_audio(CLIP).first(args.seconds).at(22050)
    after = _FrontEndConv.forward
    times: dict[str, list[float]] = {"before": [], "after": []}
    maps = {}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.seconds:g} s of {CLIP.name}")
    for _ in range(args.rounds):
        for name, forward in (("before", before), ("after", after)):
            _FrontEndConv.forward = forward
            t0 = time.perf_counter()
            ex = explain(y, "starter-gtzan-musicnn", store, methods=("occlusion",))
            times[name].append(time.perf_counter() - t0)
            maps[name] = ex.maps["occlusion"].values
            print(f"{name}: {times[name][-1]:.1f} s", flush=True)
    _FrontEndConv.forward = after
    diff = float(np.abs(maps["before"] - maps["after"]).max())
    print(f"best of {args.rounds}: before {min(times['before']):.1f} s, after {min(times['after']):.1f} s "
          f"({min(times['before']) / min(times['after']):.2f}x); largest map difference {diff:.2e}")
    shutil.rmtree(store_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
