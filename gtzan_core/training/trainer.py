"""Training a run: Adam + cross-entropy on logits, early stopping on the monitored
set, the best model checkpointed, the test set evaluated once at the end.

The trainer reports; it does not store, and it does not decide how a run's life is
recorded. What it learns on the way goes to a *sink* (:class:`RunSink`: its phases,
facts, each epoch, each best checkpoint); :func:`fit` then returns the run's
:class:`Outcome` (finished, or cancelled after at least one epoch with its best
model evaluated) or raises (:class:`~.loop.Cancelled` before the first epoch ended,
a :class:`~gtzan_core.errors.StudioError`, anything else). The job's execution
(:mod:`gtzan_core.jobs.recorded`) creates the run, holds the GPU slot, gives the
trainer a sink that writes to the run store and maps the outcome to the run's
lifecycle in one place, so the training package knows no run store. A per-epoch
callback receives the full :class:`EpochLog`, a ``threading.Event`` cancels the run
(checked every batch), and every improvement is reported as a checkpoint, so a
stopped or killed run keeps its best model.

What depends on the model's input (the checks on the features, its samples, their
per-batch preparation, what is recorded of them) is asked of its input kind
(``spec.kind``, :mod:`gtzan_core.inputs`); what depends on the model (mixed
precision, variants) of its spec.

The monitored set is the validation split, except under the ``paper`` protocol,
which (as the paper's code did) early-stops and picks the model on its test set;
such runs are labelled so everywhere.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Protocol

import numpy as np
import torch
from torch import nn

from .. import GENRES
from ..errors import ConfigError
from ..evaluation import evaluate, test_predictions
from ..feature_cache import FeatureSet
from ..hparams import TrainConfig
from ..models import ModelSpec, build_model, count_parameters, get_spec
from ..splits import Split, genre_coverage, split_for, split_problems
from . import distributed
from .backbone_cache import backbone_tag, cached_backbone_outputs
from .checkpoints import checkpoint_state
from .device import device_label, resolve_device, seed_everything
from .loop import Cancelled, Distill, Diverged, EarlyStopping, EpochLog, loss_acc, predict_logits, run_epoch
from .recipe import Augment, make_optimizer, make_scheduler

log = logging.getLogger(__name__)


class RunSink(Protocol):
    """Where a training run reports on the way (:class:`gtzan_core.jobs.recorded.StoreSink`
    records it in the run store). Its end is :func:`fit`'s result, not a report."""

    @property
    def run_id(self) -> str | None: ...  # the run it reports for (read-only here: a plain attribute will do)

    def phase(self, phase: str, **fields) -> None: ...  # "backbone pass", "training", "evaluating"
    def note(self, **fields) -> None: ...  # facts on the way (world size...)
    def epoch(self, **fields) -> None: ...  # history, epochs run, best so far
    def checkpoint(self, state_dict: dict, meta: dict) -> None: ...  # a new best model


class Teacher(Protocol):
    """A teacher run's predictions, for knowledge distillation (:class:`gtzan_core.distillation.RunTeacher`
    reads them from the run store). The trainer asks it about its training tracks alone."""

    def check_held_out(self, track_ids: list[str]) -> None: ...  # refuse a teacher that saw these tracks
    def track_probabilities(self, track_ids: list[str]) -> dict[str, np.ndarray]: ...  # per training track
    def facts(self) -> dict: ...  # what the run records about its teacher


@dataclass(frozen=True)
class Outcome:
    """How a run that trained at least one epoch ended: ``finished`` (its epochs, or early
    stopping) or ``cancelled`` (stopped; its best model was evaluated all the same), with
    the fields its record ends with (the evaluation, the training time...)."""

    status: str
    fields: dict = field(default_factory=dict)
    #: what it predicted for each test track (:func:`~gtzan_core.evaluation.test_predictions`),
    #: kept beside the record (the store's ``predictions.json``); None when the test set was not read
    predictions: dict | None = None


def feature_facts(features: FeatureSet, dataset_info: dict | None = None) -> dict:
    """What a run's record says about its inputs once they are extracted: the dataset and
    the feature parameters (recorded when training starts)."""
    return {"dataset": dataset_info or {"label": features.dataset_label, "fingerprint": features.fingerprint},
            **features.record_params()}


