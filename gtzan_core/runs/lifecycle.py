"""The one owner of a run's life: the only code that writes a run's ``status``,
``phase``, ``finished`` time and ``error``.

::

    create ──> queued ──start──> running ──finish──> finished
                  │                 │  ├───cancel──> cancelled  (best checkpoint kept)
                  │                 │  └───prune───> pruned     (a search's trial its pruner stopped)
                  │                 └──────fail────> failed     (with the error)
                  ├──cancel (never started)──> cancelled
                  └──fail (could not be resumed, or created by a process that died)──> failed
    reap: a running run whose process died (same host, PID gone) or that gave no
          sign of life for STALE_AFTER seconds -> failed

Every move of a status is checked against :data:`TRANSITIONS` (:func:`transition`),
and phases move only while a run is running (:func:`set_phase`); the store offers the
lifecycle one locked read-modify-write (:meth:`~.store.RunStore.write_life`) and keeps
its internals to itself. ``queued`` means "in a job queue" and nothing else; what a
running run is doing is its phase (:data:`~.record.PHASES`). Every end sets phase ``done`` and the finish
time. Reaping is explicit (:func:`reap`, :func:`reap_dead`): reading a record never
changes it. The trainer never calls this module: it reports to a sink
(:class:`~.sink.StoreSink`), which does.
"""

from __future__ import annotations

import socket
import time

from ..errors import DiskFullError, StudioError
from .record import ENDED, PHASES, RunRecord, Status
from .store import STALE_AFTER, RunStore, pid_alive

#: The legal moves of a run's status (None: before the run exists). Every write of a
#: status goes through :func:`transition`, which refuses any other move.
TRANSITIONS: dict[Status | None, frozenset[Status]] = {
    None: frozenset({Status.QUEUED}),
    Status.QUEUED: frozenset({Status.RUNNING, Status.CANCELLED, Status.FAILED}),
    Status.RUNNING: frozenset({Status.FINISHED, Status.CANCELLED, Status.FAILED, Status.PRUNED}),
    Status.FINISHED: frozenset(),
    Status.CANCELLED: frozenset(),
    Status.FAILED: frozenset(),
    Status.PRUNED: frozenset(),
}
#: The phases a running run moves through (``queued`` and ``done`` come with its status).
RUNNING_PHASES = tuple(p for p in PHASES if p not in ("queued", "done"))


class IllegalTransition(StudioError):
    """A move of a run's status that :data:`TRANSITIONS` does not allow."""


def _check_phase(phase: str) -> str:
    if phase not in RUNNING_PHASES:
        raise ValueError(f"unknown phase {phase!r}; a running run's phases are {', '.join(RUNNING_PHASES)}")
    return phase


def _status_of(run_id: str, record: RunRecord) -> Status:
    try:
        return Status(record.get("status"))
    except ValueError:
        raise IllegalTransition(f"run {run_id} has no known status ({record.get('status')!r})") from None


def transition(store: RunStore, run_id: str, to: Status, compact: bool = False, **fields) -> RunRecord:
    """Move run ``run_id`` to status ``to`` (``fields`` recorded with it), checked under the
    run's lock against :data:`TRANSITIONS`: any other move raises
    :class:`IllegalTransition` and writes nothing. Returns the record as it now is."""
    to = Status(to)

    def change(record: RunRecord) -> dict:
        now = _status_of(run_id, record)
        if to not in TRANSITIONS[now]:
            raise IllegalTransition(f"run {run_id} is {now}; it cannot become {to}")
        return {**fields, "status": to.value}

    return store.write_life(run_id, change, compact=compact)


def create(store: RunStore, record: RunRecord | dict) -> str:
    """A new run, queued (in a job queue, or about to start in this process); its id.
    ``record``: what the run says of itself (:func:`gtzan_core.jobs.describe_job`)."""
    return store.new_run(RunRecord.of(record).updated(status=Status.QUEUED.value, phase="queued"))


def start(store: RunStore, run_id: str, phase: str = "features", **fields) -> RunRecord:
    """The run leaves the queue: running, in ``phase``."""
    return transition(store, run_id, Status.RUNNING, **{**fields, "phase": _check_phase(phase)})


