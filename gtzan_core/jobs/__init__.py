"""Background jobs: the training queue, one job's execution, and the one-off tasks
a server shares.

==============  ==================================================================
module          what it holds
==============  ==================================================================
``job``         :class:`JobSpec`: everything a job needs (its one serialisation);
                :class:`Job`: a queued run holding one
``preflight``   :func:`preflight`: every check before a job is queued
``queue``       :class:`JobManager`: the fair queue, its worker slots, Stop, resuming
                the jobs a dead server left queued
``recorded``    :func:`train`, the one public train: a run created and described once,
                trained on its device's slot, its end recorded by :func:`conclude`
``execution``   :func:`execute_job`: one job to its end in this process (embedded
                workers and Ray workers alike)
``local``       :func:`~.local.train_here`: one job trained in the foreground (the CLI)
``background``  :class:`BackgroundJob`: the download and the demo-set build
==============  ==================================================================
"""

from .background import BackgroundJob, demo_preparation, download_job, numba_preparation, weights_preparation
from .execution import execute_job, lower_priority
from .job import Job, JobSpec
from .preflight import preflight
from .queue import JobManager
from .recorded import conclude, describe_job, train

__all__ = ["BackgroundJob", "Job", "JobManager", "JobSpec", "conclude", "describe_job", "preflight", "train",
           "demo_preparation", "download_job", "execute_job", "lower_priority", "numba_preparation",
           "weights_preparation"]