def fit(
    config: TrainConfig,
    features: FeatureSet,
    sink: RunSink,
    on_epoch: Callable[[EpochLog], None] | None = None,
    cancel: threading.Event | None = None,
    progress: Callable | None = None,
    dataset_info: dict | None = None,
    device: torch.device | None = None,
    teacher: Teacher | None = None,
) -> Outcome:
    """Train ``config.model`` on ``features``, reporting to ``sink`` (whose run exists);
    returns the :class:`Outcome`, or raises (:class:`~.loop.Cancelled` when stopped
    before the first epoch ended). ``teacher``: the run ``config.teacher`` names, whose
    soft targets on the training split join the loss (required when it names one)."""
    config.validate()
    if (config.teacher is None) != (teacher is None):
        raise ConfigError("a run with a teacher needs its teacher's predictions (and one without, none)")
    spec = get_spec(config.model)
    device = device or resolve_device(config.device)
    run = _Run(config, features, sink, sink.run_id, feature_facts(features, dataset_info), spec, device, on_epoch,
               cancel or threading.Event(), progress)
    run.teacher = teacher
    return run.execute()


@dataclass
class _Data:
    """The split and the labelled samples it indexes (segments or tracks)."""

    split: Split
    y: torch.Tensor
    groups: np.ndarray  # the track of each sample


@dataclass
class _Inputs:
    """What the optimiser trains and what it is fed."""

    trainable: nn.Module
    x: torch.Tensor
    prep: Callable
    backbone_cached: bool | None = None


