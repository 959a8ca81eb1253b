"""Background jobs: the training queue, one job's execution, and the one-off tasks
a server shares.

==============  ==================================================================
module          what it holds
==============  ==================================================================
``job``         :class:`Job`: a queued run and what it needs to start
``queue``       :class:`JobManager`: the fair queue, its worker slots, Stop, resuming
                the jobs a dead server left queued
``execution``   :func:`execute_job`: one job to its end in this process (embedded
                workers and Ray workers alike)
``background``  :class:`BackgroundJob`: the download and the demo-set build
==============  ==================================================================
"""

from .background import BackgroundJob, demo_preparation, download_job
from .execution import execute_job, lower_priority
from .job import Job
from .queue import JobManager

__all__ = ["BackgroundJob", "Job", "JobManager", "demo_preparation", "download_job", "execute_job",
           "lower_priority"]

