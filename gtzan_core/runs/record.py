"""The vocabulary of a run record (``record.json``): its statuses and phases, and a
typed view of the fields every part of the studio reads.

A run's **status** says where it is in its life (set only by
:mod:`.lifecycle`): ``queued`` (in a job queue, nothing done yet), ``running``,
then ``finished``, ``cancelled`` (stopped; its best checkpoint is kept) or
``failed`` (with an ``error``). Its **phase** says what a running run is doing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Status(str, Enum):
    """A run's status; a ``str`` so that records stay plain JSON (``Status.RUNNING == "running"``)."""

    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    FAILED = "failed"

    def __str__(self) -> str:  # "running", not "Status.RUNNING", in f-strings and JSON keys
        return self.value

    @property
    def active(self) -> bool:
        return self in (Status.QUEUED, Status.RUNNING)


ACTIVE = (Status.QUEUED.value, Status.RUNNING.value)
ENDED = (Status.FINISHED.value, Status.CANCELLED.value, Status.FAILED.value)

#: What a run is doing, in order: queued in a job queue; waiting for a GPU slot or for
#: room on a Ray cluster; extracting features (its ``progress`` counts tracks); one
#: pass of a frozen backbone (``progress`` counts inputs); the epochs; the test set;
#: done (whatever the status).
PHASES = ("queued", "waiting for the GPU", "waiting for room on the Ray cluster", "features", "backbone pass",
          "training", "evaluating", "done")


@dataclass(frozen=True)
class RunRecord:
    """A typed, read-only view of a record dict (the dict stays the stored form)."""

    data: dict

    def get(self, key, default=None):
        return self.data.get(key, default)

    @property
    def run_id(self) -> str:
        return self.data["run_id"]

    @property
    def status(self) -> Status | None:
        try:
            return Status(self.data.get("status"))
        except ValueError:
            return None

    @property
    def phase(self) -> str | None:
        return self.data.get("phase")

    @property
    def model(self) -> str | None:
        return self.data.get("model")

    @property
    def title(self) -> str:
        return self.data.get("title") or self.data.get("model") or "?"

    @property
    def owner(self) -> str | None:
        return self.data.get("owner")

    @property
    def config(self) -> dict:
        return self.data.get("config") or {}

    @property
    def dataset(self) -> dict:
        return self.data.get("dataset") or {}

    @property
    def dataset_label(self) -> str | None:
        return self.dataset.get("label")

    @property
    def history(self) -> list[dict]:
        return self.data.get("history") or []

    def metrics(self, level: str = "track") -> dict:
        """The test metrics at ``level`` ("segment": per sample, "track"), or {}."""
        return (self.data.get("evaluation") or {}).get(level) or {}

    @property
    def evaluated(self) -> bool:
        return bool(self.data.get("evaluation"))

    @property
    def started(self) -> bool:
        """Whether it trained at all (an epoch, or an evaluation): a job stopped or failed
        before that is a job, never a run to compare."""
        return bool(self.history or self.evaluated)

    @property
    def split_warnings(self) -> list[str]:
        return self.data.get("split_warnings") or []
