"""The run store's trash: a deleted run is moved, not removed.

:func:`move_to_trash` renames the run's folder to ``<root>/.trash/<run_id>@<ms>``
(the same volume, so one rename: nothing is copied, nothing half-written) with a
``trashed.json`` inside that says who deleted it and when. A trashed run is out of
every list and cannot be used, until :func:`restore_run` renames it back; it is purged
(removed for good) by the admin, or by :func:`purge_expired` after
``GTZAN_STUDIO_TRASH_DAYS`` days (default 7). Restore, purge and delete are written
to the audit log.

A full disk never leaves a run half-moved: delete, restore and purge either complete
(their audit entry included) or leave the run where it was, log the failure and raise
:class:`~gtzan_core.errors.DiskFullError`. ``trashed.json`` only says who and when: an
entry without it (its write failed, or it was lost) is restored all the same.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from ..audit import audit, disk_full_reported
from ..errors import CheckpointError, DiskFullError
from ..fileio import atomic_write_json
from ..locks import file_lock
from .record import ACTIVE, RecordError, RunRecord, record_problems

TRASH_DIR = ".trash"
META = "trashed.json"
DEFAULT_TRASH_DAYS = 7.0


def trash_days(env=None) -> float:
    """``GTZAN_STUDIO_TRASH_DAYS`` (default 7; 0 purges at the next look)."""
    from .. import settings

    return settings.get("GTZAN_STUDIO_TRASH_DAYS", env)


@dataclass(frozen=True)
class TrashEntry:
    entry: str  # the folder name in the trash: <run_id>@<ms>
    run_id: str
    trashed_at: float
    by: str | None
    owner: str | None
    record: dict | None  # None: the entry is damaged (its record is missing or unreadable)
    problem: str | None = None

    def as_dict(self) -> dict:
        r = self.record or {}
        return {"entry": self.entry, "run_id": self.run_id, "trashed": True, "trashed_at": self.trashed_at,
                "by": self.by, "owner": self.owner, "model": r.get("model"), "status": r.get("status"),
                "problem": self.problem}


def trash_root(store) -> Path:
    return store.root / TRASH_DIR


def _lock(store):
    return file_lock(store.root / ".trash.lock")


def move_to_trash(store, run_id: str, who: str | None = None) -> TrashEntry:
    """Move run ``run_id`` of ``store`` to its trash (the run must not be queued or running)."""
    src = store.path(run_id)
    if not src.is_dir():
        raise CheckpointError(f"no run {run_id!r} in {store.root}")
    if store.shipped(run_id):
        raise CheckpointError(f"run {run_id!r} is a starter that ships with the studio: it is not deleted (its "
                              "folder is the repository's)")
    try:
        record = store.read(run_id)
    except RecordError:  # a damaged run: trashed all the same (its owner, when it still names one, kept)
        record = None
        raw = store.stated_status(run_id)
        if raw in ACTIVE:
            raise CheckpointError(f"run {run_id!r} is {raw} (its record is damaged); stop it before deleting") \
                from None
    owner = record.get("owner") if record else store.owner_of(run_id)
    if record and RunRecord.of(record).active:
        raise CheckpointError(f"run {run_id!r} is {record['status']}; stop it before deleting")
    now = time.time()
    entry = f"{run_id}@{int(now * 1000)}"
    meta = {"run_id": run_id, "trashed_at": now, "by": who, "owner": owner}
    with disk_full_reported(store.root, who, "delete", run_id,
                            f"disk full: could not move run {run_id} to the trash (it is where it was)"), \
            _lock(store):
        dst = trash_root(store) / entry
        dst.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(src / META, meta)  # written first, inside the run: the rename carries it along
        try:
            os.rename(src, dst)  # same volume: atomic, nothing copied
            try:
                audit(store.root, who, "delete", run_id, to="trash", entry=entry)
            except BaseException:
                os.rename(dst, src)
                raise
        except BaseException:
            (src / META).unlink(missing_ok=True)
            raise
    return TrashEntry(entry, run_id, now, who, owner, record,
                      None if record else "record.json is damaged (deleted as a damaged run)")


def list_trash(store) -> list[TrashEntry]:
    """Everything in the trash, newest first; damaged entries too, with their problem."""
    root = trash_root(store)
    if not root.is_dir():
        return []
    out = []
    for d in root.iterdir():
        if not d.is_dir() or "@" not in d.name:
            continue
        run_id, _, stamp = d.name.rpartition("@")
        meta, record, problem = {}, None, None
        # who and when are then unknown; the record below is what a restore needs
        with contextlib.suppress(OSError, ValueError):
            meta = json.loads((d / META).read_text())
        if not isinstance(meta, dict):
            meta = {}
        try:
            record = json.loads((d / "record.json").read_bytes()) if (d / "record.json").is_file() else None
            if record is None:
                problem = "record.json is missing or unreadable"
            elif isinstance(record, dict) and record.get("run_id") not in (None, run_id):
                record, problem = None, "record.json does not belong to this run"
            elif (problems := record_problems(record, run_id)):
                record, problem = None, "record.json is not a valid record: " + "; ".join(problems)
        except (OSError, ValueError, RecursionError):
            record, problem = None, "record.json is missing or unreadable"
        try:
            at = float(meta.get("trashed_at", int(stamp) / 1000))
        except (TypeError, ValueError):
            at, problem = 0.0, problem or "the trash entry's name is damaged"
        out.append(TrashEntry(d.name, run_id, at, meta.get("by"), meta.get("owner", (record or {}).get("owner")),
                              record, problem))
    return sorted(out, key=lambda e: e.trashed_at, reverse=True)


def find_entry(store, name: str) -> TrashEntry:
    """A trash entry by its entry name, or the newest entry of a run id."""
    entries = list_trash(store)
    for e in entries:
        if e.entry == name:
            return e
    for e in entries:  # newest first
        if e.run_id == name:
            return e
    raise CheckpointError(f"nothing called {name!r} in the trash of {store.root}")


def restore_run(store, name: str, who: str | None) -> str:
    """Put a trashed run back where it was; returns its run id. Refused, with nothing
    changed, when the entry is damaged, a run of that id exists again or the disk is full."""
    entry = find_entry(store, name)
    if entry.problem:
        raise CheckpointError(f"trash entry {entry.entry} cannot be restored: {entry.problem}")
    dst = store.path(entry.run_id)
    with disk_full_reported(store.root, who, "restore", entry.run_id,
                            f"disk full: could not restore run {entry.run_id} (it stays in the trash; free "
                            "some space and try again)"), _lock(store):
        if dst.exists():
            raise CheckpointError(f"cannot restore {entry.run_id}: a run with that id exists again (imported or "
                                  "restored since); delete or export that one first")
        src = trash_root(store) / entry.entry
        os.rename(src, dst)
        try:
            audit(store.root, who, "restore", entry.run_id, entry=entry.entry)
        except BaseException:
            os.rename(dst, src)
            raise
        (dst / META).unlink(missing_ok=True)
    return entry.run_id


def purge_entry(store, name: str, who: str | None) -> str:
    """Remove a trash entry for good (damaged entries too); returns its run id. The
    entry is removed before its audit entry is written: a purge frees the space that
    line needs."""
    entry = find_entry(store, name)
    with disk_full_reported(store.root, who, "purge", entry.run_id,
                            f"disk full: could not purge {entry.entry} (it stays in the trash)"), _lock(store):
        shutil.rmtree(trash_root(store) / entry.entry)
    try:
        audit(store.root, who, "purge", entry.run_id, entry=entry.entry)
    except DiskFullError:
        raise DiskFullError(f"disk full: purged {entry.entry}, but its audit entry could not be written") from None
    return entry.run_id


def empty_trash(store, who: str | None) -> int:
    n = 0
    for e in list_trash(store):
        purge_entry(store, e.entry, who)
        n += 1
    return n


def purge_expired(store, days: float | None = None, now: float | None = None) -> list[str]:
    """Purge the entries trashed more than ``days`` ago (default ``GTZAN_STUDIO_TRASH_DAYS``)."""
    days = trash_days() if days is None else days
    now = time.time() if now is None else now
    gone = []
    for e in list_trash(store):
        if now - e.trashed_at > days * 86400:
            gone.append(purge_entry(store, e.entry, "trash expiry"))
    return gone


def usage_by_owner(store, trash: list | None = None) -> dict[str | None, int]:
    """Bytes on disk per owner: every file of their runs, damaged and trashed runs
    included (they take space until purged). ``trash``: the trash entries when the caller has read them."""
    out: dict[str | None, int] = {}
    records, damaged = store.scan()
    for run_id, owner in [(r["run_id"], r.get("owner")) for r in records] + [(d.run_id, d.owner) for d in damaged]:
        out[owner] = out.get(owner, 0) + store.folder_bytes(run_id)
    for e in list_trash(store) if trash is None else trash:
        folder = trash_root(store) / e.entry
        out[e.owner] = out.get(e.owner, 0) + sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    return out