class _Run:
    """One training run as a short sequence of named steps (see :meth:`execute`)."""

    def __init__(self, config: TrainConfig, features: FeatureSet, sink: RunSink, run_id: str | None, facts: dict,
                 spec: ModelSpec, device: torch.device, on_epoch, cancel: threading.Event, progress):
        self.config, self.features, self.sink, self.spec = config, features, sink, spec
        self.run_id, self.facts, self.dataset_info = run_id, facts, facts["dataset"]
        self.device, self.on_epoch, self.cancel, self.progress = device, on_epoch, cancel, progress
        self.amp = spec.amp
        self.t_start = time.perf_counter()
        self.teacher: Teacher | None = None

    def execute(self) -> Outcome:
        seed_everything(self.config.seed)
        data = self.split_data()
        if self.spec.fit is not None:  # fitted by its own strategy (the scikit-learn baselines), not by epochs
            return self.fit_by_strategy(data)
        model, weights, options = self.build_model()
        inputs = self.model_inputs(model, weights, data)
        self.record_start(model, weights, data, inputs)
        stopper, status = self.fit(model, weights, options, inputs, data)
        return self.evaluate_best(inputs, data, stopper, status)

    # -- steps -----------------------------------------------------------------
    def split_data(self) -> _Data:
        config, kind = self.config, self.spec.kind
        kind.check_features(self.features, self.spec)  # extracted with what this model reads
        # the tracks this kind can read: those it has rows of (a kind on audio skips tracks without)
        self.features = features = self.features.for_kind(kind.name)
        synthetic = features.dataset_label != "GTZAN"
        _, sample_track = kind.samples(features)
        split = split_for(features.tracks, sample_track, kind.name, config.protocol, config.seed,
                          config.val_frac, config.test_frac, synthetic)
        data = _Data(split, torch.from_numpy(features.track_labels[sample_track]), np.asarray(sample_track))
        if len(split.train) == 0 or len(split.val) == 0 or len(split.test) == 0:
            raise ConfigError(f"the {config.protocol} split leaves an empty set {split.sizes()}: "
                              "the dataset is too small")
        # Recorded on every run whose split cannot say much (the CLI, the Train page and
        # Reproduce refuse such a split unless the user insists), shown beside its numbers.
        self.coverage = genre_coverage(split, features.tracks, sample_track)
        self.split_warnings = split_problems(self.coverage)
        return data

    def build_model(self):
        config = self.config
        options: dict = self.spec.kind.build_options(self.features)
        if self.spec.frozen_backbone:
            options = {"pretrained": config.pretrained, "frozen": config.freeze_backbone}
            if self.spec.variants and config.variant:
                options["variant"] = config.variant
        options.update(config.model_options())  # the Transformer's depth, width, dropout
        model, weights = build_model(config.model, len(GENRES), **options)
        if self.spec.frozen_backbone and config.pretrained and not weights.pretrained:
            log.warning("%s: %s", config.model, weights.source)
        return model, weights, options

    def model_inputs(self, model: nn.Module, weights, data: _Data) -> _Inputs:
        config, features, kind = self.config, self.features, self.spec.kind
        samples, _ = kind.samples(features)
        prep = kind.batch_prep(self.spec)  # a batch of stored samples -> the model's tensor
        if self.spec.frozen_backbone and config.freeze_backbone:
            self.sink.phase("backbone pass")
            size = "x".join(map(str, samples.shape[1:]))
            tag = backbone_tag(config.model, config.variant, weights.sha256, config.seed, size, len(samples))
            x, cached = cached_backbone_outputs(features, model.backbone, tag, self.device, self.progress,
                                                self.cancel, inputs=samples, prep=prep)
            return _Inputs(model.head, x, _identity, cached)
        # the whole model trains: the inputs live on the device as stored, prepared per batch there
        x = torch.from_numpy(np.ascontiguousarray(samples))
        if config.standardize:
            kind.standardize(model, x[torch.from_numpy(data.split.train)], self.spec)
        return _Inputs(model, x, prep)

    def record_start(self, model: nn.Module, weights, data: _Data, inputs: _Inputs) -> None:
        features = self.features
        self.sink.phase(
            "training", **self.facts, device=device_label(self.device),
            pretrained=weights.pretrained, weights_note=weights.source, weights=weights.backbone_ref(),
            trainable_params=count_parameters(model), total_params=count_parameters(model, False),
            split={**data.split.sizes(), "unit": data.split.unit, "note": data.split.note,
                   "monitor": "test" if data.split.selection_on_test else "validation",
                   "tracks_per_genre": self.coverage, "seen_tracks": self.seen_tracks(data)},
            split_warnings=self.split_warnings or None,
            backbone_cached=inputs.backbone_cached,
            **self.spec.kind.record_facts(features),  # what its kind records of its inputs
            mixed_precision="bf16" if self.device.type == "cuda" and self.amp else None,
            started=time.time(),
        )

    def seen_tracks(self, data: _Data) -> list[str]:
        """The ids of the tracks the model trained or was chosen on (train and validation
        parts): an evaluation on another folder leaves these tracks out."""
        seen = np.unique(data.groups[np.concatenate([data.split.train, data.split.val])])
        return sorted(str(t) for t in self.features.tracks["track_id"].to_numpy()[seen])

    def soft_targets(self, data: _Data) -> Distill | None:
        """The teacher's soft targets for the training samples (None without a teacher): asked of
        the teacher for the training split's tracks alone, never a validation or test clip, after it
        is checked against the held-out tracks (a teacher that trained or was chosen on one of this
        run's test tracks is refused). Each sample gets its track's probabilities (the teacher's own
        answer for the clip, its windows averaged), so student and teacher may read different inputs."""
        if self.teacher is None:
            return None
        ids = self.features.tracks["track_id"].to_numpy().astype(str)
        part = {name: sorted(set(ids[np.unique(data.groups[getattr(data.split, name)])]))
                for name in ("train", "val", "test")}
        if data.split.selection_on_test:
            raise ConfigError("distillation needs a validation split apart from the test set: use the track "
                              "protocol, not the paper's")
        self.teacher.check_held_out(part["test"])
        t0 = time.perf_counter()
        probs = self.teacher.track_probabilities(part["train"])
        missing = [t for t in part["train"] if t not in probs]
        if missing:
            raise ConfigError(f"the teacher has no prediction for {len(missing)} of the training tracks "
                              f"(e.g. {missing[0]}): it cannot read them")
        table = np.zeros((len(data.y), len(GENRES)), np.float32)
        train = data.split.train
        table[train] = np.log(np.clip(np.stack([probs[t] for t in ids[data.groups[train]]]), 1e-8, 1.0))
        self.sink.note(distillation={**self.teacher.facts(), "temperature": self.config.kd_temperature,
                                     "alpha": self.config.kd_alpha, "train_tracks": len(part["train"]),
                                     "alignment": "per track", "seconds": round(time.perf_counter() - t0, 2)})
        return Distill(torch.from_numpy(table).to(self.device), self.config.kd_temperature, self.config.kd_alpha)

    def fit(self, model: nn.Module, weights, options: dict, inputs: _Inputs, data: _Data):
        """The epoch loop with early stopping; every improvement is checkpointed."""
        config, device, sink = self.config, self.device, self.sink
        distill = self.soft_targets(data)
        trainable = inputs.trainable.to(device)
        self.x_dev, self.y_dev = inputs.x.to(device), data.y.to(device)
        tr, va = (torch.from_numpy(s).to(device) for s in (data.split.train, data.split.val))
        opt = make_optimizer([p for p in trainable.parameters() if p.requires_grad], config)
        scheduler = make_scheduler(opt, len(distributed.shard(tr)), config.batch_size, config)
        # masks act on the model's input: never on a frozen backbone's cached outputs (refused by the config)
        augment = Augment.for_config(config, self.spec.kind.mask_axes if trainable is model else None)
        gen = torch.Generator().manual_seed(config.seed)
        head_only = trainable is not model and config.freeze_backbone and weights.pretrained
        ckpt_meta = self.checkpoint_meta(options, weights, head_only)
        step_model = distributed.wrap(trainable, device)
        if step_model is not trainable:
            sink.note(world_size=distributed.dist_world()[0])
        stopper = EarlyStopping(config.patience)
        self.best_state = None
        history: list[dict] = []
        status = "finished"
        order = tr[torch.randperm(len(tr), generator=gen).to(device)]  # same on every rank (same seed)
        for epoch in range(1, config.epochs + 1):
            t_epoch = time.perf_counter()
            if config.reshuffle and epoch > 1:
                order = tr[torch.randperm(len(tr), generator=gen).to(device)]
            sums = run_epoch(step_model, opt, self.x_dev, self.y_dev, distributed.shard(order), config.batch_size,
                             inputs.prep, device, self.cancel, self.amp, augment, scheduler, distill)
            if self.cancel.is_set():
                status = "cancelled"
                break
            loss_sum, correct, seen = distributed.reduce_epoch(*sums, device)
            val_loss, val_acc = loss_acc(predict_logits(trainable, self.x_dev, va, inputs.prep, device, amp=self.amp),
                                         self.y_dev[va])
            Diverged.check(epoch, (loss_sum / seen).item(), val_loss)  # failed, never "cancelled"
            improved = stopper.step(epoch, val_loss)
            if improved:
                self.best_state = copy.deepcopy({k: v.detach().cpu() for k, v in trainable.state_dict().items()})
                sink.checkpoint(checkpoint_state(model, trainable, self.best_state, head_only),
                                {**ckpt_meta, "epoch": epoch, "val_loss": val_loss})
            entry = EpochLog(epoch, (loss_sum / seen).item(), (correct / seen).item(), val_loss, val_acc,
                             time.perf_counter() - t_epoch, time.perf_counter() - self.t_start, improved)
            history.append(asdict(entry))
            sink.epoch(history=history, epochs_run=epoch, best_epoch=stopper.best_epoch,
                       best_val_loss=stopper.best_loss)
            if self.on_epoch:
                self.on_epoch(entry)
            if stopper.should_stop:
                break
        if self.best_state is None:
            raise Cancelled("stopped before the first epoch finished")
        trainable.load_state_dict(self.best_state)
        return stopper, status

    def checkpoint_meta(self, options: dict, weights, head_only: bool) -> dict:
        return {"model": self.config.model, "options": options, **self.features.record_params(),
                "classes": list(GENRES),
                "run_id": self.run_id, "dataset": self.dataset_info, "pretrained": weights.pretrained,
                "backbone": weights.backbone_ref() if head_only else None}

    def fit_by_strategy(self, data: _Data) -> Outcome:
        """A model fitted by ``spec.fit`` on the training split, chosen on validation (its
        history: one entry per iteration or candidate), then evaluated once on test like
        every run. It runs on the CPU."""
        from ..models.weights import WeightsStatus

        self.device, self.amp = torch.device("cpu"), False
        samples, _ = self.spec.kind.samples(self.features)
        x = np.ascontiguousarray(samples, dtype=np.float32)
        y, sp = data.y.numpy(), data.split
        result = self.spec.fit.fit(x[sp.train], y[sp.train], x[sp.val], y[sp.val], self.config, self.cancel,
                                   n_classes=len(GENRES))
        if result is None:
            raise Cancelled("stopped before the first fit finished")
        model = result.model
        weights = WeightsStatus(False, result.note)
        inputs = _Inputs(model, torch.from_numpy(x), _identity)
        self.record_start(model, weights, data, inputs)
        self.sink.note(fit=result.facts)
        options = {**self.spec.kind.build_options(self.features), **result.options}
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        self.sink.checkpoint(state, {**self.checkpoint_meta(options, weights, False), "epoch": result.best_epoch,
                                     "val_loss": result.best_val_loss})
        self.sink.epoch(history=result.history, epochs_run=len(result.history), best_epoch=result.best_epoch,
                        best_val_loss=result.best_val_loss)
        if self.on_epoch:
            for entry in result.history:
                self.on_epoch(EpochLog(**entry))
        self.x_dev = inputs.x
        status = "cancelled" if self.cancel.is_set() else "finished"
        return self.evaluate_best(inputs, data, _Stopped(result.early_stopped), status)

    def evaluate_best(self, inputs: _Inputs, data: _Data, stopper, status: str) -> Outcome:
        self.sink.phase("evaluating")
        common = dict(train_seconds=time.perf_counter() - self.t_start, early_stopped=stopper.should_stop)
        if not self.config.evaluate_test:  # a search's trial: its best model on validation, the test set unread
            val_eval = _scores(inputs.trainable, self.x_dev, data.split.val, inputs.prep, self.device, self.amp, data)
            return Outcome(status, dict(val_evaluation=val_eval, test_evaluated=False, **common))
        evaluation, predictions = _test_scores(inputs.trainable, self.x_dev, inputs.prep, self.device, self.amp,
                                               data, self.features.tracks["track_id"].to_numpy())
        return Outcome(status, dict(evaluation=evaluation, **common), predictions)


