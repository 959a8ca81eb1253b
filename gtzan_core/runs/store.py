"""The run store: one folder per training run under ``checkpoints/``.

``<root>/<run_id>/record.json`` holds everything about the run (model, settings,
protocol, dataset, feature parameters, device, history, status, evaluation);
``<root>/<run_id>/model.pt`` the best weights so far. Both are written to a
temporary file and renamed into place (:mod:`gtzan_core.fileio`), so a reader or a
crash never sees half a file. Checkpoints hold tensors and plain data only and are
read with ``torch.load(..., weights_only=True)``: no pickled object is ever executed.

The store reads and writes :class:`~.record.RunRecord` alone: :meth:`RunStore.read`
and :meth:`RunStore.list` return them, :meth:`RunStore.new_run` and
:meth:`RunStore.write_record` take one, and every update is a new record made of the
one on disk and the fields written (:meth:`~.record.RunRecord.updated`), each field
checked first (:func:`.record.field_problems`: a field of the wrong type is refused,
:class:`~.record.RecordWriteError`, and nothing is written).

Every record read is checked (:func:`.record.parse_record`): a folder whose
``record.json`` cannot be read, is not JSON or is not a valid record is a *damaged*
run: :meth:`RunStore.read` names what is wrong (:class:`~.record.RecordError`),
:meth:`RunStore.list` leaves it out and :meth:`RunStore.damaged` lists it, so that
it can be shown as damaged and deleted (:func:`.trash.move_to_trash`).

The store reads and writes; it decides nothing. Reads have no side effects; the
fields of a run's life (status, phase, finish time, error) are written by
:mod:`.lifecycle` alone (:meth:`RunStore.update` refuses them), which also reaps
runs whose process died.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import stat
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..audit import AUDIT_FILE, disk_full_reported
from ..errors import CheckpointError, DiskFullError
from ..fileio import atomic_write_bytes, atomic_write_json, json_default
from ..locks import file_lock
from ..paths import runs_dir
from .record import (
    RecordError,
    RecordWriteError,
    RunRecord,
    field_problems,
    parse_record,
    record_owner,
    record_problems,
)

CHECKPOINT_FORMAT = 1
#: A running run without a sign of life (record updates) for this long is dead.
STALE_AFTER = 3600.0
STOP_FLAG = "stop-requested"
#: The fields of a run's life: written only through :mod:`.lifecycle`.
LIFECYCLE_FIELDS = frozenset({"status", "phase", "finished", "error"})
#: Runs whose folders the repository ships (the starters, :mod:`gtzan_core.starter`; an import
#: never takes such an id). The studio never writes into their folders, so that using it
#: changes no tracked file: what it learns about one (an evaluation on another folder) is
#: kept in the store's notes (:data:`NOTES`), and every reader sees it merged into the record.
SHIPPED_PREFIX = "starter-"
#: The store's notes on shipped runs: ``.notes/<run id>.json``, the record's fields to lay over it.
NOTES = ".notes"
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
    def new_run(self, record: RunRecord) -> str:
        """Create a run folder with ``record`` as its first record (its status is
        :func:`.lifecycle.create`'s to give; the store adds the run's id, its creation
        time and its process); returns the new run id. A record that would not be valid
        is refused (:class:`~.record.RecordWriteError`, nothing written). On a full disk
        nothing is left behind (no empty folder): :class:`DiskFullError`, audited."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        run_id = f"{stamp}-{record.get('model', 'run')}-{secrets.token_hex(3)}"
        now = time.time()
        record = RunRecord({"run_id": run_id, "created": now, "heartbeat": now,
                            "pid": os.getpid(), "host": socket.gethostname(), **_typed(record).data})
        problems = record_problems(record.data, run_id)
        if problems:
            raise RecordWriteError(f"a new run's record would not be valid: {'; '.join(problems)}")
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

    def write_record(self, run_id: str, record: RunRecord) -> None:
        """Write ``record`` as ``run_id``'s whole record, as it is (atomically; the writers
        above check what they change: this is also how a test puts a run in any state)."""
        atomic_write_json(self.path(run_id) / "record.json", _typed(record).to_json())
        self._changed(run_id)

    def _changed(self, run_id: str) -> None:
        """Say that ``run_id``'s record changed: one line appended to the store's change
        journal, which every process's listing reads from where it left off (:meth:`scan`).
        Written after the record itself; a journal past :data:`JOURNAL_LIMIT` starts anew
        (listings then read the store afresh)."""
        path = self.root / CHANGE_JOURNAL
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
                         | getattr(os, "O_NONBLOCK", 0), 0o644)  # (never through a link; a pipe never blocks)
            try:
                if os.fstat(fd).st_size > JOURNAL_LIMIT:
                    os.ftruncate(fd, 0)
                os.write(fd, f"{run_id}\n".encode())  # one short append: whole, never interleaved
            finally:
                os.close(fd)
        except OSError:  # a full disk or a read-only store: listings rescan by stat instead
            pass

    def _lock(self, run_id: str):
        return file_lock(self.path(run_id) / ".lock")

    def update(self, run_id: str, **fields) -> RunRecord:
        """Read-modify-write ``record.json`` under the run's file lock, so a trainer
        and another process (a Stop from the app, say) never lose each other's fields.
        The fields of a run's life are :mod:`.lifecycle`'s to write."""
        lifecycle = LIFECYCLE_FIELDS & set(fields)
        if lifecycle:
            raise ValueError(f"{', '.join(sorted(lifecycle))}: a run's life is written by runs.lifecycle alone")
        return self.write_life(run_id, lambda record: fields)

    def write_life(self, run_id: str, change, compact: bool = False) -> RunRecord:
        """For :mod:`.lifecycle` alone: under the run's lock, read the record, ask
        ``change(record)`` (a :class:`~.record.RunRecord`, its fields unchecked, so that a
        run's life can still be recorded when one is damaged) for the fields to write
        (None: nothing to write; it may raise to refuse), check them
        (:class:`~.record.RecordWriteError`, nothing written) and write them; returns the
        record as it now is. ``compact``: rewritten in place, reusing its old blocks (the
        way to record something on a full disk); should the compact record be larger than
        the old one, the old record stays whole and :class:`DiskFullError` is raised."""
        with self._lock(run_id):
            record = RunRecord(self._read_raw(run_id))
            fields = change(record)
            if fields is None:
                return record
            record = self._changed_by(run_id, record, fields)
            if compact:
                self._rewrite_in_place(run_id, record)
            else:
                self.write_record(run_id, record)
        return record

    @staticmethod
    def _changed_by(run_id: str, record: RunRecord, fields: dict) -> RunRecord:
        problems = field_problems(fields)
        if problems:
            raise RecordWriteError(f"run {run_id}: not written, the record would not be valid: {'; '.join(problems)}")
        return record.updated(**fields, heartbeat=time.time())

    def merge(self, run_id: str, field: str, **values) -> RunRecord:
        """Add ``values`` to the dict ``field`` of the record, under the run's lock (two
        processes noting things about one run, a Ray worker and the app, say, keep both)."""
        with self._lock(run_id):
            record = RunRecord(self._read_raw(run_id))
            record = self._changed_by(run_id, record, {field: {**(record.get(field) or {}), **values}})
            self.write_record(run_id, record)
        return record

    def set_external_evaluation(self, run_id: str, folder: str, evaluation: dict) -> RunRecord:
        """Save a run's evaluation on another folder (:class:`~.record.ExternalEvaluation`)
        under ``external_evaluations[folder]``, replacing that folder's earlier one, under
        the run's lock; refused (:class:`~.record.RecordError`, nothing written) when the
        record would not be valid with it. Returns the record as it now is."""
        if self.shipped(run_id):
            return self._note(run_id, folder, evaluation)
        with self._lock(run_id):
            record = RunRecord(self._read_raw(run_id))
            record = record.updated(external_evaluations={**(record.get("external_evaluations") or {}),
                                                          folder: evaluation})
            parse_record(run_id, record.data)
            self.write_record(run_id, record)
        return record

    # -- shipped runs --------------------------------------------------------
    @staticmethod
    def shipped(run_id: str) -> bool:
        """Whether ``run_id`` is a run the repository ships (:data:`SHIPPED_PREFIX`): its
        folder is never written by the studio."""
        return str(run_id).startswith(SHIPPED_PREFIX)

    def notes_path(self, run_id: str) -> Path:
        return self.root / NOTES / f"{check_run_id(run_id)}.json"

    def _notes(self, run_id: str) -> dict:
        """The store's notes on a shipped run (``{}``: none, or unreadable ones, which the
        next note replaces)."""
        try:
            data = json.loads(self.notes_path(run_id).read_bytes())
        except (OSError, ValueError, RecursionError):
            return {}
        return data if isinstance(data, dict) else {}

    def _note(self, run_id: str, folder: str, evaluation: dict) -> RunRecord:
        """An evaluation of a shipped run on ``folder``, kept in the store's notes."""
        with file_lock(self.notes_path(run_id).with_suffix(".lock")):
            notes = self._notes(run_id)
            external = {**(notes.get("external_evaluations") or {}), folder: evaluation}
            record = RunRecord(self._read_raw(run_id)).updated(external_evaluations=external)
            parse_record(run_id, record.data)  # refused (nothing written) when not valid with it
            atomic_write_json(self.notes_path(run_id), {**notes, "external_evaluations": external})
        self._changed(run_id)
        return record

    def _with_notes(self, run_id: str, data):
        if not (self.shipped(run_id) and isinstance(data, dict)):
            return data
        notes = self._notes(run_id).get("external_evaluations")
        if not isinstance(notes, dict) or not notes:
            return data
        return {**data, "external_evaluations": {**(data.get("external_evaluations") or {}), **notes}}

    def _load(self, run_id: str):
        """``record.json`` of ``run_id`` as JSON (any JSON value); RecordError when it
        cannot be read or is not JSON, CheckpointError when there is no such run."""
        path = self.path(run_id) / "record.json"
        if os.path.lexists(path) and not path.is_file():  # never opened: a FIFO would block the reader
            raise RecordError(run_id, "record.json is not a regular file")
        try:
            return json.loads(path.read_bytes())
        except FileNotFoundError:
            raise CheckpointError(f"no run {run_id!r} in {self.root}") from None
        except (ValueError, RecursionError) as exc:  # not JSON (JSONDecodeError, UnicodeDecodeError), or too deep
            raise RecordError(run_id, f"record.json is not valid JSON ({str(exc)[:120]})") from None
        except OSError as exc:
            raise RecordError(run_id, f"record.json cannot be read ({exc.strerror or exc})") from None

    def _read_raw(self, run_id: str) -> dict:
        """The record as the writers need it: a JSON object (its fields unchecked, so a
        run's life can still be recorded when a field is damaged); else RecordError."""
        data = self._load(run_id)
        if not isinstance(data, dict):
            parse_record(run_id, data)  # raises, naming what it holds
        return data

    def read(self, run_id: str) -> RunRecord:
        """The record of ``run_id``, checked and typed (:class:`~.record.RunRecord`):
        :class:`~.record.RecordError` naming what is wrong with a damaged one (no side
        effects: a run whose process died is marked failed by :func:`.lifecycle.reap`,
        explicitly)."""
        return RunRecord(parse_record(run_id, self._with_notes(run_id, self._load(run_id))))

    def owner_of(self, run_id: str) -> str | None:
        """The owner of ``run_id`` as far as its record can be read (a damaged record may
        still name one); None when no owner can be read."""
        try:
            return record_owner(self._load(run_id))
        except CheckpointError:
            return None

    def stated_status(self, run_id: str):
        """The status ``run_id``'s record states, valid or not (a damaged record may still
        state one); None when none can be read."""
        try:
            data = self._load(run_id)
        except CheckpointError:
            return None
        return data.get("status") if isinstance(data, dict) else None

    def queue_owner_alive(self, record: RunRecord) -> bool:
        """Whether the server process that queued ``record`` still holds it."""
        owner = record.get("queue_owner")
        if not owner:
            return False
        if owner.get("host") != socket.gethostname():
            return time.time() - float(record.get("heartbeat", 0)) < STALE_AFTER
        return pid_alive(int(owner.get("pid", 0))) and owner.get("manager") is not None

    def claim_queued(self, run_id: str, owner: dict, is_free) -> RunRecord | None:
        """Take over a queued run for ``owner`` when ``is_free(record)`` says nobody
        holds it; checked and written under the run's lock, so two servers starting
        together never both take it. Returns the record, or None."""
        with self._lock(run_id):
            record = RunRecord(self._read_raw(run_id))
            if record.get("status") != "queued" or not is_free(record):  # (lifecycle.Status.QUEUED)
                return None
            record = self._changed_by(run_id, record, {"queue_owner": owner, "pid": owner["pid"],
                                                       "host": owner["host"]})
            self.write_record(run_id, record)
            return record

    # -- stop requests (for jobs that run in another process, e.g. on a Ray worker) --
    def request_stop(self, run_id: str) -> None:
        """Ask the process training ``run_id`` to stop after its current batch: a flag
        file in the run's folder, which that process watches (:class:`StopWatcher`)."""
        atomic_write_bytes(self.path(run_id) / STOP_FLAG, f"{time.time()}\n".encode())

    def stop_requested(self, run_id: str) -> bool:
        return (self.path(run_id) / STOP_FLAG).is_file()

    def scan(self, shared: bool = False) -> tuple[list[RunRecord], list[DamagedRun]]:
        """Every run folder's record: the valid records, newest first, and the damaged runs
        (by id). One listing per store is shared by every caller in the process (every
        session of a server) and refreshed only when something changed: each record write,
        by any process, appends the run's id to the store's change journal, and a listing
        re-reads only the runs named there since it last looked; runs added, deleted or
        restored change the store folder, and only then is every folder looked at again
        (its records parsed only where their file changed). An unchanged store costs two
        stat calls whatever its size. (A record edited by hand, outside the studio, is
        seen at the store's next change of its folder.) The records are copies: changing
        one changes no other caller's; ``shared``: the listing's own records, for callers
        that only read them (the pages, each refresh of each visitor: no copy at all)."""
        if not self.root.is_dir():
            return [], []
        with _LISTINGS_LOCK:
            listing = _LISTINGS.setdefault(str(self.root.resolve()), _Listing())
            listing.catch_up(self)
            records, damaged = listing.result
        return (list(records) if shared else [RunRecord(dict(r.data)) for r in records]), list(damaged)

    def list(self, shared: bool = False) -> builtins.list[RunRecord]:
        """All valid records, typed, newest first (damaged runs are left out:
        :meth:`damaged`); ``shared``: see :meth:`scan` (never change what it returns)."""
        return self.scan(shared)[0]

    def damaged(self) -> builtins.list[DamagedRun]:  # (`list` is the method above)
        """The runs whose ``record.json`` cannot be read, is not JSON or is not a valid
        record, each with what is wrong (and its owner, when that can be read)."""
        return self.scan()[1]

    def _rewrite_in_place(self, run_id: str, record: RunRecord) -> None:
        data = json.dumps(record.data, separators=(",", ":"), default=json_default).encode()
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

    # -- per-track predictions ---------------------------------------------
    def predictions_path(self, run_id: str) -> Path:
        """Beside the record; for a shipped run, in the store's notes (its folder is never written)."""
        if self.shipped(run_id):
            return self.root / NOTES / f"{check_run_id(run_id)}.{PREDICTIONS_FILE}"
        return self.path(run_id) / PREDICTIONS_FILE

    def save_predictions(self, run_id: str, test: dict | None = None, external: dict | None = None) -> None:
        """Keep what the run predicted for each test track (``test``: :func:`~gtzan_core.
        evaluation.test_predictions`) and for each clip of an evaluation on another folder
        (``external``: folder -> its clips), beside the record (``predictions.json``; the
        record stays small: the listing reads every record). Each part given replaces its
        earlier one; the others are kept."""
        with self._lock(run_id):
            data = self.read_predictions(run_id)
            if test is not None:
                data["test"] = test
            if external:
                data["external"] = {**(data.get("external") or {}), **external}
            atomic_write_json(self.predictions_path(run_id), {"version": 1, **data})

    def read_predictions(self, run_id: str) -> dict:
        """The run's kept predictions (``test``, ``external``), or {} for a run recorded
        before they were kept, or whose file cannot be read (it is made again by
        :func:`gtzan_core.insight.errors.ensure_test_predictions`)."""
        path = self.predictions_path(run_id)
        if not path.is_file():
            return {}
        try:
            data = json.loads(path.read_bytes())
        except (OSError, ValueError, RecursionError):
            return {}
        if not isinstance(data, dict):
            return {}
        data.pop("version", None)
        return data

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
        """The run's checkpoint (:func:`load_checkpoint_file`); a problem with it names
        the run: "run X: model.pt is truncated or damaged (...)"."""
        try:
            return load_checkpoint_file(self.checkpoint_path(run_id))
        except CheckpointError as exc:
            raise CheckpointError(f"run {run_id}: {exc}") from None


