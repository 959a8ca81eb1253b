"""The studio from Python, for notebooks: train, list, predict, evaluate and explain
in a few calls. Each function is a thin layer over what the CLI calls (the same
checks, the same run store, the same records), never a second implementation::

    from gtzan_core import api as studio

    run = studio.train("mlp", epochs=5)       # the synthetic demo set; a tqdm bar per step
    run.status, run.metrics("track")["accuracy"]
    [r.run_id for r in studio.runs()]
    studio.predict("song.wav", runs=[run.run_id]).results[run.run_id].top
    studio.explain("song.wav", run.run_id).maps["occlusion"].top_time

(Not re-exported as ``gtzan_core.train`` and so on: ``gtzan_core.runs`` and
``gtzan_core.explain`` are the library's packages of those names.)

Results are :class:`~gtzan_core.runs.RunRecord` objects (attributes, not nested
keys); every function takes ``store`` (a :class:`~gtzan_core.runs.RunStore` or a
folder; default the studio's, ``$GTZAN_STUDIO_HOME/runs``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .runs import RunRecord, RunStore

__all__ = ["evaluate", "evaluate_on", "explain", "predict", "runs", "train"]


def _store(store: RunStore | str | Path | None) -> RunStore:
    return store if isinstance(store, RunStore) else RunStore(store)


def _run_ids(runs):
    """``runs`` as a list of ids: one id (a string: never read as a list of characters),
    a record, or a list of either; None stays None (the default choice)."""
    if runs is None:
        return None
    if isinstance(runs, (str, RunRecord)):
        runs = [runs]
    return [r.run_id if isinstance(r, RunRecord) else str(r) for r in runs]


def train(model: str, data: str | Path | None = None, *, protocol: str = "track", recipe: str = "paper",
          seed: int = 0, device: str = "auto", image_source: str = "auto", allow_weak_split: bool = False,
          store: RunStore | str | Path | None = None, progress: bool = True,
          on_epoch: Callable | None = None, **settings) -> RunRecord:
    """Train ``model`` (see ``gtzan-studio models``) on the dataset at ``data`` (None: the
    synthetic demo set) under ``protocol`` (``track``, ``filtered`` or ``paper``) with
    ``recipe``'s settings, overridden by ``settings`` (``epochs=``, ``lr=``,
    ``batch_size=``, ``patience=``, ``pretrained=``, ...); returns the finished run's
    record. What ``gtzan-studio train`` does: the same preflight (a weak split is
    refused unless ``allow_weak_split``), features cached, the run recorded."""
    import warnings

    from .hparams import make_config
    from .jobs import JobSpec
    from .jobs.local import train_here

    config = make_config(model, recipe=recipe, protocol=protocol, device=device, seed=seed, **settings)
    spec = JobSpec(config, None if data is None else str(data), image_source)
    record = train_here(spec, _store(store), force_weak=allow_weak_split, progress=progress, on_epoch=on_epoch,
                        how_to_force="Pass allow_weak_split=True to train anyway.",
                        warn=lambda w: warnings.warn(f"weak split: {w}", stacklevel=3))
    return record


def runs(store: RunStore | str | Path | None = None) -> list[RunRecord]:
    """Every run of the store, newest first, a run whose process died marked failed (what
    ``gtzan-studio runs`` lists)."""
    from .runs import lifecycle

    return lifecycle.reap_dead(_store(store))


def predict(audio, runs: str | list[str] | None = None, *, store: RunStore | str | Path | None = None,
            device: str = "auto"):
    """The genre of ``audio`` (a path, bytes, or mono samples at 22.05 kHz) by each of
    ``runs`` (one run id, a list of them, or by default every run with a model): a
    :class:`~gtzan_core.inference.Prediction` (``results[run_id].top`` / ``.probs``,
    ``refused``, ``ensemble()``), as ``gtzan-studio predict``."""
    from .inference import predict as predict_audio
    from .training import resolve_device

    return predict_audio(audio, _run_ids(runs), _store(store), device=str(resolve_device(device)))


def evaluate(run: str | RunRecord, store: RunStore | str | Path | None = None) -> RunRecord:
    """The run's record with its one look at its test set (``metrics("segment")``,
    ``metrics("track")``, the per-class report in ``evaluation``), as ``gtzan-studio
    evaluate``; a run without one is refused naming its status."""
    from .errors import CheckpointError

    run_id = run.run_id if isinstance(run, RunRecord) else run
    record = _store(store).read(run_id)
    if not record.evaluated:
        raise CheckpointError(f"run {run_id} has no evaluation (status: {record.get('status')})")
    return record


def evaluate_on(runs: str | list[str], data: str | Path, label_map: dict[str, str] | None = None, *,
                store: RunStore | str | Path | None = None, device: str = "cpu", save: bool = True) -> dict:
    """Each of ``runs`` evaluated on the labelled folder ``data`` (``<label>/<audio files>``),
    saved with the run: run id -> :class:`~gtzan_core.runs.ExternalEvaluation`, as
    ``gtzan-studio evaluate RUN --data FOLDER``."""
    from .external import evaluate_folder

    return evaluate_folder(_run_ids(runs), data, _store(store), label_map, device=device, save=save)


def explain(audio, run: str | RunRecord, *, genre: str | None = None, methods: tuple[str, ...] | None = None,
            store: RunStore | str | Path | None = None, max_seconds: float = 30.0):
    """Why run ``run`` predicts what it does on ``audio`` (for ``genre``, default its
    prediction): an :class:`~gtzan_core.explain.Explanation` with one map per method
    (occlusion, Grad-CAM, segments), as ``gtzan-studio explain``."""
    from .explain import METHODS, explain as explain_audio

    run_id = run.run_id if isinstance(run, RunRecord) else run
    return explain_audio(audio, run_id, _store(store), genre=genre, methods=methods or METHODS,
                         max_seconds=max_seconds)