def _probs(model: nn.Module, x: torch.Tensor, idx: np.ndarray, prep, device, amp: bool, batch: int) -> np.ndarray:
    logits = predict_logits(model, x, torch.from_numpy(idx).to(x.device), prep, device, batch=batch, amp=amp)
    return torch.softmax(logits.float(), 1).cpu().numpy()


def _scores(model: nn.Module, x: torch.Tensor, idx: np.ndarray, prep, device, amp: bool, data: _Data,
            batch: int = 512) -> dict:
    """``model``'s evaluation on the samples ``idx`` of ``x`` (per sample and per track)."""
    return evaluate(_probs(model, x, idx, prep, device, amp, batch), data.y.numpy()[idx], data.groups[idx])


def _test_scores(model: nn.Module, x: torch.Tensor, prep, device, amp: bool, data: _Data, track_ids: np.ndarray,
                 batch: int = 512) -> tuple[dict, dict]:
    """The one look at the test split, and what kind of look it was (leaky, chosen on test);
    with what it predicted for each test track (:func:`~gtzan_core.evaluation.test_predictions`)."""
    idx = data.split.test
    probs = _probs(model, x, idx, prep, device, amp, batch)
    y, groups = data.y.numpy()[idx], data.groups[idx]
    evaluation = evaluate(probs, y, groups)
    evaluation["leaky"] = data.split.leaky
    evaluation["selection_on_test"] = data.split.selection_on_test
    return evaluation, test_predictions(probs, y, groups, track_ids)


