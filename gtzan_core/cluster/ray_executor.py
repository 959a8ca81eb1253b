"""The job manager's Ray executor: one Ray task per training job (see the package docstring).

Failure policy: a job whose Ray worker process or node dies is marked ``failed``
with an error that says so, and is **not** retried (``max_retries=0``): a retry
would start the run over under the same run id, erasing the history the class has
already seen; pressing Start again is one click. Other jobs are unaffected.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from pathlib import Path

from .. import settings
from ..errors import ConfigError
from ..runs import ACTIVE, RunStore, lifecycle

log = logging.getLogger(__name__)

ADDRESS_ENV = "GTZAN_STUDIO_RAY_ADDRESS"
#: CPUs a job asks for on a cluster without GPUs (a GPU job asks for 1 CPU and 1/K GPU)
CPUS_ENV = "GTZAN_STUDIO_RAY_CPUS_PER_JOB"
#: at most this many jobs in flight, whatever room the cluster has
MAX_JOBS_ENV = "GTZAN_STUDIO_RAY_MAX_JOBS"
#: the variable a Ray task sets so the trainer leaves GPU placement to Ray (no studio GPU slot files)
SLOTS_ENV = "GTZAN_STUDIO_GPU_SLOTS"


def ray_address(env: dict | None = None) -> str | None:
    """The cluster address from ``GTZAN_STUDIO_RAY_ADDRESS`` (None: no cluster, the embedded workers)."""
    return settings.get(ADDRESS_ENV, env)


def _import_ray():
    try:
        import ray
    except ImportError:
        raise ConfigError(f"{ADDRESS_ENV} is set but Ray is not installed here: "
                          "pip install -r requirements-cluster.txt "
                          "(or unset it to train in the app's process)") from None
    return ray


class RayExecutor:
    """Runs jobs as Ray tasks on the cluster at ``address`` (connects unless this process
    already has a Ray connection). ``jobs_per_gpu``: K jobs share a GPU (each task asks
    for ``1/K`` GPU); ``cpus_per_job``: what a job asks for on a CPU-only cluster;
    ``max_jobs``: at most this many in flight; ``stop_grace``: seconds a stopped job
    gets to reach the end of a batch before its task is cancelled by force."""

    def __init__(self, address: str = "auto", jobs_per_gpu: int | None = None, cpus_per_job: float | None = None,
                 max_jobs: int | None = None, stop_grace: float = 30.0):
        from ..training.gpu_slots import jobs_per_gpu as default_jobs_per_gpu

        self._ray = ray = _import_ray()
        self.address = address
        if not ray.is_initialized():
            try:
                ray.init(address=address, namespace="gtzan-studio", log_to_driver=False,
                         configure_logging=False)
            except Exception as exc:  # ConnectionError mostly; Ray raises others for a bad address
                raise ConfigError(f"no Ray cluster at {ADDRESS_ENV}={address!r}: {type(exc).__name__}: {exc}") from None
        self.jobs_per_gpu = jobs_per_gpu or default_jobs_per_gpu()
        self.cpus_per_job = cpus_per_job or settings.get(CPUS_ENV)
        self.max_jobs = int(max_jobs or settings.get(MAX_JOBS_ENV))
        self.stop_grace = stop_grace
        self._capacity_cache: tuple[float, int] = (0.0, 0)
        self._lock = threading.Lock()
        from .remote import train_on_worker

        # no retries: see the module docstring
        self._task = ray.remote(max_retries=0)(train_on_worker)

    # -- room on the cluster ---------------------------------------------------
    def resources(self) -> dict[str, float]:
        return self._ray.cluster_resources()

    def capacity(self) -> int:
        """Jobs the cluster has room for at once: GPUs x K on a GPU cluster, else CPUs
        divided by the CPUs a job asks for; read from Ray at most every 5 s, so nodes
        that join (``ray start`` elsewhere) are used without restarting the app."""
        with self._lock:
            when, cached = self._capacity_cache
            if time.monotonic() - when < 5.0:
                return cached
            try:
                res = self.resources()
                gpus = float(res.get("GPU", 0))
                cap = (int(gpus * self.jobs_per_gpu + 1e-9) if gpus
                       else int(float(res.get("CPU", 0)) // self.cpus_per_job))
            except Exception as exc:  # the cluster is unreachable: send one job; its error will say why
                log.warning("could not read the Ray cluster's resources: %s", exc)
                cap = 1
            cap = min(max(cap, 1), self.max_jobs)
            self._capacity_cache = (time.monotonic(), cap)
            return cap

    def task_options(self, device: str) -> dict:
        """What one job asks Ray for: 1/K of a GPU (and a CPU) for a GPU job on a GPU cluster, else CPUs."""
        if device in ("auto", "cuda") and float(self.resources().get("GPU", 0)) > 0:
            return {"num_gpus": 1.0 / self.jobs_per_gpu, "num_cpus": 1}
        return {"num_cpus": self.cpus_per_job}

    def runtime_env(self) -> dict:
        """The task's environment: the studio's settings (``GTZAN_STUDIO_*`` but passwords, the run store
        and studio home at the same paths: the shared volume), and where gtzan_core is."""
        import gtzan_core

        package_root = str(Path(gtzan_core.__file__).resolve().parents[1])
        # never a secret: Ray keeps a task's runtime env in its control store, readable cluster-wide
        env = {k: v for k, v in settings.studio_environment().items() if k != ADDRESS_ENV}
        from ..paths import studio_home

        env["GTZAN_STUDIO_HOME"] = str(studio_home())
        env[SLOTS_ENV] = "ray"
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH", "")) if p)
        return {"env_vars": env}

    # -- one job ---------------------------------------------------------------
    def run(self, job, store: RunStore) -> None:
        """Run ``job`` on the cluster and wait for it (called on a dispatcher thread of the
        job manager). Stop: the manager has set the run's stop flag; the task stops after its
        batch, or is cancelled by force after ``stop_grace`` seconds."""
        ray = self._ray
        options = self.task_options(job.config.device)
        spec = job.spec.to_dict()
        now = time.time()
        lifecycle.start(store, job.run_id, "waiting for room on the Ray cluster", dispatched=now,
                        executor={"kind": "ray", "address": self.address, "resources": options, "dispatched": now})
        ref = self._task.options(**options, runtime_env=self.runtime_env(),
                                 name=f"gtzan-train-{job.run_id}").remote(str(store.root), job.run_id, spec)
        stop_seen, forced = None, False
        while not ray.wait([ref], timeout=0.5)[0]:
            if job.cancel.is_set() and not forced:
                stop_seen = stop_seen or time.monotonic()
                if time.monotonic() - stop_seen > self.stop_grace:
                    ray.cancel(ref, force=True)
                    forced = True
        try:
            ray.get(ref)
        except Exception as exc:
            self._record_failure(store, job.run_id, exc, forced)
        finally:
            self._note(store, job.run_id, collected=time.time())

    def _record_failure(self, store: RunStore, run_id: str, exc: Exception, forced: bool) -> None:
        errors = self._ray.exceptions
        record = store.read(run_id)
        if record.get("status") not in ACTIVE:  # the task recorded its own end (a failed run, say)
            return
        if isinstance(exc, errors.TaskCancelledError) or forced:
            lifecycle.cancel(store, run_id, f"stopped: the Ray task did not reach the end of a batch within "
                                            f"{self.stop_grace:.0f} s and was cancelled; the best checkpoint so far "
                                            "is kept")
            return
        died = (errors.WorkerCrashedError, errors.NodeDiedError, errors.OwnerDiedError, errors.ObjectLostError,
                errors.LocalRayletDiedError, errors.OutOfMemoryError)
        if isinstance(exc, died):
            where = (record.get("executor") or {})
            place = f" (pid {where['pid']} on {where.get('host', '?')})" if where.get("pid") else ""
            message = (f"the Ray worker running this job died{place}: {type(exc).__name__}. Nothing else was lost; "
                       "the best checkpoint so far is kept. Training jobs are not retried: press Start again.")
        elif isinstance(exc, errors.RuntimeEnvSetupError):
            message = f"Ray could not set up the job's environment on a node: {exc}"
        else:
            cause = getattr(exc, "cause", None) or exc
            message = f"the job failed on the Ray cluster: {type(cause).__name__}: {cause}"
        log.warning("ray job %s: %s", run_id, message)
        lifecycle.fail(store, run_id, message)

    @staticmethod
    def _note(store: RunStore, run_id: str, **fields) -> None:
        with contextlib.suppress(Exception):  # pragma: no cover - a run deleted meanwhile
            store.merge(run_id, "executor", **fields)

