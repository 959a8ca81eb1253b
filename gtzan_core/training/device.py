"""Where training runs: device choice, the cross-process GPU slot, mixed precision
(which models train in full float32 is their spec's: ``ModelSpec.amp``)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

import torch

from .. import settings
from ..errors import ConfigError


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' requested but no CUDA GPU is available")
    try:
        return torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}; use auto, cpu, cuda or mps") from None


def device_label(device: torch.device) -> str:
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(device)})"
    return device.type


@contextlib.contextmanager
def device_slot(device: torch.device, cancel: threading.Event | None = None, on_wait: Callable | None = None,
                per_device: int | None = None):
    """One of a CUDA device's ``per_device`` training slots (default
    ``GTZAN_STUDIO_JOBS_PER_GPU``, 1), across processes (the app's jobs, CLI runs,
    other servers on the machine): file locks under the studio home (see
    :mod:`.gpu_slots`). Yields the slot number; CPU and MPS runs pass straight
    through (``None``). ``on_wait`` is called once if every slot is busy; a set
    ``cancel`` flag ends the wait (InterruptedError)."""
    if device.type != "cuda" or settings.get("GTZAN_STUDIO_GPU_SLOTS") == "ray":
        yield None  # (on a Ray worker, Ray has placed the job: its share of the GPU it was given)
        return
    from .gpu_slots import gpu_slot, jobs_per_gpu

    index = (device.index if device.index is not None
             else torch.cuda.current_device() if torch.cuda.is_available() else 0)
    with gpu_slot(index, per_device or jobs_per_gpu(), should_stop=lambda: cancel is not None and cancel.is_set(),
                  on_wait=on_wait) as slot:
        yield slot


def autocast(device: torch.device, amp: bool = True):
    """bf16 autocast on CUDA (mixed precision); a no-op elsewhere or when ``amp`` is off."""
    if device.type == "cuda" and amp:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's generators."""
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
