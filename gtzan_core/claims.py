"""Who vouches for a run's numbers: the studio, or a file somebody imported.

A run trained here has numbers the studio measured. An imported run's numbers (its
history, its test scores, its dataset's label) are **claims of the file**: anyone can
write a record.json with a validation accuracy of 1.0 and recompute the manifest's
hashes. So an imported run

- is never a shipped starter: the starters are known by the run ids the repository
  ships (:data:`gtzan_core.starter.STARTERS`, all in the reserved ``starter-*``
  namespace no import may take) with a record the studio made, never by a field a file
  can set (the import drops ``starter``);
- is *claimed* until the studio measures it itself: ``evaluate RUN --data FOLDER`` on a
  labelled folder of this studio (:mod:`gtzan_core.external`) after the import; its
  weight in a default answer is then that measured accuracy, never the file's;
- enters a default answer only for its importer, and only when chosen (a claimed
  import is not in :func:`gtzan_core.inference.default_selection`).

On a class instance "yours" means yours: another visitor's run (an owner-less one
included) enters your default answer only once the admin promotes it to the class
(:func:`promote`, recorded as ``promoted`` and in the audit log).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

#: Run ids starting with this are the studio's shipped starters: no import may take one.
RESERVED_PREFIX = "starter-"


def shipped_starter(record: Mapping, run_id: str | None = None) -> bool:
    """Whether ``record`` (of run ``run_id``, default its own ``run_id``) is one of the
    starters the repository ships: its run id is in the starters' reserved namespace
    (:data:`gtzan_core.starter.STARTERS`' ids; only ``make_starter`` writes one, never an
    import), it carries the starter's facts, and it was not imported."""
    rid = str(run_id or record.get("run_id") or "")
    return rid.startswith(RESERVED_PREFIX) and bool(record.get("starter")) and not record.get("imported")


def imported(record: Mapping) -> bool:
    return bool(record.get("imported"))


def measured_accuracy(record: Mapping) -> float | None:
    """An imported run's accuracy as this studio measured it: its newest evaluation on a
    labelled folder made after the import with clips scored (None: never measured here)."""
    from .runs.record import RunRecord

    since = float((record.get("imported") or {}).get("at") or 0)
    for ev in RunRecord.of(dict(record)).external_evaluations:  # newest first
        if ev.date >= since and ev.n_scored and ev.accuracy is not None:
            return float(ev.accuracy)
    return None


def claimed(record: Mapping) -> bool:
    """An imported run the studio has not measured: its numbers are the file's word."""
    return imported(record) and measured_accuracy(record) is None


def promoted(record: Mapping) -> bool:
    """Promoted by the admin to the class: it may enter every visitor's default answer."""
    return bool(record.get("promoted"))


def provenance_text(record: Mapping) -> str:
    """How tables and labels mark where a run's numbers come from ("" for a run trained
    here)."""
    if not imported(record):
        return ""
    if claimed(record):
        return "imported: its numbers are claimed by the file, not measured here"
    return f"imported: measured here (accuracy {measured_accuracy(record):.3f})"


def promote(store, run_id: str, who: str | None, on: bool = True):
    """The admin promotes run ``run_id`` to the class (``on``), or withdraws it; a claimed
    import cannot be promoted until the studio has measured it. Audited."""
    from .audit import audit
    from .errors import ConfigError

    record = store.read(run_id)
    if on and claimed(record):
        raise ConfigError(f"run {run_id} is an import whose numbers are claimed by its file: measure it here first "
                          f"(python -m gtzan_core evaluate {run_id} --data FOLDER), then promote it")
    record = store.update(run_id, promoted={"by": who or "admin", "at": time.time()} if on else None)
    audit(store.root, who, "promote" if on else "withdraw promotion", run_id)
    return record
