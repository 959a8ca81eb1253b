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


# -- kept for the web layer until it uses its own progress text and BackgroundJob --
def job_progress(record: dict) -> dict:
    """Progress numbers for a run record: epoch, total epochs, fraction, ETA seconds,
    and a one-line summary for a run that ended ("done · early-stopped at epoch 25
    of 300 (best epoch 15)")."""
    history = record.get("history") or []
    total = int((record.get("config") or {}).get("epochs") or 1)
    epoch = len(history)
    eta = None
    if history and record.get("status") == "running":
        per_epoch = history[-1]["elapsed"] / epoch
        patience = int((record.get("config") or {}).get("patience") or total)
        since_best = epoch - int(record.get("best_epoch") or epoch)
        remaining = min(total - epoch, max(patience - since_best, 0))
        eta = per_epoch * remaining
    best = record.get("best_epoch")
    best_text = f" (best epoch {best})" if best else ""
    status = record.get("status")
    if status == "cancelled":
        summary = f"stopped at epoch {epoch} of {total}{best_text}"
    elif record.get("early_stopped") or (status == "finished" and epoch < total):
        summary = f"done · early-stopped at epoch {epoch} of {total}{best_text}"
    else:
        summary = f"done · all {epoch} epochs{best_text}"
    return {"epoch": epoch, "total": total, "fraction": min(1.0, epoch / total), "eta": eta, "summary": summary}


def DownloadJob() -> BackgroundJob:  # noqa: N802
    return download_job()
