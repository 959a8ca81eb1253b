"""Every check before a job is queued, in one place: the Train page, the CLI and
reproductions call :func:`preflight` with the jobs they are about to start, and
nothing is queued unless it passes.

In order: each job's configuration and picture source; the weights a pretrained
model needs on this machine; its estimated memory against the budget
(:func:`gtzan_core.training.memory.check_memory`); who may queue how much on a shared instance (jobs at
once, epochs per job, storage); whether each job's split on its dataset can say
anything. The first problem is raised as a :class:`~gtzan_core.errors.StudioError`
subclass whose message is one line naming it (the same words in the app and the
CLI); a weak split that the caller forces through comes back as a warning.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..errors import ConfigError
from .job import JobSpec

PAPER_REFUSAL = ("a search cannot use the paper protocol: it early-stops and picks its model on the test set, so "
                 "the search would tune on the test set; use the track protocol")


def check_protocol(protocol: str) -> None:
    """A search (or a trial of one) refuses the paper protocol, in one line saying why."""
    if protocol == "paper":
        raise ConfigError(PAPER_REFUSAL)


def preflight(specs: Sequence[JobSpec], *, dataset=None, force_weak: bool = False, how_to_force: str = "",
              settings=None, store=None, admin: bool = False, active: int = 0) -> list[str]:
    """Check ``specs`` before any of them is queued; returns the warnings of a weak split
    that ``force_weak`` lets through, one line per job ("Title: problem").

    ``dataset``: the :class:`~gtzan_core.data.Dataset` they train on (None: the split is
    not checked, e.g. a job whose dataset opens only when it starts). ``how_to_force``:
    the sentence the weak-split error ends with (how this caller forces it).
    ``settings`` (:class:`~gtzan_core.classroom.Settings`): the shared instance's limits,
    checked for the jobs' owner, who has ``active`` jobs queued or running already
    (``admin``: exempt); ``store``: the run store whose storage share is checked and where
    a job's teacher run (knowledge distillation) must be, on ``dataset``."""
    from ..models import check_weights, get_spec
    from ..splits import WeakSplitError, planned_problems_of
    from ..training.memory import check_memory

    specs = list(specs)
    for spec in specs:
        spec.config.validate()
        if spec.extra.get("study") is not None:
            check_protocol(spec.config.protocol)
        check_weights(spec.config.model, spec.config.pretrained, spec.config.variant)
        check_memory(spec.config)  # before anything is allocated
    if settings is not None and specs:
        from ..classroom.quota import check_storage
        from ..classroom.rules import check_submit

        owner = specs[0].owner
        check_submit(settings, owner, admin, active, max(s.config.epochs for s in specs), len(specs))
        if store is not None:
            check_storage(settings, owner, store, admin)
    warnings: list[str] = []
    if dataset is None:
        return warnings
    if store is not None:
        from ..distillation import check_teacher

        for spec in specs:
            if spec.config.teacher is not None:  # a finished run on this dataset, with the same genres
                check_teacher(store, spec.config.teacher, dataset.fingerprint)
    configs = [s.config for s in specs]
    for config, problems in zip(configs, planned_problems_of(configs, dataset, False), strict=True):
        if problems and not force_weak:
            raise WeakSplitError(config.protocol, problems, how_to_force)
        warnings += [f"{get_spec(config.model).title}: {p}" for p in problems]
    return warnings


def job_gate(store=None, active_count: Callable[[str | None], int] | None = None, *, admin: bool | None = None,
             settings=None) -> Callable[[JobSpec], None]:
    """The one gate for work queued on someone's behalf after they asked: a search's trials
    (its start, every later trial, a resume) and the jobs a restarted queue takes over.
    It is :func:`preflight` with the instance's settings (default: read now, so a limit
    the admin lowers applies to the next trial), the run ``store`` whose storage share is
    checked and ``active_count(owner)``, the owner's jobs queued or running already.
    ``admin``: the one who asked is the admin (exempt from the per-visitor limits); None:
    decided by the job, an owner-less job being the admin's (made from the CLI or by the
    admin: a visitor's always has an owner, as the Train page refuses one without).
    Raises like :func:`preflight`."""

    def check(spec: JobSpec) -> None:
        from ..classroom import load_settings

        preflight([spec], settings=settings if settings is not None else load_settings(), store=store,
                  admin=(spec.owner is None) if admin is None else admin,
                  active=active_count(spec.owner) if active_count is not None else 0)

    return check


def command_line_gate(specs: Sequence[JobSpec], store=None) -> None:
    """The gate of the command line's jobs (``train``, ``reproduce``, ``search``,
    :func:`gtzan_core.api.train`): :func:`preflight` with the instance's settings. On a
    shared instance whoever has the server's shell is its admin, so the per-visitor limits
    (jobs at once, signing in) do not apply; the epochs per job, the memory budget and the
    storage share of the command line's (owner-less) runs in ``store`` do. Raises like
    :func:`preflight`."""
    from ..classroom import load_settings
    from ..classroom.quota import check_storage
    from ..classroom.rules import check_epochs

    specs = list(specs)
    settings = load_settings()
    preflight(specs, settings=settings, store=store, admin=True)  # each job's knobs, weights, memory budget
    if settings.classroom and specs:
        check_epochs(settings, max(s.config.epochs for s in specs))
        if store is not None:
            check_storage(settings, specs[0].owner, store)


def command_line_check(store=None) -> Callable[[JobSpec], None]:
    """:func:`command_line_gate` for one job at a time: a command line search's trials."""
    return lambda spec: command_line_gate([spec], store)
