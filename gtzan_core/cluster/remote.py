"""What a Ray worker runs for one training job (the task body of :class:`~.RayExecutor`).

It trains exactly as an embedded worker thread does (:func:`gtzan_core.jobs.execute_job`)
and writes the run store itself: epoch logs, the record and the best checkpoint reach
the store while the job runs, so the app's live charts work unchanged. A Stop pressed
in the app arrives as the run's stop flag (:meth:`RunStore.request_stop`), which a
watcher thread turns into the trainer's cancel event: the job ends after its current
batch and keeps its best checkpoint, as an embedded one does.
"""

from __future__ import annotations

import os
import socket
import threading
import time

from ..runs import RunStore


class StopWatcher:
    """Sets ``event`` once the run's stop flag appears (checked at once, then every ``poll`` seconds)."""

    def __init__(self, store: RunStore, run_id: str, event: threading.Event, poll: float = 0.25):
        self._store, self._run_id, self._event, self._poll = store, run_id, event, poll
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name=f"gtzan-stop-{run_id}", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while True:  # looks at once (a Stop pressed while Ray was still placing the job), then every poll
            try:
                if self._store.stop_requested(self._run_id):
                    self._event.set()
                    return
            except OSError:  # the shared volume hiccuped: look again next time
                pass
            if self._done.wait(self._poll):
                return

    def close(self) -> None:
        self._done.set()
        self._thread.join(timeout=2)


def worker_info() -> dict:
    """Where this task runs: host, pid, Ray node and the GPUs Ray gave it."""
    info = {"host": socket.gethostname(), "pid": os.getpid(), "started": time.time()}
    try:
        import ray

        ctx = ray.get_runtime_context()
        info.update(node=ctx.get_node_id(), gpu_ids=[str(g) for g in ray.get_gpu_ids()])
    except Exception:  # outside a Ray worker (tests call it directly)
        pass
    return info


def train_on_worker(store_root: str, run_id: str, spec: dict) -> str:
    """Train the job ``spec`` (:meth:`~gtzan_core.jobs.JobSpec.to_dict`'s form) into the run
    ``run_id`` of the store at ``store_root``; returns the record's final status."""
    from ..jobs import Job, JobSpec, execute_job, lower_priority

    store = RunStore(store_root)
    job = Job(run_id, JobSpec.from_dict(spec))
    store.merge(run_id, "executor", **worker_info())
    watcher = StopWatcher(store, run_id, job.cancel)
    try:
        lower_priority()
        execute_job(store, job)
    finally:
        watcher.close()
        store.merge(run_id, "executor", ended=time.time())
    return store.read(run_id).get("status", "?")