#: A run's per-track predictions (test set, other folders), beside its record.
PREDICTIONS_FILE = "predictions.json"

#: The store's change journal: the id of each run whose record was written, one a line
#: (hidden: no run id starts with a dot). It starts anew past this many bytes.
CHANGE_JOURNAL = ".changes"
JOURNAL_LIMIT = 1 << 20
#: A file time this recent may be shared by a later change (file times have a coarse grain).
_SETTLED_NS = 1_000_000_000


class _Listing:
    """The last listing of one store in this process: each run's record (or what is
    wrong with it) keyed by its file's identity, where the change journal was read up
    to, and the sorted result."""

    def __init__(self):
        self.folder: int | None = None  # the store folder's time when it was last looked at whole
        self.journal: tuple[int, int] | None = None  # the journal's (inode, bytes read)
        self.entries: dict[str, tuple[tuple | None, RunRecord | DamagedRun]] = {}
        self.result: tuple[list[RunRecord], list[DamagedRun]] = ([], [])

    def catch_up(self, store: RunStore) -> None:
        now = time.time_ns()
        try:
            folder: int | None = store.root.stat().st_mtime_ns
        except OSError:
            folder = None
        try:
            st = os.lstat(store.root / CHANGE_JOURNAL)
            # (a journal that is no regular file, a folder or a pipe put there: not read, the store is looked at
            # whole every time; `python -m gtzan_core repair` moves it aside)
            journal: tuple[int, int] | None = (st.st_ino, st.st_size) if stat.S_ISREG(st.st_mode) else None
        except OSError:
            journal = None
        # the journal says which runs changed since it was last read, unless it started anew
        changed: set[str] | None = set()
        if journal != self.journal:
            if journal is None or self.journal is None or journal[0] != self.journal[0] \
                    or journal[1] < self.journal[1]:
                changed = None
            else:
                try:
                    with open(store.root / CHANGE_JOURNAL, "rb") as f:
                        f.seek(self.journal[1])
                        tail = f.read(journal[1] - self.journal[1])
                except OSError:  # replaced meanwhile by something unreadable: look at the store whole
                    tail = b""
                whole = tail[:tail.rfind(b"\n") + 1]  # a line still being written is read next time
                changed = {line.decode("utf-8", "replace") for line in whole.splitlines() if line}
                journal = (journal[0], self.journal[1] + len(whole))
        settled = folder is not None and now - folder >= _SETTLED_NS  # (a coarse folder time: look again)
        if changed is None or folder != self.folder or not settled:
            self.refresh(store, now)
        else:
            for run_id in changed:
                self.read_one(store, run_id, now)
            if changed:
                self.sort()
        self.folder, self.journal = (folder if settled else None), journal

    def read_one(self, store: RunStore, run_id: str, now: int) -> None:
        """(Re)read ``run_id``'s record into the listing, unless its file is as it was."""
        if not _valid_run_id(run_id) or not (store.root / run_id).is_dir():
            self.entries.pop(run_id, None)
            return
        try:
            st = os.lstat(store.root / run_id / "record.json")
        except OSError:  # no record (a run being created) or removed meanwhile
            self.entries.pop(run_id, None)
            return
        key: tuple = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        if store.shipped(run_id):  # its notes are part of what a reader sees
            with contextlib.suppress(OSError):
                notes = os.stat(store.notes_path(run_id))
                key += (notes.st_ino, notes.st_size, notes.st_mtime_ns)
        known = self.entries.get(run_id)
        if known is not None and known[0] == key:
            return
        try:
            item: RunRecord | DamagedRun = store.read(run_id)
        except RecordError as exc:
            item = DamagedRun(run_id, exc.problem, store.owner_of(run_id))
        except CheckpointError:  # removed meanwhile
            self.entries.pop(run_id, None)
            return
        # its file's identity is trusted next time only once its time is settled (see _SETTLED_NS)
        self.entries[run_id] = (key if now - st.st_mtime_ns >= _SETTLED_NS else None, item)

    def refresh(self, store: RunStore, now: int) -> None:
        """Look at every folder of the store again (records parsed where their file changed)."""
        names = {d.name for d in store.root.iterdir()}
        for run_id in set(self.entries) - names:
            del self.entries[run_id]
        for run_id in names:
            self.read_one(store, run_id, now)
        self.sort()

    def sort(self) -> None:
        damaged = [item for _, item in self.entries.values() if isinstance(item, DamagedRun)]
        records = [item for _, item in self.entries.values() if not isinstance(item, DamagedRun)]
        self.result = (sorted(records, key=lambda r: r.get("created", 0), reverse=True),
                       sorted(damaged, key=lambda d: d.run_id))


