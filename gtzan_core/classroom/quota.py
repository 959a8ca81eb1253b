"""Per-owner storage on a shared instance: what an owner's runs (trashed ones
included, until purged) take in the run store, against ``GTZAN_STUDIO_MAX_STORAGE_MB``.
Checked before a job is queued, again when it starts, and before an import (with the
archive's declared sizes, before anything is unpacked: the importer is charged)."""

from __future__ import annotations

from ..runs.trash import usage_by_owner
from .rules import QuotaExceeded, Settings

MB = 1024 * 1024


def check_storage(settings: Settings, owner: str | None, store, admin: bool = False, adding: int = 0) -> None:
    """Refuse when ``owner`` already uses (plus ``adding`` bytes) more than the limit
    (classroom mode with a limit set; admins exempt)."""
    if not settings.classroom or admin or settings.max_storage_mb is None:
        return
    used = usage_by_owner(store).get(owner, 0)
    limit = settings.max_storage_mb * MB
    if used + adding > limit:
        more = f" + {adding / MB:.0f} MB for this one" if adding else ""
        raise QuotaExceeded(f"{owner or 'this visitor'} uses {used / MB:.0f} MB of the run store{more}; the limit "
                            f"on this shared instance is {settings.max_storage_mb} MB per person (delete runs, and "
                            "ask the admin to empty the trash, to make room)")
