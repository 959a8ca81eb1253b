"""Runs: the store of run folders, the one owner of a run's life, and what is read
from them.

===============  ==================================================================
module           what it holds
===============  ==================================================================
``store``        :class:`RunStore`: run folders, locked reads and writes of
                 ``record.json`` (reads have no side effects), checkpoints
``record``       the record, defined once: :class:`Status`, the phases,
                 :class:`RunRecord` (each field one :class:`RecordField`:
                 from it the schema check, :func:`parse_record`, the typed
                 attribute and the JSON written) and the migrations
``lifecycle``    the only code that sets a run's status, phase, finish time and
                 error: queued -> running -> finished / cancelled / failed, and
                 reaping runs whose process died
``sink``         :class:`StoreSink`: what the trainer reports, written to the store
``trash``        deleted runs, recoverable until purged
===============  ==================================================================

The leaderboard built from them is ``gtzan_core.leaderboard`` (it reads who vouches for
a run's numbers, ``gtzan_core.claims``, which reads the records).
"""

from .record import (
                     ACTIVE,
                     PHASES,
                     RECORD_VERSION,
                     DatasetInfo,
                     Evaluation,
                     ExternalEvaluation,
                     PaddedInputs,
                     Progress,
                     RecordError,
                     RecordField,
                     RunRecord,
                     Scores,
                     SplitInfo,
                     Starter,
                     Status,
                     Trial,
                     migrate,
                     parse_record,
                     record_problems,
)
from .store import (
                     CHECKPOINT_FORMAT,
                     RESERVED_NAMES,
                     STALE_AFTER,
                     STOP_FLAG,
                     DamagedRun,
                     RunStore,
                     check_run_id,
                     load_checkpoint_file,
)

__all__ = [
    "ACTIVE", "CHECKPOINT_FORMAT", "DamagedRun", "DatasetInfo", "Evaluation", "ExternalEvaluation", "PaddedInputs",
    "PHASES",
    "Progress", "RECORD_VERSION", "Scores", "SplitInfo", "Starter", "Trial", "migrate", "RESERVED_NAMES",
    "RecordError", "RecordField", "RunRecord",
    "RunStore",
    "STALE_AFTER", "STOP_FLAG", "Status", "check_run_id", "load_checkpoint_file", "parse_record", "record_problems",
]
