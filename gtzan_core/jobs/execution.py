"""One training job run to its end in this process: the owner's storage share, the
dataset, its features, training. Shared by the app's embedded workers
(:class:`~.queue.JobManager`) and a Ray worker (:mod:`gtzan_core.cluster.remote`)."""

from __future__ import annotations

import os
import threading
import time

from ..errors import StudioError
from ..runs import RunStore, lifecycle
from .job import Job


class _Stop(Exception):
    """Stop pressed while the job's features were being prepared."""


def execute_job(store: RunStore, job: Job, device: str | None = None, train_fn=None, feature_loader=None) -> None:
    """Run one job to its end in this process: the owner's storage share, the dataset, its
    features, training. Everything it learns goes to the run store; it raises only what
    the record already says (failed). Used by the embedded workers and by a Ray worker
    (:mod:`gtzan_core.cluster.remote`)."""
    import dataclasses

    from ..data import open_dataset
    from ..feature_cache import feature_request, load_features
    from ..training import train

    train = train_fn or train
    config = dataclasses.replace(job.config, device=device) if device else job.config
    try:
        from ..classroom import load_settings
        from ..classroom.quota import check_storage

        check_storage(load_settings(), job.owner, store)  # the owner may have filled their share meanwhile
        if store.read(job.run_id).get("status") == "running":  # (a Ray executor has started it already)
            lifecycle.set_phase(store, job.run_id, "features")
        else:
            lifecycle.start(store, job.run_id, "features", dispatched=time.time())

        def feature_progress(done, total, message):
            if job.cancel.is_set():
                raise _Stop()
            store.update(job.run_id, progress={"done": done, "total": total, "message": message})

        ds = open_dataset(job.data_path, progress=feature_progress)
        if feature_loader is not None:
            fs = feature_loader(ds, progress=feature_progress)
        else:
            fs = load_features(ds, progress=feature_progress, **feature_request(job.config.model, job.image_source))
        dataset_info = ds.run_info()
        store.update(job.run_id, dataset=dataset_info, progress=None)
        train(config, fs, store, cancel=job.cancel, run_id=job.run_id, dataset_info=dataset_info, extra=job.extra,
              progress=lambda d, t, m: store.update(job.run_id, progress={"done": d, "total": t, "message": m}))
    except _Stop:
        lifecycle.cancel(store, job.run_id, "stopped while preparing features")
    except StudioError as exc:  # a full disk included: the record says so, the server goes on
        if not lifecycle.ended(store.read(job.run_id)):
            lifecycle.fail(store, job.run_id, str(exc))
    except Exception as exc:
        if not lifecycle.ended(store.read(job.run_id)):
            lifecycle.fail(store, job.run_id, f"{type(exc).__name__}: {exc}")
        raise

def lower_priority() -> None:
    """Run the calling (worker) thread at a lower CPU priority when
    ``$GTZAN_STUDIO_TRAIN_NICE`` is set (a niceness increment, default 0 = unchanged):
    on a shared CPU, visitors' predictions then win over a training job in the same
    process. Linux schedules threads on their own, and torch's intra-op threads
    started from this thread inherit its niceness. Off by default: measured with
    ``bench/load.py`` it made server-side predictions under load only slightly
    faster and the training job 2-3x slower (bench/README.md). Best effort: a
    no-op where unsupported."""
    from .. import settings

    nice = settings.get("GTZAN_STUDIO_TRAIN_NICE")
    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except OSError:  # pragma: no cover - not permitted here
        pass
