"""One training job run to its end in this process: the owner's storage share, the
dataset, its features, training. Shared by the app's embedded workers
(:class:`~.queue.JobManager`) and a Ray worker (:mod:`gtzan_core.cluster.remote`)."""

from __future__ import annotations

import contextlib
import os
import threading
import time

from ..errors import StudioError
from ..runs import RunStore, Status, lifecycle
from .job import Job
from .recorded import conclude, fit_on_device


def execute_job(store: RunStore, job: Job, device: str | None = None, train_fn=None, feature_loader=None) -> None:
    """Run one job to its end in this process: the owner's storage share, the dataset, its
    features, training. Everything it learns goes to the run store, and how it ended is
    recorded by :func:`~.recorded.conclude`; it raises only what is not a studio error
    (the record already says failed). Used by the embedded workers and by a Ray worker
    (:mod:`gtzan_core.cluster.remote`). ``train_fn`` replaces
    :func:`~.recorded.fit_on_device` (tests): it returns the trainer's outcome."""
    import dataclasses

    from ..data import open_dataset
    from ..feature_cache import feature_request, load_features
    from ..training import Cancelled

    config = dataclasses.replace(job.config, device=device) if device else job.config
    fit = train_fn or fit_on_device

    def attempt():
        from ..classroom import load_settings
        from ..classroom.quota import check_storage

        check_storage(load_settings(), job.owner, store)  # the owner may have filled their share meanwhile
        if store.read(job.run_id).get("status") == Status.RUNNING.value:  # (a Ray executor has started it already)
            lifecycle.set_phase(store, job.run_id, "features")
        else:
            lifecycle.start(store, job.run_id, "features", dispatched=time.time())

        def feature_progress(done, total, message):
            if job.cancel.is_set():
                raise Cancelled("stopped while preparing features")
            store.update(job.run_id, progress={"done": done, "total": total, "message": message})

        ds = open_dataset(job.data_path, progress=feature_progress)
        if feature_loader is not None:
            fs = feature_loader(ds, progress=feature_progress)
        else:
            fs = load_features(ds, progress=feature_progress, **feature_request(job.config.model, job.image_source))
        store.update(job.run_id, progress=None)
        return fit(config, fs, store, job.run_id, cancel=job.cancel, dataset_info=ds.run_info(),
                   progress=lambda d, t, m: store.update(job.run_id, progress={"done": d, "total": t, "message": m}))

    with contextlib.suppress(StudioError):  # a full disk included: the record says so, the server goes on
        conclude(store, job.run_id, attempt)


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
