"""One-off background tasks that every session of a server shares: the GTZAN
download of the Home page, the first start's demo-set build and its fetch of
musicnn's weights (:func:`weights_preparation`).

A :class:`BackgroundJob` runs its task in a thread of the server process (held by
the app with ``st.cache_resource``); sessions only *watch* it through
:meth:`~BackgroundJob.state`, a snapshot (status idle / running / done / failed,
done, total, message, error, result), so a page switch, a closed tab or a second
visitor neither stops nor restarts it. The demo set is built once per machine
(across processes too, under a file lock in
:func:`gtzan_core.data.synth.ensure_demo_dataset`); a build killed half-way (its
temporary folder left behind) is cleaned up and redone by the next start.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from ..errors import StudioError


class BackgroundJob:
    """A task with shared progress. ``task(progress, *args)`` returns the result (a dict
    result's keys are also put in the state). ``once``: :meth:`start` runs the task a
    single time and later calls return its state (again only after a failure);
    otherwise a start while it runs is refused and a later start runs it anew."""

    def __init__(self, name: str, task: Callable, once: bool = False):
        self.name, self._task, self.once = name, task, once
        self._lock = threading.Lock()
        self._state: dict = {"status": "idle"}
        self._thread: threading.Thread | None = None
        self.runs = 0  # how many times the task was started (tests count builds with it)

    def state(self) -> dict:
        with self._lock:
            return dict(self._state)

    def start(self, *args) -> dict:
        with self._lock:
            status = self._state["status"]
            if status == "running" or (self.once and status == "done"):
                if not self.once:
                    raise StudioError(f"a {self.name} is already running")
                return dict(self._state)
            self._state = {"status": "running", "done": 0, "total": 0, "message": "starting"}
            self.runs += 1
            self._thread = threading.Thread(target=self._run, args=args, name=f"gtzan-{self.name}", daemon=True)
            self._thread.start()
            return dict(self._state)

    def _progress(self, done: int, total: int, message: str) -> None:
        with self._lock:
            self._state.update(done=done, total=total, message=message)

    def _run(self, *args) -> None:
        try:
            result = self._task(self._progress, *args)
            with self._lock:
                self._state.update(status="done", result=result, message="ready")
                if isinstance(result, dict):
                    self._state.update(result)
        except Exception as exc:  # shown to every session; a later start() retries
            with self._lock:
                self._state.update(status="failed", error=str(exc) if isinstance(exc, StudioError)
                                   else f"{type(exc).__name__}: {exc}")

    def join(self, timeout: float | None = None) -> dict:
        if self._thread is not None:
            self._thread.join(timeout)
        return self.state()


def _download(progress, url: str, out_dir: str) -> dict:
    from ..data import discover_dataset
    from ..data.download import download_gtzan

    ds = discover_dataset(download_gtzan(url, out_dir, progress=progress))
    return {"path": str(ds.root), "tracks": len(ds.tracks)}


def download_job() -> BackgroundJob:
    """The GTZAN download: ``start(url, out_dir)``; when done its state holds ``path``
    and ``tracks``."""
    return BackgroundJob("download", _download)


def demo_preparation() -> BackgroundJob:
    """The demo set's build (a no-op when it is already there), once."""
    from ..data.synth import ensure_demo_dataset

    return BackgroundJob("demo set", lambda progress: str(ensure_demo_dataset(progress=progress)), once=True)


def numba_preparation() -> BackgroundJob:
    """librosa's numba cache made whole (:func:`gtzan_core.numba_cache.ensure_ready`: a
    marker check when it is, else a warm-up in a child process under the lock beside the
    cache), once, so that a server's first prediction does not wait for it."""
    from ..numba_cache import ensure_ready

    return BackgroundJob("numba warm-up", lambda progress: ensure_ready(), once=True)


def weights_preparation(source=None) -> BackgroundJob:
    """The first start's fetch of musicnn's weights (once per machine, under a file lock:
    :func:`gtzan_core.models.autofetch.ensure_musicnn_weights`); when done its state holds
    ``outcome`` (ready, fetched, offline, failed), ``message`` (one line) and ``path``.
    ``source``: where pip looks (:class:`~gtzan_core.models.autofetch.WheelSource`)."""
    from ..models.autofetch import ensure_musicnn_weights

    return BackgroundJob("musicnn weights", lambda progress: ensure_musicnn_weights(progress=progress, source=source),
                         once=True)
