"""musicnn's weights without a manual step: the first start fetches them.

The musicnn starter (``checkpoints/starter-gtzan-musicnn``) keeps only its genre head;
its backbone is musicnn's MSD and MTT checkpoints inside the ``musicnn 0.1.0`` wheel on the
package index. :func:`ensure_musicnn_weights` brings it once per machine: pip
downloads the wheel by version (:class:`WheelSource`: pip's configured index by
default, another index or a local folder of wheels when given), its SHA-256 is
checked and its checkpoints are loaded before they are put in place
(:func:`~gtzan_core.models.musicnn.fetch_musicnn`). A file lock in the weights folder
makes two processes (two app servers, the app and a CLI) fetch once: the second
waits and finds the weights there.

Nothing is tried with ``GTZAN_STUDIO_OFFLINE`` set; an unreachable index is
remembered for :data:`RETRY_SECONDS` (in ``.musicnn-fetch.json`` beside the weights) so
that every start does not wait for it again. Either way the studio goes on with what
is there (the EfficientNet-Lite0 starter, which needs no fetch) and says so in one
line (:func:`weights_note`). The app runs the fetch in a background thread
(:func:`gtzan_core.jobs.background.weights_preparation`), the CLI in a detached
process it starts (:func:`start_background_fetch`), or in the foreground before a
prediction that would use the musicnn starter.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import StudioError
from ..fileio import atomic_write_json
from ..locks import file_lock
from ..progress import report
from .weights import weights_dir

#: After a failed fetch (no index), the next automatic try waits this long.
RETRY_SECONDS = 3600.0
#: pip's own limits for an automatic fetch: a dead index costs about 20 s, not minutes.
PIP_TIMEOUT_ARGS = ("--timeout", "10", "--retries", "1")


@dataclass(frozen=True)
class WheelSource:
    """Where the musicnn wheel comes from: ``wheel`` (a wheel file already here: no pip),
    else pip from ``index_url`` (a package index, PEP 503), ``find_links`` (a local
    folder of wheels, searched with ``--no-index``), or neither (pip's own configuration:
    PyPI or the machine's mirror). The tests use a wheel or a folder they write."""

    index_url: str | None = None
    find_links: str | None = None
    timeout: float = 300.0
    wheel: str | None = None

    def pip_args(self) -> tuple[str, ...]:
        if self.find_links:
            return ("--no-index", "--find-links", str(self.find_links))
        return PIP_TIMEOUT_ARGS + (("--index-url", self.index_url) if self.index_url else ())

    def describe(self) -> str:
        return self.wheel or self.find_links or self.index_url or "the package index"


def _state_file() -> Path:
    return weights_dir() / ".musicnn-fetch.json"


def _lock_file() -> Path:
    return weights_dir() / ".musicnn-fetch.lock"


def last_failure() -> dict | None:
    """The last automatic fetch's failure still within :data:`RETRY_SECONDS`, or None."""
    try:
        state = json.loads(_state_file().read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or state.get("outcome") != "failed":
        return None
    if time.time() - float(state.get("time", 0)) > RETRY_SECONDS:
        return None
    return state


def musicnn_ready() -> bool:
    from .musicnn import musicnn_checkpoint

    return musicnn_checkpoint() is not None


def offline() -> bool:
    from .. import settings

    return bool(settings.get("GTZAN_STUDIO_OFFLINE"))


FALLBACK_NOTE = "the studio answers with the EfficientNet-Lite0 starter, which needs no fetch"


def weights_note() -> tuple[str, str]:
    """(state, one line) about musicnn's weights here: ``ready``, ``offline``,
    ``failed`` (the last try could not reach the index) or ``missing`` (not tried yet)."""
    from .musicnn import FETCH_COMMAND

    if musicnn_ready():
        return "ready", "musicnn's weights are here: the musicnn starter answers"
    if offline():
        return "offline", (f"GTZAN_STUDIO_OFFLINE is set, so musicnn's weights are not fetched: {FALLBACK_NOTE} "
                           f"(fetch them later with `{FETCH_COMMAND}`)")
    failure = last_failure()
    if failure:
        return "failed", (f"musicnn's weights could not be fetched ({failure.get('error', '?')}): {FALLBACK_NOTE}; "
                          f"the studio tries again later, or run `{FETCH_COMMAND}`")
    return "missing", f"musicnn's weights are not here yet: {FALLBACK_NOTE} until they are fetched"


def ensure_musicnn_weights(progress=None, source: WheelSource | None = None, force: bool = False) -> dict:
    """Bring musicnn's weights once per machine; never raises for a failed fetch.

    Returns ``{"outcome": ready | fetched | offline | failed, "message": one line,
    "path": the MSD checkpoint folder or None}``. ``force``: try even after a recent
    failure (``GTZAN_STUDIO_OFFLINE`` is always obeyed)."""
    from .musicnn import WHEEL, fetch_musicnn, musicnn_checkpoint

    def result(outcome: str, message: str) -> dict:
        path = musicnn_checkpoint()
        return {"outcome": outcome, "message": message, "path": str(path) if path else None}

    if musicnn_ready():
        return result("ready", weights_note()[1])
    if offline():
        return result("offline", weights_note()[1])
    if not force and last_failure():
        return result("failed", weights_note()[1])
    source = source or WheelSource()
    try:
        with file_lock(_lock_file()):  # one fetch per machine: a second process waits here, then finds them
            if musicnn_ready():
                return result("ready", "musicnn's weights were fetched by another process of the studio")
            report(progress, 0, 0, f"fetching musicnn {WHEEL['version']}'s weights from {source.describe()}")
            fetch_musicnn(wheel=source.wheel, progress=progress, index_args=source.pip_args(), timeout=source.timeout)
            atomic_write_json(_state_file(), {"outcome": "fetched", "time": time.time(), "sha256": WHEEL["sha256"]})
    except (StudioError, OSError) as exc:
        error = str(exc).split("; run `")[0]
        with contextlib.suppress(OSError):
            atomic_write_json(_state_file(), {"outcome": "failed", "time": time.time(), "error": error})
        return result("failed", weights_note()[1] if last_failure() else f"could not fetch musicnn's weights "
                      f"({error}): {FALLBACK_NOTE}")
    return result("fetched", f"musicnn {WHEEL['version']}'s weights fetched and checked (wheel SHA-256 "
                             f"{WHEEL['sha256'][:12]}…): the musicnn starter answers")


def fetch_needed() -> bool:
    """Whether a first start should fetch: weights absent, online, no recent failure."""
    return not musicnn_ready() and not offline() and last_failure() is None


def start_background_fetch() -> subprocess.Popen | None:
    """Start the fetch in a detached process (the CLI's first start) when one is needed
    and none holds the lock; the process, or None when nothing was started."""
    if not fetch_needed():
        return None
    from ..locks import file_lock as _lock

    try:
        with _lock(_lock_file(), timeout=0):  # held by a running fetch: nothing to start
            pass
    except (TimeoutError, OSError):
        return None
    cmd = [sys.executable, "-m", "gtzan_core", "weights", "--fetch", "musicnn", "--auto"]
    try:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True, env=os.environ.copy())
    except OSError:
        return None
