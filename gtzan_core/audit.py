"""The audit log: one JSON line per action that changes what others can see or use
(stop, delete, restore, purge, import, name claims and resets, admin sign-ins).

``<run store>/audit.jsonl``, append-only: each entry is written with one
``write`` on a file opened with ``O_APPEND`` under the store's audit lock, so lines
from several threads and processes never interleave and nothing is rewritten.
An entry holds ``time`` (Unix seconds), ``who`` (the acting name, ``None`` when
nobody is signed in, ``"cli"`` from the command line), ``what``, ``run_id`` and
optional details. Passcodes and passwords are never written.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from .locks import file_lock

AUDIT_FILE = "audit.jsonl"


def audit_path(root: str | Path) -> Path:
    return Path(root) / AUDIT_FILE


def audit(root: str | Path, who: str | None, what: str, run_id: str | None = None, **detail) -> dict:
    """Append one entry to the audit log of the run store at ``root``; returns it."""
    entry = {"time": round(time.time(), 3), "who": who, "what": what, "run_id": run_id}
    entry.update({k: v for k, v in detail.items() if v is not None})
    line = (json.dumps(entry, default=str, ensure_ascii=False) + "\n").encode()
    path = audit_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(path.parent / ".audit.lock"):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    return entry


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