def set_phase(store: RunStore, run_id: str, phase: str, **fields) -> RunRecord:
    """A running run moves on to ``phase`` (``fields`` recorded with it); a run that is
    not running has no phase to move to (:class:`IllegalTransition`)."""
    _check_phase(phase)

    def change(record: RunRecord) -> dict:
        now = _status_of(run_id, record)
        if now is not Status.RUNNING:
            raise IllegalTransition(f"run {run_id} is {now}; only a running run moves on to {phase!r}")
        return {**fields, "phase": phase}

    return store.write_life(run_id, change)


def finish(store: RunStore, run_id: str, **fields) -> RunRecord:
    """The run ended normally (its epochs, or early stopping): finished."""
    return _end(store, run_id, Status.FINISHED, fields)


def cancel(store: RunStore, run_id: str, why: str | None = None, **fields) -> RunRecord:
    """The run was stopped: cancelled, its best checkpoint (if any) kept. ``why`` is
    recorded as its ``error`` when it never got an evaluation (stopped while queued,
    or before its first epoch ended)."""
    if why:
        fields["error"] = why
    return _end(store, run_id, Status.CANCELLED, fields)


def prune(store: RunStore, run_id: str, why: str, **fields) -> RunRecord:
    """A search's trial that its pruner stopped on its validation curve: pruned, with
    ``why`` (its best checkpoint kept; never evaluated on the test set)."""
    return _end(store, run_id, Status.PRUNED, {**fields, "pruned": why})


def fail(store: RunStore, run_id: str, error: str, **fields) -> RunRecord:
    """The run failed with ``error``, even on a full disk: the usual atomic update
    first; without space for it the record is rewritten in place, compact (its old
    blocks reused); should even that not fit, the old record stays whole and
    :class:`DiskFullError` is raised."""
    fields = {**fields, "error": error}
    try:
        return _end(store, run_id, Status.FAILED, fields)
    except DiskFullError:
        return _end(store, run_id, Status.FAILED, fields, compact=True)


def _end(store: RunStore, run_id: str, status: Status, fields: dict, compact: bool = False) -> RunRecord:
    return transition(store, run_id, status, compact=compact, **{**fields, "phase": "done", "finished": time.time()})


def ended(record: RunRecord) -> bool:
    return record.get("status") in ENDED


# -- runs whose process died ------------------------------------------------------

def in_a_queue(record: RunRecord) -> bool:
    """Whether a queued run was queued by a job manager (which records itself as its
    ``queue_owner``, None once handed back) with what a new manager needs to resume it,
    rather than created by a process that trains it at once (the CLI, a reproduction)."""
    return "queue_owner" in record and isinstance(record.get("job"), dict)


def _can_die(record: RunRecord) -> bool:
    """Running runs die with their process; so do queued ones that no queue holds (a CLI
    run created just before its process died, records of older studios). A queued job
    of a dead server stays queued: the next job manager on the store takes it over."""
    return record.get("status") == Status.RUNNING.value or (
        record.get("status") == Status.QUEUED.value and not in_a_queue(record))


def death_reason(record: RunRecord, now: float | None = None) -> str | None:
    """Why ``record``'s run is dead, or None while it may be alive."""
    if not _can_die(record):
        return None
    if record.get("host") == socket.gethostname() and record.get("pid") and not pid_alive(int(record["pid"])):
        return "the training process died (killed or crashed); the best checkpoint so far is kept"
    if (now or time.time()) - float(record.get("heartbeat", 0)) > STALE_AFTER:
        return f"no sign of life for over {STALE_AFTER / 60:.0f} minutes"
    return None


def reap(store: RunStore, record: RunRecord) -> RunRecord:
    """``record`` (as read), its run marked failed when its process died; checked
    again under the run's lock so a run that just ended is never overwritten."""
    if death_reason(record) is None:
        return record

    def change(fresh: RunRecord) -> dict | None:
        reason = death_reason(fresh)
        if reason is None:
            return None
        assert Status.FAILED in TRANSITIONS[_status_of(record["run_id"], fresh)]  # (only active runs can die)
        return {"status": Status.FAILED.value, "phase": "done", "error": reason, "finished": time.time()}

    try:
        return store.write_life(record["run_id"], change)  # running -> failed, or queued (in no queue) -> failed
    except OSError:  # a read-only or vanished store: report it as read
        return record


def reap_dead(store: RunStore) -> list[RunRecord]:
    """Every record of ``store``, newest first, with dead runs marked failed."""
    return [reap(store, r) for r in store.list()]
