"""The run store's own state files, checked and mended: the owners' study journals
(:mod:`.studies`), the listing's change journal (``.changes``) and the lock files.

A damaged file is never deleted: a study journal keeps its whole records and is backed
up beside itself (``<journal>.damaged-<time>``); the change journal and a lock file that
is no regular file (a folder, a link, a pipe put there) are moved aside under the same
suffix; the studio makes new ones on their next use (the listing reads the store whole
meanwhile). ``python -m gtzan_core repair`` runs :func:`repair_store`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ..locks import lock_file_problem
from .store import CHANGE_JOURNAL
from .studies import damaged_journals, repair_journal_file

#: the store's own lock files beside its runs (each run folder holds a ``.lock`` too)
STORE_LOCKS = (".audit.lock", ".trash.lock")


def _aside(path: Path) -> Path:
    backup = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
    os.replace(path, backup)
    return backup


def state_problems(root: str | Path) -> list[tuple[Path, str]]:
    """Every damaged state file of the run store at ``root``: (its path, what is wrong)."""
    root = Path(root)
    found = list(damaged_journals(root))
    changes = root / CHANGE_JOURNAL
    if (problem := lock_file_problem(changes)) is not None:
        found.append((changes, problem.replace("not a lock file", "not the change journal")))
    locks = [root / name for name in STORE_LOCKS]
    if root.is_dir():
        locks += [d / ".lock" for d in root.iterdir() if not d.name.startswith(".") and d.is_dir()]
    found += [(lock, problem) for lock in locks if (problem := lock_file_problem(lock)) is not None]
    return found


def repair_store(root: str | Path) -> list[str]:
    """Mend every damaged state file of the store at ``root``; one line per file saying
    what was wrong and where the damaged one was kept."""
    lines = []
    for path, problem in state_problems(root):
        if path.suffix == ".journal":
            backup = repair_journal_file(path)
            kept = "its whole records kept"
        else:
            backup = _aside(path)
            kept = "moved aside, a new one is made on next use"
        if backup is not None:
            lines.append(f"{path}: {problem}; {kept} (the damaged file: {backup.name})")
    return lines
