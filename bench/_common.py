"""Helpers shared by the benchmarks (run them from the repository root: python bench/X.py)."""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def machine() -> str:
    import torch

    dev = f"cuda {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "no GPU"
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {dev}, "
            f"torch {torch.__version__}, python {platform.python_version()}")


def sync() -> None:
    """Wait for queued GPU work, so a wall-clock time covers it (no-op without CUDA)."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def timed(fn, repeats: int = 3, warmup: int = 0) -> tuple[float, list[float]]:
    """Median wall time of ``fn()`` over ``repeats`` runs (after ``warmup`` runs),
    GPU work included (synchronised before and after each run)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def synth_tracks(folder: Path, n: int, seconds: float = 30.0, seed: int = 0) -> Path:
    """``n`` synthetic tracks in GTZAN layout (cycling through the genres); reused if present."""
    from gtzan_core import GENRES
    from gtzan_core.data.synth import synth_track
    import soundfile as sf

    root = folder / "genres_original"
    for k in range(n):
        g = GENRES[k % len(GENRES)]
        path = root / g / f"{g}.{k // len(GENRES):05d}.wav"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, synth_track(g, seconds, seed, k), 22050, subtype="PCM_16")
    return folder
