"""What a training run reports on the way, written to the run store.

The trainer (:mod:`gtzan_core.training.trainer`) knows nothing of the store: it
reports its phases, facts, each epoch and each best checkpoint to a *sink*.
:class:`StoreSink` is the store's sink: it turns those reports into record fields,
checkpoint files and, through :mod:`.lifecycle`, the running run's phase. How the
run ends is not a report: :func:`gtzan_core.jobs.recorded.conclude` records it.
"""

from __future__ import annotations

from . import lifecycle
from .store import RunStore


class StoreSink:
    """Records what the running run ``run_id`` of ``store`` reports."""

    def __init__(self, store: RunStore, run_id: str):
        self.store, self.run_id = store, run_id

    def phase(self, phase: str, **fields) -> None:
        """The running run moves on to ``phase`` (``fields`` recorded with it)."""
        lifecycle.set_phase(self.store, self.run_id, phase, **fields)

    def note(self, **fields) -> None:
        """Facts about the run on the way (its device slot, world size, progress)."""
        self.store.update(self.run_id, **fields)

    def epoch(self, **fields) -> None:
        """An epoch ended: history, epochs run, the best so far."""
        self.store.update(self.run_id, **fields)

    def checkpoint(self, state_dict: dict, meta: dict) -> None:
        """A new best model (written atomically: a stop or a crash keeps the last one)."""
        self.store.save_checkpoint(self.run_id, state_dict, meta)
