"""Search studies in the run store: where they live, and a trial's sink.

Studies use Optuna's journal storage, one append-only file per owner under the run
store's ``.studies/`` folder (a hidden folder: never taken for a run). Why the journal
and not SQLite: a journal file needs no database engine or schema migrations, is
appended to under a file lock by every process that opens it (the server's driver and a
Ray worker's trial sink alike, on a shared volume too), and replays to the study's exact
state after a crash. One file per owner, and study names prefixed by their owner, keep
two owners' studies apart: a visitor's driver opens only their own file, and a study is
refused to anyone but the owner it names.

A search trial's sink (:class:`TrialSink`): what the run reports goes to the run store as
for any run (:class:`~.sink.StoreSink`), and each epoch's validation accuracy to the
trial's study, whose pruner may stop it: then :class:`~gtzan_core.training.Pruned` is
raised from the report, after the epoch was recorded and any new best model
checkpointed; the job records the run ``pruned``. The trainer never sees Optuna or the
store: it reports to whichever sink the job gave it
(:func:`gtzan_core.jobs.recorded.run_sink`). The study is opened from its journal in the
run store, so this works in any process that sees the store (a Ray worker's too).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from ..errors import ConfigError, StudioError
from ..training import Pruned
from .sink import StoreSink

STUDIES_DIR = ".studies"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class NotYourStudy(StudioError):
    """A study another owner started."""


def owner_key(owner: str | None) -> str:
    return owner or "local"


def journal_path(root: str | Path, owner: str | None) -> Path:
    """The journal file of ``owner``'s studies in the run store at ``root``."""
    digest = hashlib.sha256(owner_key(owner).encode()).hexdigest()[:16]
    return Path(root) / STUDIES_DIR / f"{digest}.journal"


def lock_path(root: str | Path, owner: str | None, name: str) -> Path:
    """The lock a search of ``owner``'s study ``name`` holds while it drives it (two
    searches of one name are refused, not interleaved)."""
    digest = hashlib.sha256(full_name(owner, name).encode()).hexdigest()[:16]
    return Path(root) / STUDIES_DIR / f"{digest}.lock"


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(f"a study name is 1-64 letters, digits, '_', '.' or '-' (got {name!r})")
    return name


def full_name(owner: str | None, name: str) -> str:
    """The study's name in the storage: its owner's, then its own."""
    return f"{owner_key(owner)}/{check_name(name)}"


def open_storage(root: str | Path, owner: str | None):
    """``owner``'s journal storage in the run store at ``root`` (created on first use)."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    path = journal_path(root, owner)
    path.parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


def study_names(root: str | Path, owner: str | None) -> list[str]:
    """``owner``'s studies (their own names), oldest first."""
    import optuna

    if not journal_path(root, owner).is_file():
        return []
    prefix = owner_key(owner) + "/"
    summaries = optuna.get_all_study_summaries(open_storage(root, owner), include_best_trial=False)
    return [s.study_name[len(prefix):] for s in sorted(summaries, key=lambda s: s._study_id)
            if s.study_name.startswith(prefix)]


def make_pruner(settings: dict):
    """The study's pruner from its recorded settings: Optuna's median pruner on the
    validation curve (a trial stops when its accuracy at an epoch is below the median
    of the earlier trials' at that epoch)."""
    import optuna

    return optuna.pruners.MedianPruner(n_startup_trials=int(settings.get("n_startup_trials", 3)),
                                       n_warmup_steps=int(settings.get("n_warmup_steps", 2)))


class TrialSink:
    """``sink`` for a run that is trial ``study["trial"]`` of ``study["name"]`` (its
    owner's journal in the store at ``root``)."""

    def __init__(self, sink: StoreSink, root: str | Path, study: dict):
        self.sink, self.root, self.study = sink, Path(root), study
        self._trial: Any = None

    @property
    def run_id(self) -> str | None:
        return self.sink.run_id

    def phase(self, phase: str, **fields) -> None:
        self.sink.phase(phase, **fields)

    def note(self, **fields) -> None:
        self.sink.note(**fields)

    def checkpoint(self, state_dict: dict, meta: dict) -> None:
        self.sink.checkpoint(state_dict, meta)

    def epoch(self, **fields) -> None:
        self.sink.epoch(**fields)
        history = fields.get("history") or []
        if not history:
            return
        last = history[-1]
        trial = self.trial()
        trial.report(float(last["val_acc"]), step=int(last["epoch"]))
        if trial.should_prune():
            raise Pruned(f"pruned after epoch {last['epoch']}: validation accuracy {last['val_acc']:.3f} below "
                         "the median of the earlier trials at that epoch")

    def trial(self):
        if self._trial is None:
            import optuna

            storage = open_storage(self.root, self.study.get("owner"))
            study = optuna.load_study(study_name=self.study["name"], storage=storage,
                                      pruner=make_pruner(self.study.get("pruner") or {}))
            self._trial = optuna.trial.Trial(study, int(self.study["trial_id"]))
        return self._trial