def test_evaluation(config: TrainConfig, features: FeatureSet, model: nn.Module,
                    device: torch.device | None = None) -> tuple[dict, dict]:
    """The one look at the test set of a run that trained without it (``evaluate_test``
    False: a search's best trial, after its study ended): ``model`` (the run's best,
    rebuilt from its checkpoint) evaluated on the test split ``config`` draws from
    ``features``, as :func:`fit` would have at its end. Returns the evaluation and what it
    predicted for each test track (:func:`~gtzan_core.evaluation.test_predictions`); also
    how a run recorded before its predictions were kept gets them."""
    spec = get_spec(config.model)
    device = device or resolve_device(config.device)
    run = _Run(config, features, _NoSink(), None, feature_facts(features), spec, device, None, threading.Event(), None)
    data = run.split_data()
    samples, _ = run.spec.kind.samples(run.features)
    prep = run.spec.kind.batch_prep(spec)
    x = torch.from_numpy(np.ascontiguousarray(samples))  # (on the CPU: each batch moves to the device)
    model = model.to(device).eval()
    return _test_scores(model, x, lambda b: prep(b.to(device)), device, run.amp, data,
                        run.features.tracks["track_id"].to_numpy(), batch=64)


class _NoSink:
    """A sink that records nothing (:func:`test_evaluation` trains nothing)."""

    run_id = None

    def phase(self, phase: str, **fields) -> None:
        pass

    def note(self, **fields) -> None:
        pass

    def epoch(self, **fields) -> None:
        pass

    def checkpoint(self, state_dict: dict, meta: dict) -> None:
        pass


def _identity(x):
    return x


@dataclass(frozen=True)
class _Stopped:
    """Whether a strategy's fit stopped early (what :meth:`_Run.evaluate_best` reads of a stopper)."""

    should_stop: bool
