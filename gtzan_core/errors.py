"""User-facing errors: each one carries a single line that names the problem.

The CLI turns any :class:`StudioError` into ``error: <message>`` and exit status 2;
the app shows it with ``st.error``. Anything else is a bug and keeps its traceback.
"""


class StudioError(Exception):
    """A problem with the user's input or environment, explained in one line."""


class AudioError(StudioError):
    """An audio file that cannot be used (unreadable, too short, empty...)."""


class DatasetError(StudioError):
    """A dataset folder that cannot be used (missing, no genre folders...)."""


class DownloadError(StudioError):
    """A download or archive extraction that failed."""


class CheckpointError(StudioError):
    """A checkpoint or run that cannot be loaded or does not fit the request."""


class ConfigError(StudioError):
    """Bad hyperparameters, unknown model name, unknown protocol..."""


class OutputError(StudioError):
    """A file the user asked for cannot be written where they said (a folder, a device, a
    link, a file that exists already...): refused with nothing written."""


class DiskFullError(StudioError):
    """A write failed because the disk (or the user's disk quota) is full: the file
    being written is left as it was, nothing half-written."""
