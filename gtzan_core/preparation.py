"""First-use preparation that every session of a server shares.

The synthetic demo set is built once per machine: by one background thread per
server process (:class:`PreparationJob`, held by the app with
``st.cache_resource``) and, across processes, under a file lock in
:func:`gtzan_core.data.synth.ensure_demo_dataset`. Sessions only *watch* the job:
a page switch, a closed tab or a second visitor neither stops nor restarts it, and
a build killed half-way (its temporary folder left behind) is cleaned up and
redone by the next start.
"""

from __future__ import annotations

import threading
from typing import Callable

from .errors import StudioError


class PreparationJob:
    """A one-off background task with shared progress: ``start()`` is idempotent
    (the task runs once; again only after a failure), ``state()`` is a snapshot
    (status idle/running/done/failed, done, total, message, error, result)."""

    def __init__(self, name: str, task: Callable[[Callable[[int, int, str], None]], object]):
        self.name = name
        self._task = task
        self._lock = threading.Lock()
        self._state: dict = {"status": "idle"}
        self._thread: threading.Thread | None = None
        self.runs = 0  # how many times the task was started (tests count builds with it)

    def state(self) -> dict:
        with self._lock:
            return dict(self._state)

    def start(self) -> dict:
        with self._lock:
            if self._state["status"] in ("running", "done"):
                return dict(self._state)
            self._state = {"status": "running", "done": 0, "total": 0, "message": "starting"}
            self.runs += 1
            self._thread = threading.Thread(target=self._run, name=f"prepare-{self.name}", daemon=True)
            self._thread.start()
            return dict(self._state)

    def _progress(self, done: int, total: int, message: str) -> None:
        with self._lock:
            self._state.update(done=done, total=total, message=message)

    def _run(self) -> None:
        try:
            result = self._task(self._progress)
            with self._lock:
                self._state.update(status="done", result=result, message="ready")
        except Exception as exc:  # shown to every session; a later start() retries
            with self._lock:
                self._state.update(status="failed", error=str(exc) if isinstance(exc, StudioError)
                                   else f"{type(exc).__name__}: {exc}")

    def join(self, timeout: float | None = None) -> dict:
        if self._thread is not None:
            self._thread.join(timeout)
        return self.state()


def demo_preparation() -> PreparationJob:
    """A job that builds the default demo set (a no-op when it is already there)."""
    from .data.synth import ensure_demo_dataset

    return PreparationJob("demo set", lambda progress: str(ensure_demo_dataset(progress=progress)))
