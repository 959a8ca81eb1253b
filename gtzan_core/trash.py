"""(moving) The trash lives in :mod:`gtzan_core.runs.trash`."""
from .runs.trash import *  # noqa: F401,F403
from .runs.trash import TRASH_DIR, META, list_trash, move_to_trash, purge_entry, purge_expired, restore_run, trash_days, trash_root, empty_trash  # noqa: F401
