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
import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

from ..errors import ConfigError, StudioError
from ..training import Pruned
from .sink import StoreSink

STUDIES_DIR = ".studies"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class NotYourStudy(StudioError):
    """A study another owner started."""


class DamagedJournal(StudioError):
    """An owner's study journal that Optuna cannot replay (a garbage line, a cut tail):
    named with the studies in it and what is wrong; :func:`repair_journal` mends it."""


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
    """``owner``'s journal storage in the run store at ``root`` (created on first use);
    a damaged journal is refused (:class:`DamagedJournal`) before Optuna reads it."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    path = journal_path(root, owner)
    path.parent.mkdir(parents=True, exist_ok=True)
    check_journal(path, owner)
    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


#: journals found whole, by (path, inode, size, mtime): not scanned again until they change
_WHOLE: set[tuple[str, int, int, int]] = set()


def journal_problem(path: str | Path) -> tuple[str, int, list[str]] | None:
    """What is wrong with the study journal at ``path``, if anything: ``(problem, bytes of
    the whole records before it, the studies those records name)``. Each line must be a
    whole UTF-8 JSON record of Optuna's (an ``op_code``), ending in a line end."""
    path = Path(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
    if key in _WHOLE:
        return None
    if not path.is_file() or path.is_symlink():
        return "it is not a regular file", 0, []
    data = path.read_bytes()
    good, number = 0, 0
    studies: list[str] = []
    while good < len(data):
        number += 1
        end = data.find(b"\n", good)
        if end < 0:
            return f"line {number} is cut short (no line end: a write that never finished)", good, studies
        line = data[good:end]
        try:
            record = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError:
            return f"line {number} is not UTF-8 text", good, studies
        except (json.JSONDecodeError, RecursionError):
            return f"line {number} is not a JSON record", good, studies
        if not isinstance(record, dict) or not isinstance(record.get("op_code"), int):
            return f"line {number} is not one of Optuna's journal records", good, studies
        if isinstance(record.get("study_name"), str):
            studies.append(record["study_name"])
        good = end + 1
    _WHOLE.add(key)
    return None


def check_journal(path: Path, owner: str | None) -> None:
    """Raise :class:`DamagedJournal` naming ``owner``'s journal at ``path``, its studies and
    what is wrong (a last line still being written is looked at again a moment later)."""
    found = journal_problem(path)
    if found is not None and "cut short" in found[0]:
        time.sleep(0.2)  # (an append in progress under Optuna's lock ends in milliseconds)
        found = journal_problem(path)
    if found is None:
        return
    problem, _, studies = found
    prefix = owner_key(owner) + "/"
    names = [n[len(prefix):] for n in studies if n.startswith(prefix)]
    raise DamagedJournal(f"the study journal of {owner_key(owner)} ({STUDIES_DIR}/{path.name}; studies: "
                         f"{', '.join(names) or 'none readable'}) is damaged: {problem}; repair it (the Train "
                         "page's Repair button, or `python -m gtzan_core repair`): the whole records before it are "
                         "kept, the file as it was is backed up beside it")


def repair_journal(root: str | Path, owner: str | None) -> Path | None:
    """Mend ``owner``'s damaged study journal: the file as it is copied to
    ``<journal>.damaged-<time>``, then the whole records before the first damaged line kept
    (Optuna replays a journal in order: a record after a gap could name a trial it never
    made). Returns the backup (None: nothing was damaged)."""
    return repair_journal_file(journal_path(root, owner))


def repair_journal_file(path: Path) -> Path | None:
    """:func:`repair_journal` of the journal at ``path``."""
    found = journal_problem(path)
    if found is None:
        return None
    _, good, _ = found
    backup = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
    if path.is_file() and not path.is_symlink():
        shutil.copy2(path, backup)
        data = path.read_bytes()[:good]
    else:
        os.replace(path, backup)
        data = b""
    tmp = path.with_name(path.name + ".repair")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return backup


def damaged_journals(root: str | Path) -> list[tuple[Path, str]]:
    """Every damaged study journal of the run store at ``root``: (its path, what is wrong)."""
    folder = Path(root) / STUDIES_DIR
    out = []
    for path in sorted(folder.glob("*.journal")) if folder.is_dir() else []:
        found = journal_problem(path)
        if found is not None:
            out.append((path, found[0]))
    return out


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
