"""The run store: one folder per training run under ``checkpoints/``.

``<root>/<run_id>/record.json`` holds everything about the run (model, settings,
protocol, dataset, feature parameters, device, history, status, evaluation);
``<root>/<run_id>/model.pt`` the best weights so far. Both are written to a
temporary file and renamed into place (:mod:`gtzan_core.fileio`), so a reader or a
crash never sees half a file. Checkpoints hold tensors and plain data only and are
read with ``torch.load(..., weights_only=True)``: no pickled object is ever executed.

The store reads and writes; it decides nothing. Reads have no side effects; the
fields of a run's life (status, phase, finish time, error) are written by
:mod:`.lifecycle` alone (:meth:`RunStore.update` refuses them), which also reaps
runs whose process died.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import time
import zipfile
from pathlib import Path

from ..audit import AUDIT_FILE, disk_full_reported
from ..errors import CheckpointError, DiskFullError
from ..fileio import atomic_write_bytes, atomic_write_json, json_default
from ..locks import file_lock
from ..paths import runs_dir

CHECKPOINT_FORMAT = 1
#: A running run without a sign of life (record updates) for this long is dead.
STALE_AFTER = 3600.0
STOP_FLAG = "stop-requested"
#: The fields of a run's life: written only through :mod:`.lifecycle`.
LIFECYCLE_FIELDS = frozenset({"status", "phase", "finished", "error"})
# A run id starts with a letter or digit, so it is never one of the hidden names the store keeps
# beside its runs (.trash/, .import-* staging folders, .audit.lock, .trash.lock); the store's other
# own names are reserved outright (compared case-insensitively: a case-insensitive disk has one file
# for AUDIT.JSONL and audit.jsonl).
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,120}$")
RESERVED_NAMES = {AUDIT_FILE.casefold(): "audit log"}


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunStore:
    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root else runs_dir()

    # -- paths -------------------------------------------------------------
    def path(self, run_id: str) -> Path:
        """The folder of ``run_id``; refuses ids that could point outside the store or
        name one of the store's own files and folders (:func:`check_run_id`)."""
        return self.root / check_run_id(run_id)

    # -- records -----------------------------------------------------------
    def new_run(self, record: dict) -> str:
        """Create a run folder with ``record`` as its first record (its status is
        :func:`.lifecycle.create`'s to give); returns the new run id. On a full disk
        nothing is left behind (no empty folder): :class:`DiskFullError`, audited."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        run_id = f"{stamp}-{record.get('model', 'run')}-{secrets.token_hex(3)}"
        now = time.time()
        record = {"run_id": run_id, "created": now, "heartbeat": now,
                  "pid": os.getpid(), "host": socket.gethostname(), **record}
        path = self.path(run_id)
        with disk_full_reported(self.root, record.get("owner"), "new run", run_id,
                                f"disk full: could not create a run for {record.get('model', 'a model')} "
                                "(nothing was written; free some space and try again)"):
            path.mkdir(parents=True, exist_ok=False)
            try:
                self.write_record(run_id, record)
            except BaseException:
                shutil.rmtree(path, ignore_errors=True)
                raise
        return run_id

    def write_record(self, run_id: str, record: dict) -> None:
        atomic_write_json(self.path(run_id) / "record.json", record)

    def _lock(self, run_id: str):
        return file_lock(self.path(run_id) / ".lock")

    def update(self, run_id: str, **fields) -> dict:
        """Read-modify-write ``record.json`` under the run's file lock, so a trainer
        and another process (a Stop from the app, say) never lose each other's fields.
        The fields of a run's life are :mod:`.lifecycle`'s to write."""
        lifecycle = LIFECYCLE_FIELDS & set(fields)
        if lifecycle:
            raise ValueError(f"{', '.join(sorted(lifecycle))}: a run's life is written by runs.lifecycle alone")
        return self.write_life(run_id, lambda record: fields)

    def write_life(self, run_id: str, change, compact: bool = False) -> dict:
        """For :mod:`.lifecycle` alone: under the run's lock, read the record, ask
        ``change(record)`` for the fields to write (None: nothing to write; it may raise to
        refuse) and write them; returns the record as it now is. ``compact``: rewritten in
        place, reusing its old blocks (the way to record something on a full disk);
        should the compact record be larger than the old one, the old record stays whole
        and :class:`DiskFullError` is raised."""
        with self._lock(run_id):
            record = self._read_raw(run_id)
            fields = change(record)
            if fields is None:
                return record
            record.update(fields)
            record["heartbeat"] = time.time()
            if compact:
                self._rewrite_in_place(run_id, record)
            else:
                self.write_record(run_id, record)
        return record

    def merge(self, run_id: str, field: str, **values) -> dict:
        """Add ``values`` to the dict ``field`` of the record, under the run's lock (two
        processes noting things about one run, a Ray worker and the app, say, keep both)."""
        with self._lock(run_id):
            record = self._read_raw(run_id)
            record[field] = {**(record.get(field) or {}), **values}
            record["heartbeat"] = time.time()
            self.write_record(run_id, record)
        return record

    def _read_raw(self, run_id: str) -> dict:
        path = self.path(run_id) / "record.json"
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise CheckpointError(f"no run {run_id!r} in {self.root}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CheckpointError(f"run {run_id!r}: record.json is damaged ({exc})") from None

    def read(self, run_id: str) -> dict:
        """The record of ``run_id`` as it is on disk (no side effects: a run whose
        process died is marked failed by :func:`.lifecycle.reap`, explicitly)."""
        return self._read_raw(run_id)

    def queue_owner_alive(self, record: dict) -> bool:
        """Whether the server process that queued ``record`` still holds it."""
        owner = record.get("queue_owner")
        if not owner:
            return False
        if owner.get("host") != socket.gethostname():
            return time.time() - float(record.get("heartbeat", 0)) < STALE_AFTER
        return pid_alive(int(owner.get("pid", 0))) and owner.get("manager") is not None

    def claim_queued(self, run_id: str, owner: dict, is_free) -> dict | None:
        """Take over a queued run for ``owner`` when ``is_free(record)`` says nobody
        holds it; checked and written under the run's lock, so two servers starting
        together never both take it. Returns the record, or None."""
        with self._lock(run_id):
            record = self._read_raw(run_id)
            if record.get("status") != "queued" or not is_free(record):  # (lifecycle.Status.QUEUED)
                return None
            record.update(queue_owner=owner, pid=owner["pid"], host=owner["host"], heartbeat=time.time())
            self.write_record(run_id, record)
            return record

    # -- stop requests (for jobs that run in another process, e.g. on a Ray worker) --
    def request_stop(self, run_id: str) -> None:
        """Ask the process training ``run_id`` to stop after its current batch: a flag
        file in the run's folder, which that process watches (:class:`StopWatcher`)."""
        atomic_write_bytes(self.path(run_id) / STOP_FLAG, f"{time.time()}\n".encode())

    def stop_requested(self, run_id: str) -> bool:
        return (self.path(run_id) / STOP_FLAG).is_file()

    def list(self) -> list[dict]:
        """All readable records, newest first (damaged folders are skipped)."""
        if not self.root.is_dir():
            return []
        out = []
        for d in self.root.iterdir():
            if d.is_dir() and (d / "record.json").is_file() and _valid_run_id(d.name):
                try:
                    out.append(self.read(d.name))
                except CheckpointError:
                    continue
        return sorted(out, key=lambda r: r.get("created", 0), reverse=True)

    def _rewrite_in_place(self, run_id: str, record: dict) -> None:
        data = json.dumps(record, separators=(",", ":"), default=json_default).encode()
        path = self.path(run_id) / "record.json"
        if len(data) > path.stat().st_size:  # would need new space: leave the record whole instead
            raise DiskFullError(f"disk full: could not record run {run_id}'s end")
        with open(path, "r+b") as f:
            f.write(data)
            f.truncate()
            f.flush()
            os.fsync(f.fileno())

    def folder_bytes(self, run_id: str) -> int:
        """What a run takes on disk (every file of its folder)."""
        return sum(f.stat().st_size for f in self.path(run_id).rglob("*") if f.is_file())

    # -- checkpoints -------------------------------------------------------
    def checkpoint_path(self, run_id: str) -> Path:
        return self.path(run_id) / "model.pt"

    def save_checkpoint(self, run_id: str, state_dict: dict, meta: dict) -> None:
        import io

        import torch

        buf = io.BytesIO()
        torch.save({"format": CHECKPOINT_FORMAT, "meta": meta,
                    "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()}}, buf)
        atomic_write_bytes(self.checkpoint_path(run_id), buf.getvalue())

    def load_checkpoint(self, run_id: str) -> dict:
        return load_checkpoint_file(self.checkpoint_path(run_id))


def _valid_run_id(run_id) -> bool:
    return (isinstance(run_id, str) and bool(_RUN_ID.fullmatch(run_id)) and ".." not in run_id
            and run_id.casefold() not in RESERVED_NAMES)


def check_run_id(run_id) -> str:
    """``run_id`` when it can name a run folder: letters, digits, ``_.-``, no ``..``, not
    hidden and not one of the store's own names (its audit log); else CheckpointError."""
    if isinstance(run_id, str) and run_id.casefold() in RESERVED_NAMES:
        raise CheckpointError(f"invalid run id {run_id!r}: the run store keeps its "
                              f"{RESERVED_NAMES[run_id.casefold()]} under that name")
    if not _valid_run_id(run_id):
        raise CheckpointError(f"invalid run id {run_id!r}")
    return run_id


def load_checkpoint_file(path: str | Path) -> dict:
    """Load a checkpoint safely (tensors and plain data only) and check its shape."""
    import pickle

    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path.name}: not a checkpoint (not a PyTorch file)")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"(?:unsupported|Unsupported global:) GLOBAL ([\w.]+)", str(exc))
        what = f"it holds a pickled object ({found.group(1)})" if found else "it holds more than plain weights"
        raise CheckpointError(f"{path.name}: refused to load: {what}; only plain-weights checkpoints are accepted") from None
    except Exception as exc:
        raise CheckpointError(f"{path.name}: not a checkpoint ({type(exc).__name__}: {str(exc)[:160]})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT or "state_dict" not in ckpt:
        raise CheckpointError(f"{path.name}: not a GTZAN Studio checkpoint (format {CHECKPOINT_FORMAT})")
    return ckpt
