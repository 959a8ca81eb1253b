"""One job trained here and now, in this process, in the foreground: what the CLI's
``train`` does (outside torchrun) and :func:`gtzan_core.api.train` calls. The queue's
workers run :func:`~.execution.execute_job` instead (a record that exists already,
Stop, quotas checked again when the job starts)."""

from __future__ import annotations

from collections.abc import Callable

from ..runs import RunRecord, RunStore
from .job import JobSpec
from .preflight import command_line_gate, preflight


def train_here(spec: JobSpec, store: RunStore | None = None, *, force_weak: bool = False, how_to_force: str = "",
               on_epoch: Callable | None = None, progress: bool = True,
               warn: Callable[[str], None] | None = None) -> RunRecord:
    """Check ``spec`` (:func:`~.preflight.preflight`), open its dataset, extract (or read
    the cached) features and train, recording the run in ``store`` (default: the
    studio's); returns the final record. ``progress``: tqdm bars (a notebook's widgets
    under Jupyter, via ``tqdm.auto``) for the demo set's synthesis, the features and a
    frozen backbone's pass; ``on_epoch(EpochLog)`` after each epoch; ``warn`` receives
    the warnings of a weak split forced through (default: dropped; they are recorded
    on the run)."""
    from ..data import open_dataset
    from ..feature_cache import feature_request, load_features
    from ..progress import tqdm_progress
    from .recorded import train

    store = store or RunStore()
    command_line_gate([spec], store)  # before anything slow: the instance's limits, the weights, the memory budget
    with tqdm_progress("synthesising demo set", "track", disable=not progress) as p:
        ds = open_dataset(spec.data_path, progress=p)
    for line in preflight([spec], dataset=ds, force_weak=force_weak, how_to_force=how_to_force, store=store):
        if warn is not None:
            warn(line)
    with tqdm_progress("features", "track", disable=not progress) as p:
        fs = load_features(ds, progress=p, **feature_request(spec.config.model, spec.image_source))
    with tqdm_progress("backbone pass", "img", disable=not progress) as p:
        return train(spec.config, fs, store, on_epoch=on_epoch, progress=p, dataset_info=ds.run_info(),
                     spec=spec)
