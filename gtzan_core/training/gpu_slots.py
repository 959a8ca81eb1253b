"""K training jobs per GPU, on every GPU.

The studio's models are tiny next to a data-centre GPU (45K-1M trainable
parameters; the image models train a head on cached backbone outputs), so one job
uses a sliver of it. ``GTZAN_STUDIO_JOBS_PER_GPU`` (default 1) lets K jobs share a
device; jobs spread over every visible GPU.

Two layers keep the count honest:

* :class:`DeviceAllocator`, inside one job manager: a job that starts is given the
  least-busy device with a free slot (never more than K per device);
* :func:`gpu_slot`, across processes (the app, CLI runs, other servers on the
  machine): K file locks per CUDA device under the studio home; a trainer holds one
  of them for its whole run and waits while all K are taken.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

DEFAULT_JOBS_PER_GPU = 1


def jobs_per_gpu(env=None) -> int:
    """``GTZAN_STUDIO_JOBS_PER_GPU`` (default 1)."""
    from .. import settings

    return settings.get("GTZAN_STUDIO_JOBS_PER_GPU", env)


def visible_gpus() -> list[str]:
    """``cuda:0``, ``cuda:1``, ... for every GPU torch sees (empty on a CPU machine)."""
    import torch

    return [f"cuda:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []


class DeviceAllocator:
    """Hands out (device, slot) pairs: at most ``per_device`` at once on each device,
    the least-busy device first (ties: the lowest index), the lowest free slot."""

    def __init__(self, devices: list[str], per_device: int):
        if per_device < 1:
            raise ValueError("per_device must be at least 1")
        self.devices, self.per_device = list(devices), per_device
        self._taken: dict[str, set[int]] = {d: set() for d in self.devices}
        self._lock = threading.Lock()

    @property
    def capacity(self) -> int:
        return len(self.devices) * self.per_device

    def acquire(self) -> tuple[str, int] | None:
        """A free (device, slot), or None when every device is full."""
        with self._lock:
            free = [d for d in self.devices if len(self._taken[d]) < self.per_device]
            if not free:
                return None
            device = min(free, key=lambda d: (len(self._taken[d]), self.devices.index(d)))
            slot = min(set(range(self.per_device)) - self._taken[device])
            self._taken[device].add(slot)
            return device, slot

    def release(self, device: str, slot: int) -> None:
        with self._lock:
            self._taken[device].discard(slot)

    def in_use(self) -> dict[str, int]:
        with self._lock:
            return {d: len(s) for d, s in self._taken.items()}


@contextlib.contextmanager
def gpu_slot(index: int, per_device: int, should_stop: Callable[[], bool] | None = None,
             on_wait: Callable | None = None, poll: float = 0.2) -> Iterator[int]:
    """Hold one of the ``per_device`` cross-process slots of CUDA device ``index`` for
    the ``with`` block; yields the slot number. Waits (calling ``on_wait`` once) while
    all are taken; ``should_stop()`` returning True ends the wait with InterruptedError."""
    from ..locks import try_file_lock
    from ..paths import studio_home

    folder = studio_home() / "locks"
    waited = False
    while True:
        for slot in range(per_device):
            held = try_file_lock(folder / f"cuda-{index}-slot-{slot}.lock")
            if held is not None:
                try:
                    yield slot
                finally:
                    held.release()
                return
        if not waited:
            waited = True
            if on_wait:
                on_wait()
        if should_stop is not None and should_stop():
            raise InterruptedError(f"stopped while waiting for a slot on cuda:{index}")
        time.sleep(poll)
