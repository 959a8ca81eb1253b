"""Shared-instance settings: who may do what when one studio serves a whole class.

``GTZAN_STUDIO_MODE=personal`` (the default) is a single user's studio: everyone
may do everything, as before. ``classroom`` turns on the rules of a shared
instance:

- a visitor may stop or delete only their own runs and jobs, and imports only when
  signed in (the run is theirs, charged to their storage); an admin (who signs
  in with ``GTZAN_STUDIO_ADMIN_PASSWORD`` or ``admin_password`` in
  ``.streamlit/secrets.toml``) may do anything;
- per-owner limits: jobs queued or running at once (``GTZAN_STUDIO_MAX_JOBS``,
  default 2), epochs per job (``GTZAN_STUDIO_MAX_EPOCHS``, default none), upload
  size in MB (``GTZAN_STUDIO_UPLOAD_MB``, default 50), storage in the run store
  (``GTZAN_STUDIO_MAX_STORAGE_MB``, default none; see :mod:`.quota`);
- the training queue is fair (round-robin across owners; see :func:`fair_order`);
- dataset paths cannot be typed and GTZAN cannot be downloaded, except by the admin
  (who sets the class's dataset).

Nothing here imports Streamlit: the pages ask these functions and show the
messages they raise.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..errors import StudioError

MODES = ("personal", "classroom")


class PermissionDenied(StudioError):
    """The visitor may not do this on a shared instance."""


class QuotaExceeded(StudioError):
    """A per-owner limit of a shared instance was reached."""


class TooManyJobs(QuotaExceeded):
    """The owner has as many jobs queued or running as the instance allows: one more may
    be queued once one ends (a search's next trial waits for that)."""


@dataclass(frozen=True)
class Settings:
    mode: str = "personal"
    max_jobs: int = 2
    max_epochs: int | None = None
    upload_mb: int = 50
    admin_password: str | None = None
    max_storage_mb: int | None = None

    @property
    def classroom(self) -> bool:
        return self.mode == "classroom"


def load_settings(env: Mapping[str, str] | None = None, secrets: Mapping | None = None) -> Settings:
    """The instance's settings from the environment (:mod:`gtzan_core.settings`) and the
    admin password from secrets when the environment has none."""
    from .. import settings as studio

    def get(name):
        return studio.get(name, env)

    password = get("GTZAN_STUDIO_ADMIN_PASSWORD") or (secrets or {}).get("admin_password") or None
    return Settings(mode=get("GTZAN_STUDIO_MODE"), max_jobs=get("GTZAN_STUDIO_MAX_JOBS"),
                    max_epochs=get("GTZAN_STUDIO_MAX_EPOCHS"), upload_mb=get("GTZAN_STUDIO_UPLOAD_MB"),
                    admin_password=password, max_storage_mb=get("GTZAN_STUDIO_MAX_STORAGE_MB"))


def toolbar_mode(env: Mapping[str, str] | None = None) -> str:
    """Streamlit's ``client.toolbarMode`` for this instance: ``viewer`` on a classroom
    instance (its visitors never see Streamlit's developer options: Deploy, Rerun, Clear
    cache, the developer menu), ``auto`` in personal mode (Streamlit's default: the
    developer options only for a browser on the same machine)."""
    from .. import settings as studio

    return "viewer" if studio.get("GTZAN_STUDIO_MODE", env) == "classroom" else "auto"


def check_admin_password(settings: Settings, attempt: str) -> bool:
    """Whether ``attempt`` is the admin password (constant-time; False when none is set)."""
    if not settings.admin_password or not attempt:
        return False
    return hmac.compare_digest(settings.admin_password.encode(), attempt.encode())


def can_modify(settings: Settings, user: str | None, admin: bool, record: Mapping) -> bool:
    """Whether ``user`` may stop or delete the run of ``record``."""
    if not settings.classroom or admin:
        return True
    return bool(user) and record.get("owner") == user


def check_modify(settings: Settings, user: str | None, admin: bool, record: Mapping, action: str) -> None:
    if not can_modify(settings, user, admin, record):
        owner = record.get("owner") or "nobody"
        raise PermissionDenied(f"you can {action} only your own runs on this shared instance "
                               f"(run {record.get('run_id')} belongs to {owner})")


def check_import(settings: Settings, user: str | None, admin: bool) -> None:
    """Refuse an import by a visitor who has not signed in (classroom mode): an imported
    run belongs to its importer, whose storage it is charged to."""
    if settings.classroom and not admin and not user:
        raise PermissionDenied("only a signed-in visitor may import a run on this shared instance (it belongs to "
                               "whoever imports it and counts against their storage): sign in with your name in "
                               "the sidebar first")


def check_submit(settings: Settings, user: str | None, admin: bool, active_of_user: int, epochs: int,
                 n_new: int = 1) -> None:
    """Refuse a submission past the owner's limits (classroom mode, admins exempt)."""
    if not settings.classroom or admin:
        return
    if not user:
        raise PermissionDenied("sign in with your name in the sidebar first (claim it with a passcode the first "
                               "time): on a shared instance every job has an owner")
    if active_of_user + n_new > settings.max_jobs:
        raise TooManyJobs(f"you have {active_of_user} job(s) queued or running; the limit on this shared instance "
                            f"is {settings.max_jobs} at a time (stop one, or wait for one to finish)")
    check_epochs(settings, epochs)


def check_epochs(settings: Settings, epochs: int) -> None:
    """Refuse a job of more epochs than a shared instance allows (whoever asks: the
    command line's jobs, the admin's, pass it as well as a visitor's)."""
    if settings.classroom and settings.max_epochs is not None and epochs > settings.max_epochs:
        raise QuotaExceeded(f"{epochs} epochs asked; the limit on this shared instance is {settings.max_epochs} "
                            "per job")


def fair_order(waiting: Iterable, owner_of, last_served: Mapping[str, float]) -> list:
    """The order in which ``waiting`` jobs (already in submission order) will start:
    round-robin across owners, each owner's jobs first come first served. The owner
    served longest ago (or never) goes next; ``last_served``: owner -> time."""
    waiting = list(waiting)
    queues: dict[str, list] = {}
    for job in waiting:
        queues.setdefault(owner_of(job) or "", []).append(job)
    served = dict(last_served)
    order, tick = [], max(served.values(), default=0.0)
    while queues:
        # owners never served first (in order of their first job), then longest ago
        owner = min(queues, key=lambda o: (served.get(o, float("-inf")), order_index(queues[o][0], waiting)))
        order.append(queues[owner].pop(0))
        if not queues[owner]:
            del queues[owner]
        tick += 1.0
        served[owner] = tick
    return order


def order_index(job, waiting) -> int:
    for k, j in enumerate(waiting):
        if j is job:
            return k
    return 0
