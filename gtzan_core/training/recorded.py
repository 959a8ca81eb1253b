"""Training recorded in the run store: the entry point of the CLI, the app's job
manager, the Ray workers and reproductions.

It wires the trainer (which reports to a sink and knows no store) to the store's
sink, and it is the caller that waits for a GPU slot: the run is created first (so
the wait shows, as phase "waiting for the GPU"), then holds one of the device's K
training slots (:mod:`.gpu_slots`) for as long as it trains.
"""

from __future__ import annotations

import threading
from typing import Callable

from ..errors import StudioError
from ..feature_cache import FeatureSet
from ..hparams import TrainConfig
from ..runs import RunStore
from ..runs.sink import StoreSink
from . import trainer
from .device import device_slot, resolve_device
from .loop import EpochLog


def train(config: TrainConfig, features: FeatureSet, store: RunStore | None = None,
          on_epoch: Callable[[EpochLog], None] | None = None, cancel: threading.Event | None = None,
          progress: Callable | None = None, run_id: str | None = None, dataset_info: dict | None = None,
          extra: dict | None = None) -> dict:
    """Train ``config.model`` on ``features`` and record the run in ``store`` (default:
    the studio's); returns its final record. ``run_id``: an existing (queued) run to
    record into; None creates one. ``extra``: more fields for the record. The status
    ends finished, cancelled (best checkpoint kept) or failed (with the error, raised)."""
    config.validate()
    sink = StoreSink(store or RunStore(), run_id)
    cancel = cancel or threading.Event()
    sink.begin(trainer.describe_run(config, features, dataset_info, extra))
    try:
        device = resolve_device(config.device)
        with device_slot(device, cancel, on_wait=lambda: sink.waiting("waiting for the GPU")) as slot:
            if slot is not None:  # which of the device's K training slots this run holds
                sink.note(gpu_slot={"device": str(device), "slot": slot})
            return trainer.train(config, features, sink, on_epoch, cancel, progress, dataset_info, extra, device)
    except InterruptedError:  # stopped while waiting for the GPU
        return sink.cancelled("stopped while waiting for the GPU; never started")
    except StudioError as exc:
        if sink.record().get("status") != "failed":  # (the trainer has recorded its own failures)
            sink.failed(str(exc))
        raise
