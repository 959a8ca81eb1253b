"""The training queue of the app (and anything else that wants one).

A :class:`JobManager` owns a queue and one worker thread per device *slot*: on a
CPU-only machine one job at a time; on a GPU machine K jobs per GPU
(``GTZAN_STUDIO_JOBS_PER_GPU``, default 1), each new job on the least-busy GPU
(:mod:`.training.gpu_slots`), so two users pressing Start together queue instead
of running out of memory. With an *executor* (a Ray cluster, :mod:`.cluster`) the
threads only dispatch: each starts a job on the cluster when it has room and waits
for it, so the queue's rules below hold there too. Every job has an owner; the queue is fair: round-robin across
owners, each owner's jobs in submission order (one owner queueing ten jobs does
not hold the GPU for everyone else). Each job is recorded in the run store as soon as it is submitted
(status ``queued``), so every user of a shared app sees every job, and the
record outlives the browser tab, page switches and reruns. Workers never touch
Streamlit; pages read the records.

Stopping a queued job removes it from the queue (it never starts); stopping a
running job sets its cancel flag, and the trainer keeps the best checkpoint.

The queue survives restarts: a queued job's record holds everything needed to run
it (``job``: configuration, data path, image source, extra fields) and names the
manager that holds it (``queue_owner``). A new manager on the same store
(``resume=True``, as the app's) takes over the queued jobs of a manager that shut
down or whose process died, in the order they were submitted. Only a job that was
*running* when its process died is marked failed.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import secrets
import socket
import threading
import time

from ..errors import StudioError
from ..hparams import TrainConfig
from ..runs import RunRecord, RunStore, Status, lifecycle
from .execution import execute_job, lower_priority
from .job import Job, JobSpec
from .recorded import describe_job

log = logging.getLogger(__name__)
#: How often a job manager marks the runs whose process died as failed (seconds).
REAP_EVERY = 15.0


class JobManager:
    def __init__(self, store: RunStore | None = None, slots: int | None = None, feature_loader=None,
                 resume: bool = False, devices: list[str] | None = None, jobs_per_gpu: int | None = None,
                 train_fn=None, executor=None):
        """``devices``: the GPUs to spread jobs over (default: every visible one);
        ``jobs_per_gpu``: K jobs at once per GPU (default ``GTZAN_STUDIO_JOBS_PER_GPU``, 1).
        ``slots``: worker threads (default K x GPUs, or 1 on a CPU-only machine; 0 holds
        every job in the queue). ``train_fn`` replaces :func:`~.recorded.fit_on_device`
        (tests). ``executor``: where jobs run instead of this process's threads, e.g. a
        :class:`~gtzan_core.cluster.RayExecutor`: this manager stays the dispatcher (fair
        order, owners, Stop, the persisted queue) and starts a job whenever the executor
        has room (``executor.capacity()``), up to ``executor.max_jobs`` at once."""
        from ..training.gpu_slots import DeviceAllocator, jobs_per_gpu as default_jobs_per_gpu, visible_gpus

        self.store = store or RunStore()
        self._executor = executor
        if executor is not None:
            devices = []  # the executor places jobs (Ray: num_gpus per task)
        devices = visible_gpus() if devices is None else list(devices)
        per_gpu = default_jobs_per_gpu() if jobs_per_gpu is None else jobs_per_gpu
        self._allocator = DeviceAllocator(devices, per_gpu) if devices else None
        if slots is None:
            slots = executor.max_jobs if executor is not None else self._allocator.capacity if self._allocator else 1
        self._train_fn = train_fn
        self.owner = {"manager": secrets.token_hex(4), "pid": os.getpid(), "host": socket.gethostname()}
        self._jobs: dict[str, Job] = {}  # queued and running, by run id
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._closing = False
        self._last_served: dict[str, float] = {}  # owner -> when a job of theirs last started
        self._running: set[str] = set()
        self._feature_loader = feature_loader
        self._workers = [threading.Thread(target=self._work, name=f"gtzan-train-{i}", daemon=True)
                         for i in range(slots)]
        for w in self._workers:
            w.start()
        lifecycle.reap_dead(self.store)  # a restarted server shows dead runs failed from its first page on
        self._reaper_stop = threading.Event()
        self._reaper = threading.Thread(target=self._reap, name="gtzan-reaper", daemon=True)
        self._reaper.start()
        self.resumed = self.resume_queued() if resume else []

    # -- public API ----------------------------------------------------------
    def submit(self, spec: JobSpec | TrainConfig, data_path: str | None = None, image_source: str = "auto",
               extra: dict | None = None, owner: str | None = None, dataset_label: str | None = None) -> str:
        """Queue a training job; returns its run id immediately. ``spec``: the job
        (:class:`~.job.JobSpec`), or its configuration with the job's other parts as
        keywords: ``image_source`` ``auto`` (the dataset's PNGs when present) or
        ``render`` (always from audio); ``extra``: more fields for the run record (e.g.
        the reproduction it belongs to); ``owner``: who asked (recorded; the queue is
        round-robin across owners); ``dataset_label``: how the dataset is named until
        the job opens it (default: "synthetic demo" for the demo set, else "pending").
        The checks a visitor's job needs first (weights, quotas, the split) are
        :func:`~.preflight.preflight`'s."""
        if not isinstance(spec, JobSpec):
            spec = JobSpec(spec, data_path, image_source, dict(extra or {}), owner, dataset_label)
        spec.config.validate()
        run_id = lifecycle.create(self.store, describe_job(spec).updated(queue_owner=self.owner))
        self._enqueue(Job(run_id, spec))
        return run_id

    def _enqueue(self, job: Job) -> None:
        with self._wake:
            self._jobs[job.run_id] = job
            self._wake.notify()

    def active_count(self, owner: str | None) -> int:
        """Jobs of ``owner`` queued or running here (for per-owner limits)."""
        with self._lock:
            return sum(1 for j in self._jobs.values() if j.owner == owner and not j.cancel.is_set())

    def _waiting(self) -> list[Job]:
        """Queued jobs in the order they will start (caller holds the lock)."""
        from ..classroom import fair_order

        waiting = sorted((j for j in self._jobs.values() if j.run_id not in self._running and not j.cancel.is_set()),
                         key=lambda j: j.submitted)
        return fair_order(waiting, lambda j: j.owner, self._last_served)

    def resume_queued(self) -> list[str]:
        """Take over, in submission order, the queued jobs in the store that no live
        manager holds (their server shut down or died); returns their run ids. Each passes
        the one gate again (:func:`~.preflight.job_gate`: jobs per owner, epochs, storage
        under the instance's settings now); one refused ends ``failed``, saying why."""
        mine = self.owner["manager"]

        def free(record: RunRecord) -> bool:
            owner = record.get("queue_owner") or {}
            return owner.get("manager") != mine and not self.store.queue_owner_alive(record)

        from .preflight import job_gate

        resumed, jobs = [], []
        taken: dict[str | None, int] = {}  # owner -> jobs taken over so far (they count against the owner's limit)
        gate = job_gate(self.store, lambda owner: self.active_count(owner) + taken.get(owner, 0))
        for record in sorted(self.store.list(), key=lambda r: r.get("created", 0)):
            # (a queued record a queue made whose job is damaged, null say, is taken too: it fails, saying why,
            # rather than waiting for ever)
            if record.get("status") != "queued" or not (lifecycle.in_a_queue(record) or "queue_owner" in record):
                continue
            claimed = self.store.claim_queued(record["run_id"], self.owner, free)
            if claimed is None:
                continue
            try:
                spec = JobSpec.from_record(claimed)
            except Exception as exc:  # a record from another version of the studio
                lifecycle.fail(self.store, claimed["run_id"], f"queued job could not be resumed: {exc}")
                continue
            try:  # the one gate again: the instance's limits now (an owner-less job is the admin's)
                gate(spec)
            except StudioError as exc:
                lifecycle.fail(self.store, claimed["run_id"], f"queued job refused on restart: {exc}")
                continue
            taken[spec.owner] = taken.get(spec.owner, 0) + 1
            jobs.append(Job(claimed["run_id"], spec, submitted=float(claimed.get("created", time.time()))))
            resumed.append(claimed["run_id"])
        with self._wake:  # all at once: with several workers, the fair order sees the whole queue
            for job in jobs:
                self._jobs[job.run_id] = job
            self._wake.notify_all()
        if resumed:
            log.info("resumed %d queued job(s) from the run store", len(resumed))
        return resumed

    def cancel(self, run_id: str, who: str | None = None) -> None:
        """Stop a job: a queued one never starts; a running one stops after the current batch.
        The stop is written to the audit log (``who``: the visitor who pressed Stop)."""
        from ..audit import audit

        with self._lock:
            job = self._jobs.get(run_id)
        if job is not None or self.store.read(run_id).active:
            audit(self.store.root, who, "stop", run_id)
        if job is None:
            record = self.store.read(run_id)
            if record.status is Status.QUEUED and not self.store.queue_owner_alive(record):
                self._never_started(run_id)
                return
            if record.active:
                raise StudioError(f"run {run_id} is not managed by this server; it cannot be stopped here")
            return
        job.cancel.set()
        with self._lock:
            queued = run_id not in self._running
        if queued:
            self._never_started(run_id)
            return
        self.store.update(run_id, stop_requested=time.time())  # pages say "stopping…" until it has
        if self._executor is not None:
            self.store.request_stop(run_id)  # the job's own process (a Ray worker) watches for it

    def _never_started(self, run_id: str) -> None:
        lifecycle.cancel(self.store, run_id, "stopped while queued; never started")

    def queue_position(self, run_id: str) -> int | None:
        """1 for the next job to start, ... ; None when not queued here."""
        with self._lock:
            waiting = self._waiting()
        for k, j in enumerate(waiting, 1):
            if j.run_id == run_id:
                return k
        return None

    def is_idle(self) -> bool:
        with self._lock:
            return not self._jobs

    def wait_idle(self, timeout: float = 60.0) -> bool:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.is_idle():
                return True
            time.sleep(0.05)
        return False

    def shutdown(self) -> None:
        """Stop the workers after their current job; jobs still queued are handed back
        to the store (owner cleared) for the next manager to resume."""
        with self._lock:
            waiting = [j for j in self._jobs.values() if j.run_id not in self._running and not j.cancel.is_set()]
            for j in waiting:
                j.cancel.set()  # this manager will not start them
        for j in waiting:
            with contextlib.suppress(Exception):  # pragma: no cover - a deleted run
                self.store.update(j.run_id, queue_owner=None)
        self._reaper_stop.set()
        with self._wake:
            self._closing = True
            self._wake.notify_all()

    def _reap(self) -> None:
        """Every :data:`REAP_EVERY` seconds, runs whose process died are marked failed
        (on this timer, not on every page run: pages read the store's shared listing)."""
        while not self._reaper_stop.wait(REAP_EVERY):
            try:
                lifecycle.reap_dead(self.store)
            except Exception:  # pragma: no cover - a store gone read-only; the next tick tries again
                log.exception("reaping dead runs failed")

    # -- worker --------------------------------------------------------------
    def _next(self) -> Job | None:
        """Block until a job may start (the fair queue's first), or None on shutdown."""
        with self._wake:
            while True:
                if self._closing:
                    return None
                for j in [j for j in self._jobs.values() if j.cancel.is_set() and j.run_id not in self._running]:
                    del self._jobs[j.run_id]  # cancelled while queued: never starts
                waiting = self._waiting()
                if waiting and (self._executor is None or len(self._running) < self._executor.capacity()):
                    job = waiting[0]
                    self._running.add(job.run_id)
                    self._last_served[job.owner or ""] = time.monotonic()
                    return job
                # Nothing to start: sleep until a submit or shutdown notifies (an idle
                # server's worker never wakes on its own); while jobs exist, look again
                # every 0.5 s for a queued one stopped meanwhile (cancel sets its flag only).
                self._wake.wait(0.5 if self._jobs else None)

    def _work(self) -> None:
        lower_priority()
        while True:
            job = self._next()
            if job is None:
                return
            # a GPU job takes the least-busy device with a free slot (a worker per slot: one is always free)
            place = (self._allocator.acquire() if self._allocator and job.config.device in ("auto", "cuda")
                     else None)
            try:
                self._run(job, place[0] if place else None)
            except Exception:  # the record already says failed; keep the worker alive
                log.exception("job %s failed", job.run_id)
            finally:
                if place:
                    assert self._allocator is not None  # the place came from it
                    self._allocator.release(*place)
                with self._lock:
                    self._running.discard(job.run_id)
                    self._jobs.pop(job.run_id, None)
                self._release_memory()

    def devices_in_use(self) -> dict[str, int]:
        """Jobs running on each GPU now (empty on a CPU-only machine)."""
        return self._allocator.in_use() if self._allocator else {}

    def _run(self, job: Job, device: str | None = None) -> None:
        if self._executor is not None:
            self._executor.run(job, self.store)
        else:
            execute_job(self.store, job, device, train_fn=self._train_fn, feature_loader=self._feature_loader)

    @staticmethod
    def _release_memory() -> None:
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available() and torch.cuda.is_initialized():
                torch.cuda.synchronize()
                torch.cuda.empty_cache()  # hand the job's cached blocks back to the driver
        except Exception:  # pragma: no cover - best effort
            pass
