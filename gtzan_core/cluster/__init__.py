"""Running the app's training jobs on a Ray cluster (optional: ``pip install -r requirements-cluster.txt``).

With ``GTZAN_STUDIO_RAY_ADDRESS`` set (``auto``, or a cluster address such as
``10.0.0.5:6379``) the app's :class:`~gtzan_core.jobs.JobManager` stays the
dispatcher: the fair queue, owners, quotas, Stop and the persisted queue are the
studio's as without Ray. :class:`RayExecutor` is where a job runs: each one becomes
a Ray task asking for ``1/K`` of a GPU (K = ``GTZAN_STUDIO_JOBS_PER_GPU``) on a GPU
cluster, or ``GTZAN_STUDIO_RAY_CPUS_PER_JOB`` CPUs on a CPU cluster, and Ray places
it on a node with room. The task (:mod:`.remote`) trains exactly as the embedded
workers do and writes the run store itself, so the run store (and the dataset)
must be on a volume every node mounts at the same path; see ``deploy/README.md``.
"""

from .ray_executor import RayExecutor, ray_address

__all__ = ["RayExecutor", "ray_address"]
