"""The one owner of a run's life: the only code that writes a run's ``status``,
``phase``, ``finished`` time and ``error``.

::

    create ──> queued ──start──> running ──finish──> finished
                  │                 │  └───cancel──> cancelled  (best checkpoint kept)
                  │                 └──────fail────> failed     (with the error)
                  └──cancel (never started)──> cancelled
    reap: a running run whose process died (same host, PID gone) or that gave no
          sign of life for STALE_AFTER seconds -> failed

``queued`` means "in a job queue" and nothing else; what a running run is doing is
its phase (:data:`~.record.PHASES`). Every end sets phase ``done`` and the finish
time. Reaping is explicit (:func:`reap`, :func:`reap_dead`): reading a record never
changes it. The trainer never calls this module: it reports to a sink
(:class:`~.sink.StoreSink`), which does.
"""

from __future__ import annotations

import socket
import time

from ..errors import DiskFullError
from .record import ENDED, PHASES, Status
from .store import STALE_AFTER, RunStore, pid_alive


def _check_phase(phase: str) -> str:
    if phase not in PHASES:
        raise ValueError(f"unknown phase {phase!r}; a run's phases are {', '.join(PHASES)}")
    return phase


def create(store: RunStore, record: dict) -> str:
    """A new run, queued (in a job queue, or about to start in this process); its id."""
    return store.new_run({**record, "status": Status.QUEUED.value, "phase": "queued"})


def start(store: RunStore, run_id: str, phase: str = "features", **fields) -> dict:
    """The run leaves the queue: running, in ``phase``."""
    return store._write_fields(run_id, {**fields, "status": Status.RUNNING.value, "phase": _check_phase(phase)})


def set_phase(store: RunStore, run_id: str, phase: str, **fields) -> dict:
    """A running run moves on to ``phase`` (``fields`` recorded with it)."""
    return store._write_fields(run_id, {**fields, "phase": _check_phase(phase)})


def finish(store: RunStore, run_id: str, **fields) -> dict:
    """The run ended normally (its epochs, or early stopping): finished."""
    return _end(store, run_id, Status.FINISHED, fields)


def cancel(store: RunStore, run_id: str, why: str | None = None, **fields) -> dict:
    """The run was stopped: cancelled, its best checkpoint (if any) kept. ``why`` is
    recorded as its ``error`` when it never got an evaluation (stopped while queued,
    or before its first epoch ended)."""
    if why:
        fields["error"] = why
    return _end(store, run_id, Status.CANCELLED, fields)


def fail(store: RunStore, run_id: str, error: str, **fields) -> dict:
    """The run failed with ``error``, even on a full disk: the usual atomic update
    first; without space for it the record is rewritten in place, compact (its old
    blocks reused); should even that not fit, the old record stays whole and
    :class:`DiskFullError` is raised."""
    update = {**fields, "status": Status.FAILED.value, "phase": "done", "error": error, "finished": time.time()}
    try:
        return store._write_fields(run_id, update)
    except DiskFullError:
        return store.rewrite_compact(run_id, update)


def _end(store: RunStore, run_id: str, status: Status, fields: dict) -> dict:
    return store._write_fields(run_id, {**fields, "status": status.value, "phase": "done", "finished": time.time()})


def ended(record: dict) -> bool:
    return record.get("status") in ENDED


# -- runs whose process died ------------------------------------------------------

def _can_die(record: dict) -> bool:
    """Running runs die with their process; so do queued ones recorded without what a
    new server needs to resume them (records of older studios). A queued job of a dead
    server stays queued: the next job manager on the store takes it over."""
    return record.get("status") == Status.RUNNING.value or (
        record.get("status") == Status.QUEUED.value and not isinstance(record.get("job"), dict))


def death_reason(record: dict, now: float | None = None) -> str | None:
    """Why ``record``'s run is dead, or None while it may be alive."""
    if not _can_die(record):
        return None
    if record.get("host") == socket.gethostname() and record.get("pid"):
        if not pid_alive(int(record["pid"])):
            return "the training process died (killed or crashed); the best checkpoint so far is kept"
    if (now or time.time()) - float(record.get("heartbeat", 0)) > STALE_AFTER:
        return f"no sign of life for over {STALE_AFTER / 60:.0f} minutes"
    return None


def reap(store: RunStore, record: dict) -> dict:
    """``record`` (as read), its run marked failed when its process died; checked
    again under the run's lock so a run that just ended is never overwritten."""
    if death_reason(record) is None:
        return record
    try:
        with store._lock(record["run_id"]):
            fresh = store._read_raw(record["run_id"])
            reason = death_reason(fresh)
            if reason is None:
                return fresh
            fresh.update(status=Status.FAILED.value, phase="done", error=reason, finished=time.time())
            store.write_record(record["run_id"], fresh)
            return fresh
    except OSError:  # a read-only or vanished store: report it as read
        return record


def reap_dead(store: RunStore) -> list[dict]:
    """Every record of ``store``, newest first, with dead runs marked failed."""
    return [reap(store, r) for r in store.list()]
