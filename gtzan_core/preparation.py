"""(moving) First-start preparation is a :class:`gtzan_core.jobs.BackgroundJob`."""
from .jobs.background import BackgroundJob as PreparationJob, demo_preparation  # noqa: F401
