"""What a training run reports, written to the run store.

The trainer (:mod:`gtzan_core.training.trainer`) knows nothing of the store: it
reports its start, each epoch, each best checkpoint and its end to a *sink*.
:class:`StoreSink` is the store's sink: it turns those reports into record fields,
checkpoint files and, through :mod:`.lifecycle`, the run's status and phase.
"""

from __future__ import annotations

from . import lifecycle
from .store import RunStore


class StoreSink:
    """Records one run in ``store`` (``run_id``: an existing run, e.g. a queued job's;
    None: a new run is created at :meth:`begin`)."""

    def __init__(self, store: RunStore, run_id: str | None = None):
        self.store, self.run_id = store, run_id

    def begin(self, fields: dict) -> str:
        """The run's description (model, config, protocol, data...): recorded; its id."""
        if self.run_id is None:
            self.run_id = lifecycle.create(self.store, fields)
        else:
            self.store.update(self.run_id, **fields)
        return self.run_id

    def waiting(self, what: str) -> None:
        """The run waits for a device (a GPU slot)."""
        lifecycle.start(self.store, self.run_id, phase=what)

    def phase(self, phase: str, **fields) -> None:
        lifecycle.start(self.store, self.run_id, phase=phase, **fields)

    def note(self, **fields) -> None:
        """Facts about the run on the way (its device slot, world size, progress)."""
        self.store.update(self.run_id, **fields)

    def epoch(self, **fields) -> None:
        """An epoch ended: history, epochs run, the best so far."""
        self.store.update(self.run_id, **fields)

    def checkpoint(self, state_dict: dict, meta: dict) -> None:
        """A new best model (written atomically: a stop or a crash keeps the last one)."""
        self.store.save_checkpoint(self.run_id, state_dict, meta)

    def finished(self, **fields) -> dict:
        return lifecycle.finish(self.store, self.run_id, **fields)

    def cancelled(self, why: str | None = None, **fields) -> dict:
        return lifecycle.cancel(self.store, self.run_id, why, **fields)

    def failed(self, error: str, **fields) -> dict:
        return lifecycle.fail(self.store, self.run_id, error, **fields)

    def record(self) -> dict:
        return self.store.read(self.run_id)
