"""The audit log: one JSON line per action that changes what others can see or use
(stop, delete, restore, purge, import, name claims and resets, admin sign-ins).

``<run store>/audit.jsonl``, append-only: each entry is written with one
``write`` on a file opened with ``O_APPEND`` under the store's audit lock, so lines
from several threads and processes never interleave and nothing is rewritten.
An entry holds ``time`` (Unix seconds), ``who`` (the acting name, ``None`` when
nobody is signed in, ``"cli"`` from the command line), ``what``, ``run_id`` and
optional details. Passcodes and passwords are never written.

On a full disk an entry is not written at all (a short write is cut back, so the log
never holds half a line) and :class:`~gtzan_core.errors.DiskFullError` is raised. An
audited action that meets a full disk logs its failure (``"<what> failed"``, when even
that line fits) through :func:`disk_full_reported`.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

from .errors import DiskFullError
from .locks import file_lock

AUDIT_FILE = "audit.jsonl"


def audit_path(root: str | Path) -> Path:
    return Path(root) / AUDIT_FILE


def audit(root: str | Path, who: str | None, what: str, run_id: str | None = None, **detail) -> dict:
    """Append one entry to the audit log of the run store at ``root``; returns it. When
    the disk has no room for the line, the log is left as it was and DiskFullError raised."""
    from .fileio import DISK_FULL

    entry = {"time": round(time.time(), 3), "who": who, "what": what, "run_id": run_id}
    entry.update({k: v for k, v in detail.items() if v is not None})
    line = memoryview((json.dumps(entry, default=str, ensure_ascii=False) + "\n").encode())
    path = audit_path(root)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(path.parent / ".audit.lock"):
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                start = os.fstat(fd).st_size
                try:
                    while line:
                        line = line[os.write(fd, line):]
                except OSError:
                    os.ftruncate(fd, start)  # shrinking needs no space: never half a line
                    raise
            finally:
                os.close(fd)
    except OSError as exc:
        if exc.errno in DISK_FULL:
            raise DiskFullError(f"disk full: could not write the audit log {path}") from exc
        raise
    return entry


@contextlib.contextmanager
def disk_full_reported(root: str | Path, who: str | None, what: str, run_id: str | None,
                       message: str) -> Iterator[None]:
    """Around an audited action whose block leaves everything as it was when it fails:
    a full disk met inside (``OSError`` ENOSPC/EDQUOT, or the store's DiskFullError) is
    logged as ``"<what> failed"`` (when even that line fits) and raised as
    ``DiskFullError(message)``, one line for the CLI and the app."""
    from .fileio import DISK_FULL

    try:
        yield
    except (OSError, DiskFullError) as exc:
        if isinstance(exc, OSError) and exc.errno not in DISK_FULL:
            raise
        with contextlib.suppress(DiskFullError):  # not even that line fits: the message is all that can be said
            audit(root, who, f"{what} failed", run_id, error="disk full")
        raise DiskFullError(message) from exc


def read_audit(root: str | Path, limit: int | None = None) -> list[dict]:
    """The log's entries, newest first (at most ``limit``); a damaged line is shown as such."""
    path = audit_path(root)
    if not path.is_file():
        return []
    out = []
    for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            out.append({"time": None, "who": None, "what": f"(damaged line {n})", "run_id": None})
    out.reverse()
    return out[:limit] if limit else out
