"""Result files: what a study measured, as one JSON file that says how it was made.

Every file holds ``kind`` (e.g. ``"feature_study"``), ``title``, ``date`` (UTC, ISO),
``created`` (epoch seconds), ``git_commit`` (the checkout's commit, ``null`` outside a
git checkout; ``git_dirty`` when it had uncommitted changes), ``seeds``, ``command``
(the exact command line that remakes it) and the figures (``rows``).

Two places hold them:

* **shipped**: ``gtzan_core/reproduction/shipped/*.json``, the studio's own measured
  real-data results, part of the package, so a fresh clone shows them;
* **yours**: ``$GTZAN_STUDIO_HOME/results/*.json``, written by the user's own runs of
  the same commands.

Files are read with :func:`json.loads` only (never unpickled); one that cannot be read
or lacks the fields above is left out and named in :func:`unreadable_results`.
"""

from __future__ import annotations

import json
import subprocess
import time
from importlib import resources
from pathlib import Path

from ..errors import ConfigError
from ..paths import studio_home

#: The fields every result file carries.
REQUIRED = ("kind", "title", "date", "created", "command", "seeds", "rows")


def results_dir() -> Path:
    """Where the user's own result files are written: ``$GTZAN_STUDIO_HOME/results``."""
    return studio_home() / "results"


def shipped_dir() -> Path:
    """The package's folder of shipped result files."""
    return Path(str(resources.files("gtzan_core.reproduction") / "shipped"))


def git_commit() -> tuple[str | None, bool]:
    """The commit of the checkout this package runs from and whether it has uncommitted
    changes; ``(None, False)`` outside a git checkout or without git."""
    root = Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None, False
    return (sha or None), bool(dirty)


def new_result(kind: str, title: str, command: str, seeds: list[int], rows: list[dict], **fields) -> dict:
    """A result document stamped with the date and the checkout's commit."""
    now = time.time()
    commit, dirty = git_commit()
    doc = {"kind": kind, "title": title, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
           "created": now, "git_commit": commit, "git_dirty": dirty, "command": command,
           "seeds": [int(s) for s in seeds], "rows": rows}
    doc.update(fields)
    return doc


def write_result(doc: dict, path: str | Path | None = None) -> Path:
    """Write ``doc`` to ``path`` (default: a new file in :func:`results_dir` named by its kind
    and time), atomically; a folder or anything but a regular file there is refused."""
    from ..fileio import atomic_write_bytes

    missing = [k for k in REQUIRED if k not in doc]
    if missing:
        raise ConfigError(f"a result file needs {', '.join(missing)}")
    if path is None:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(doc["created"]))
        path = results_dir() / f"{doc['kind'].replace('_', '-')}-{stamp}.json"
    path = Path(path)
    if path.exists() and not path.is_file():
        raise ConfigError(f"{path} exists and is not a regular file")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, (json.dumps(doc, indent=1, sort_keys=False) + "\n").encode())
    return path


def _read(path: Path) -> dict | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(doc, dict) or any(k not in doc for k in REQUIRED) or not isinstance(doc["rows"], list):
        return None
    return doc


def _folder(folder: Path, kind: str | None, origin: str) -> list[dict]:
    out: list[dict] = []
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.json")):
        if not path.is_file():
            continue
        doc = _read(path)
        if doc is not None and (kind is None or doc.get("kind") == kind):
            out.append({**doc, "origin": origin, "file": path.name})
    return sorted(out, key=lambda d: d.get("created") or 0, reverse=True)


def shipped_results(kind: str | None = None) -> list[dict]:
    """The shipped result files (of ``kind``), newest first, each with ``origin: "shipped"``."""
    return _folder(shipped_dir(), kind, "shipped")


def user_results(kind: str | None = None) -> list[dict]:
    """The user's own result files (of ``kind``), newest first, each with ``origin: "yours"``."""
    return _folder(results_dir(), kind, "yours")


def unreadable_results() -> list[str]:
    """The user's result files that could not be read (not JSON, or missing a field)."""
    folder = results_dir()
    if not folder.is_dir():
        return []
    return [p.name for p in sorted(folder.glob("*.json")) if p.is_file() and _read(p) is None]


def provenance(doc: dict) -> str:
    """One line: where a result came from (shipped or yours), its date, commit and command."""
    who = "shipped with the studio" if doc.get("origin") == "shipped" else "your run"
    commit = (doc.get("git_commit") or "no commit")[:10] + (" + changes" if doc.get("git_dirty") else "")
    return f"{who} · {str(doc.get('date', '?'))[:10]} · commit {commit} · made by: {doc.get('command', '?')}"
