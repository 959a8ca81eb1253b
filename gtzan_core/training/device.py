"""Where training runs: device choice, the cross-process GPU slot, mixed precision."""

from __future__ import annotations

import contextlib
import threading
from typing import Callable

import torch

from ..errors import ConfigError

#: Models trained in full float32 even on CUDA: cuDNN's recurrent kernels are the
#: part of the stack least likely to support bf16 everywhere.
NO_AMP = {"lstm", "gru"}


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
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


@contextlib.contextmanager
def device_slot(device: torch.device, cancel: threading.Event | None = None, on_wait: Callable | None = None):
    """Exclusive use of a GPU across processes (the app's jobs, CLI runs, other
    servers on the same machine): a file lock per CUDA device under the studio
    home. CPU and MPS runs pass straight through. ``on_wait`` is called once if
    the slot is busy; a set ``cancel`` flag ends the wait (InterruptedError)."""
    if device.type != "cuda":
        yield
        return
    from ..locks import file_lock
    from ..paths import studio_home

    index = device.index if device.index is not None else torch.cuda.current_device() if torch.cuda.is_available() else 0
    path = studio_home() / "locks" / f"cuda-{index}.lock"
    waited = []

    def should_stop() -> bool:
        if not waited:
            waited.append(True)
            if on_wait:
                on_wait()
        return cancel is not None and cancel.is_set()

    with file_lock(path, poll=0.2, should_stop=should_stop):
        yield


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