_LISTINGS: dict[str, _Listing] = {}
_LISTINGS_LOCK = threading.Lock()


@dataclass(frozen=True)
class DamagedRun:
    """A run folder whose record cannot be used: its id, what is wrong, and its owner
    when the damaged record still names one (else only the admin may delete it)."""

    run_id: str
    problem: str
    owner: str | None = None

    def as_dict(self) -> dict:
        return {"run_id": self.run_id, "problem": self.problem, "owner": self.owner}


def _typed(record: RunRecord) -> RunRecord:
    if not isinstance(record, RunRecord):
        raise TypeError(f"the run store writes RunRecords, not {type(record).__name__}")
    return record


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
        with open(path, "rb") as fh:
            head = fh.read(4)
        if not head:
            raise CheckpointError(f"{path.name} is truncated or damaged (it is empty)")
        if head == b"PK\x03\x04":  # a PyTorch file's start, without the end of its zip: cut short
            raise CheckpointError(f"{path.name} is truncated or damaged ({path.stat().st_size} bytes, its zip "
                                  "directory is missing)")
        raise CheckpointError(f"{path.name} is not a checkpoint (not a PyTorch file)")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"(?:unsupported|Unsupported global:) GLOBAL ([\w.]+)", str(exc))
        what = f"it holds a pickled object ({found.group(1)})" if found else "it holds more than plain weights"
        raise CheckpointError(f"{path.name}: refused to load: {what}; "
                              "only plain-weights checkpoints are accepted") from None
    except Exception as exc:
        why = " ".join(str(exc).split())[:160]
        raise CheckpointError(f"{path.name} is truncated or damaged ({type(exc).__name__}: {why})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT or "state_dict" not in ckpt:
        raise CheckpointError(f"{path.name} is not a GTZAN Studio checkpoint (format {CHECKPOINT_FORMAT})")
    return ckpt
