"""Training recorded in the run store: the one public :func:`train` (the CLI, the
notebook API, reproductions and tests call it; the queue's workers run the same
steps through :func:`~.execution.execute_job`), and :func:`conclude`, the one place
where how a run ended becomes its lifecycle's end.

The run is described once, when it is created (:func:`describe_job`); the trainer
(:func:`gtzan_core.training.trainer.fit`) reports on the way to a
:class:`~gtzan_core.runs.sink.StoreSink` and returns its outcome or raises. This is
also the caller that waits for a GPU slot: the run exists first (so the wait shows,
as phase "waiting for the GPU"), then holds one of the device's K training slots
(:mod:`gtzan_core.training.gpu_slots`) for as long as it trains.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from importlib import metadata
from typing import TYPE_CHECKING

from .. import GENRES
from ..errors import DiskFullError, StudioError
from ..feature_cache import FeatureSet
from ..hparams import TrainConfig
from ..runs import RunStore, Status, lifecycle
from ..runs.record import RECORD_VERSION, RunRecord
from ..runs.sink import StoreSink
from .job import JobSpec

log = logging.getLogger(__name__)

if TYPE_CHECKING:  # (imported for its type alone: the trainer is loaded when a run trains)
    from ..training.trainer import Outcome


def describe_job(spec: JobSpec, dataset_info: dict | None = None) -> RunRecord:
    """What a run records about itself when it is created, once: the model, its
    settings and protocol, the job, who asked, the environment. (What is learnt later,
    the features' parameters, the split, the device, comes as the run goes.)"""
    import platform

    from ..models import get_spec
    from ..splits import protocol_info

    config, model = spec.config, get_spec(spec.config.model)
    try:
        torch_version = metadata.version("torch")
    except metadata.PackageNotFoundError:  # pragma: no cover - torch is a requirement
        torch_version = None
    return RunRecord({
        "model": config.model, "title": model.title, "input_kind": model.input_kind, "citation": model.citation,
        "protocol": config.protocol, **protocol_info(config.protocol, model.input_kind),
        "recipe": config.recipe, "recipe_changes": config.recipe_changes(), "config": config.as_dict(),
        "family": model.family, "licence": model.licence, "classes": list(GENRES), "history": [],
        "dataset": dataset_info or {"label": spec.label, "root": spec.data_path},
        "torch": torch_version, "python": platform.python_version(), **spec.extra,
        "job": spec.to_dict(), "owner": spec.owner, "record_version": RECORD_VERSION,
    })


def conclude(store: RunStore, run_id: str, attempt: Callable[[], Outcome]) -> RunRecord:
    """Run ``attempt`` (the job's work, ending in the trainer's
    :class:`~gtzan_core.training.trainer.Outcome`) and record how it ended, the one place
    that does: finished or cancelled with the outcome's fields; stopped before an epoch
    ended: cancelled, saying when; anything raised: failed with the error (raised
    again). Returns the final record."""
    from ..training import Cancelled, Pruned

    try:
        outcome = attempt()
        if outcome.predictions:  # (beside the record: a confusion cell lists its tracks from them)
            try:
                store.save_predictions(run_id, test=outcome.predictions)
            except (OSError, DiskFullError) as exc:  # (the run is still finished: they are made again when asked)
                log.warning("run %s: its per-track predictions could not be kept (%s)", run_id, exc)
        end = lifecycle.finish if outcome.status == Status.FINISHED.value else lifecycle.cancel
        return end(store, run_id, **outcome.fields)
    except Cancelled as exc:
        return lifecycle.cancel(store, run_id, str(exc) or "cancelled before the first epoch finished")
    except Pruned as exc:  # a search's trial its pruner stopped: an end of its own, never a failure
        return lifecycle.prune(store, run_id, str(exc) or "pruned on its validation curve")
    except DiskFullError as exc:  # the last good checkpoint is intact (written atomically)
        kept = ("; the run stopped, its best checkpoint so far is kept" if store.checkpoint_path(run_id).is_file()
                else "")
        lifecycle.fail(store, run_id, f"{exc}{kept}")
        raise
    except StudioError as exc:
        lifecycle.fail(store, run_id, str(exc))
        raise
    except Exception as exc:
        lifecycle.fail(store, run_id, f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc()[-4000:])
        raise


def fit_on_device(config: TrainConfig, features: FeatureSet, store: RunStore, run_id: str,
                  on_epoch: Callable | None = None, cancel: threading.Event | None = None,
                  progress: Callable | None = None, dataset_info: dict | None = None):
    """The trainer on ``config``'s device, holding one of its training slots; the run
    starts (or, already running, moves on) when it has one. Returns the trainer's
    outcome; stopped while waiting for the GPU raises :class:`~gtzan_core.training.Cancelled`."""
    from ..training import Cancelled, device_slot, resolve_device
    from ..training.trainer import fit

    cancel = cancel or threading.Event()

    def begin(phase: str, or_move_on: bool) -> None:  # (a queue's job is running already: its features)
        if store.read(run_id).get("status") == Status.QUEUED.value:
            lifecycle.start(store, run_id, phase)
        elif or_move_on:
            lifecycle.set_phase(store, run_id, phase)

    device = resolve_device(config.device)
    teacher = None
    if config.teacher is not None:  # (checked against the dataset before anything trains)
        from ..distillation import RunTeacher

        teacher = RunTeacher(store, config.teacher, dataset_info or {"label": features.dataset_label,
                                                                     "fingerprint": features.fingerprint},
                             str(device))
    try:
        with device_slot(device, cancel, on_wait=lambda: begin("waiting for the GPU", True)) as slot:
            begin("training", False)
            if slot is not None:  # which of the device's K training slots this run holds
                store.update(run_id, gpu_slot={"device": str(device), "slot": slot})
            return fit(config, features, run_sink(store, run_id), on_epoch, cancel, progress, dataset_info, device,
                       teacher)
    except InterruptedError:
        raise Cancelled("stopped while waiting for the GPU; never started") from None


def run_sink(store: RunStore, run_id: str):
    """The sink run ``run_id`` reports to: the store's, and for a search's trial (its
    record names a ``study``) the trial's, which also reports each epoch's validation
    accuracy to the study and raises :class:`~gtzan_core.training.Pruned` when its pruner
    says so (:mod:`gtzan_core.runs.studies`)."""
    sink = StoreSink(store, run_id)
    study = store.read(run_id).get("study")
    if isinstance(study, dict):
        from ..runs.studies import TrialSink

        return TrialSink(sink, store.root, study)
    return sink


def train(config: TrainConfig, features: FeatureSet, store: RunStore | None = None,
          on_epoch: Callable | None = None, cancel: threading.Event | None = None,
          progress: Callable | None = None, run_id: str | None = None, dataset_info: dict | None = None,
          extra: dict | None = None, spec: JobSpec | None = None) -> RunRecord:
    """Train ``config.model`` on ``features`` and record the run in ``store`` (default:
    the studio's); returns its final record. ``run_id``: an existing (queued) run to
    record into; None creates one, described by ``spec`` (default: a job of ``config``
    with ``extra``, more fields for the record). The status ends finished, cancelled
    (best checkpoint kept) or failed (with the error, raised)."""
    config.validate()
    store = store or RunStore()
    if run_id is None:
        spec = spec or JobSpec(config, extra=dict(extra or {}))
        run_id = lifecycle.create(store, describe_job(spec, dataset_info))
    return conclude(store, run_id, lambda: fit_on_device(config, features, store, run_id, on_epoch, cancel, progress,
                                                         dataset_info))
