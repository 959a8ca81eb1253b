"""The run store: one folder per training run under ``checkpoints/``.

``<root>/<run_id>/record.json`` holds everything about the run (model, settings,
protocol, dataset, feature parameters, device, history, status, evaluation);
``<root>/<run_id>/model.pt`` the best weights so far. Both are written to a
temporary file and renamed into place, so a reader or a crash never sees half a
file. Checkpoints hold tensors and plain data only and are read with
``torch.load(..., weights_only=True)``: no pickled object is ever executed.

A run marked ``running`` or ``queued`` whose process has died (same host, PID
gone) or whose heartbeat is older than :data:`STALE_AFTER` seconds is reported as
``failed``.
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import shutil
import socket
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd

from .audit import AUDIT_FILE, disk_full_reported
from .errors import CheckpointError, DiskFullError
from .locks import file_lock
from .paths import runs_dir

LEADERBOARD_COLUMNS = ["model", "track_acc", "segment_acc", "macro_f1", "protocol", "track_macro_f1", "status",
                       "recipe", "dataset", "owner", "split_warning", "epochs", "params", "train_s", "device",
                       "pretrained", "date", "run_id"]
CHECKPOINT_FORMAT = 1
STALE_AFTER = 3600.0
ACTIVE = ("queued", "running")
STOP_FLAG = "stop-requested"
# A run id starts with a letter or digit, so it is never one of the hidden names the store keeps
# beside its runs (.trash/, .import-* staging folders, .audit.lock, .trash.lock); the store's other
# own names are reserved outright (compared case-insensitively: a case-insensitive disk has one file
# for AUDIT.JSONL and audit.jsonl).
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,120}$")
RESERVED_NAMES = {AUDIT_FILE.casefold(): "audit log"}


DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it into place: a
    failure (a full disk included, raised as :class:`DiskFullError`) leaves the old
    file as it was and no temporary file behind."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        if exc.errno in DISK_FULL:
            raise DiskFullError(f"disk full: could not write {path}") from exc
        raise
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno in DISK_FULL:
            raise DiskFullError(f"disk full: could not write {path}") from exc
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=1, default=_json_default).encode())


def _json_default(o):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _pid_alive(pid: int) -> bool:
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
        """Create a run folder with its first record; returns the new run id. On a full
        disk nothing is left behind (no empty folder): :class:`DiskFullError`, audited."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        run_id = f"{stamp}-{record.get('model', 'run')}-{secrets.token_hex(3)}"
        now = time.time()
        record = {"run_id": run_id, "status": "queued", "created": now, "heartbeat": now,
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
        and another process (a Stop from the app, say) never lose each other's fields."""
        with self._lock(run_id):
            record = self._read_raw(run_id)
            record.update(fields)
            record["heartbeat"] = time.time()
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
        """The record of ``run_id``, with a dead *running* run marked failed. A queued
        run whose server died stays queued: the next job manager on this store picks
        it up (:meth:`claim_queued`)."""
        record = self._read_raw(run_id)
        if self._can_die(record) and self._death_reason(record):
            try:
                with self._lock(run_id):
                    record = self._read_raw(run_id)  # re-check under the lock
                    reason = self._death_reason(record) if self._can_die(record) else None
                    if reason:
                        record.update(status="failed", error=reason, finished=time.time())
                        self.write_record(run_id, record)
            except OSError:
                pass
        return record

    @staticmethod
    def _can_die(record: dict) -> bool:
        """Running runs die with their process; so do queued ones recorded without
        what a new server needs to resume them (older records)."""
        return record.get("status") == "running" or (record.get("status") == "queued"
                                                      and not isinstance(record.get("job"), dict))

    @staticmethod
    def _death_reason(record: dict) -> str | None:
        if record.get("host") == socket.gethostname() and record.get("pid"):
            if not _pid_alive(int(record["pid"])):
                return "the training process died (killed or crashed); the best checkpoint so far is kept"
        if time.time() - float(record.get("heartbeat", 0)) > STALE_AFTER:
            return f"no sign of life for over {STALE_AFTER / 60:.0f} minutes"
        return None

    def queue_owner_alive(self, record: dict) -> bool:
        """Whether the server process that queued ``record`` still holds it."""
        owner = record.get("queue_owner")
        if not owner:
            return False
        if owner.get("host") != socket.gethostname():
            return time.time() - float(record.get("heartbeat", 0)) < STALE_AFTER
        return _pid_alive(int(owner.get("pid", 0))) and owner.get("manager") is not None

    def claim_queued(self, run_id: str, owner: dict, is_free) -> dict | None:
        """Take over a queued run for ``owner`` when ``is_free(record)`` says nobody
        holds it; checked and written under the run's lock, so two servers starting
        together never both take it. Returns the record, or None."""
        with self._lock(run_id):
            record = self._read_raw(run_id)
            if record.get("status") != "queued" or not is_free(record):
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

    def delete(self, run_id: str, who: str | None = None):
        """Move a run to the trash (recoverable, see :mod:`gtzan_core.trash`); returns the
        :class:`~gtzan_core.trash.TrashEntry`."""
        from .trash import move_to_trash

        return move_to_trash(self, run_id, who)

    def mark_failed(self, run_id: str, error: str) -> dict:
        """Record that a run failed, even on a full disk: the usual atomic update first;
        if that finds no space, the record is rewritten in place, compact (its old
        blocks are reused, no new space needed). Should even the compact record be
        larger than the old one, the old record stays whole and the error is raised."""
        fields = {"status": "failed", "phase": "done", "error": error, "finished": time.time()}
        try:
            return self.update(run_id, **fields)
        except DiskFullError:
            with self._lock(run_id):
                record = self._read_raw(run_id)
                record.update(fields, heartbeat=time.time())
                data = json.dumps(record, separators=(",", ":"), default=_json_default).encode()
                path = self.path(run_id) / "record.json"
                if len(data) > path.stat().st_size:  # would need new space: leave the record whole instead
                    raise
                with open(path, "r+b") as f:
                    f.write(data)
                    f.truncate()
                    f.flush()
                    os.fsync(f.fileno())
            return record

    def usage_by_owner(self, trash: list | None = None) -> dict[str | None, int]:
        """Bytes on disk per owner: every file of their runs, trashed runs included (they
        take space until purged). ``trash``: the trash entries when the caller has read them."""
        from .trash import list_trash, trash_root

        out: dict[str | None, int] = {}

        def size(folder: Path) -> int:
            return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())

        for r in self.list():
            out[r.get("owner")] = out.get(r.get("owner"), 0) + size(self.path(r["run_id"]))
        for e in list_trash(self) if trash is None else trash:
            out[e.owner] = out.get(e.owner, 0) + size(trash_root(self) / e.entry)
        return out

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

    def leaderboard(self, include_paper: bool = True) -> pd.DataFrame:
        """All runs, best first (track-level accuracy, else segment level), with the
        paper's reported results as reference rows. ``protocol`` says how each run
        was evaluated (leaky / early-stopped on test for the paper protocol)."""
        from . import paper_results
        from .hparams import recipe_label

        rows = []
        for r in self.list():
            ev = r.get("evaluation") or {}
            seg, trk = ev.get("segment") or {}, ev.get("track") or {}
            rows.append({
                "run_id": r["run_id"], "model": r.get("model"), "status": r.get("status"),
                "protocol": r.get("protocol_label") or r.get("protocol"), "recipe": recipe_label(r),
                "dataset": (r.get("dataset") or {}).get("label"),
                "segment_acc": seg.get("accuracy"), "track_acc": trk.get("accuracy"),
                "macro_f1": seg.get("macro_f1"), "track_macro_f1": trk.get("macro_f1"),
                "epochs": r.get("epochs_run"), "params": r.get("trainable_params"),
                "train_s": r.get("train_seconds"), "device": r.get("device"),
                "pretrained": r.get("pretrained"), "owner": r.get("owner"),
                "date": pd.to_datetime(r.get("created", 0), unit="s").strftime("%Y-%m-%d %H:%M"),
                "split_warning": ("weak split: " + "; ".join(r["split_warnings"])) if r.get("split_warnings") else None,
            })
        if include_paper:
            for model, res in paper_results.paper_results().items():
                image = res["unit"] == "image"
                rows.append({"run_id": f"paper:{model}", "model": model, "status": "reference",
                             "protocol": paper_results.paper_protocol_label(model), "recipe": "paper",
                             "dataset": "GTZAN (paper)", "segment_acc": None if image else res["accuracy"],
                             "track_acc": res["accuracy"] if image else None, "macro_f1": res["macro"][2]})
        # what it is sorted by first (model, accuracies, F1, protocol), text after, the run id last
        df = pd.DataFrame(rows, columns=LEADERBOARD_COLUMNS)
        key = df["track_acc"].fillna(df["segment_acc"]).fillna(-1)
        return df.assign(_k=key).sort_values("_k", ascending=False, kind="stable").drop(columns="_k").reset_index(drop=True)


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
