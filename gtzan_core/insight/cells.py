"""Which tracks fell in a confusion cell: read from what a run predicted for each test
track (kept beside its record, :meth:`~gtzan_core.runs.RunStore.read_predictions`), or for
each clip of an evaluation on another folder.

At track level a track is in the cell (its true genre, the genre its averaged
probabilities chose); at segment level (a run with many samples a track) a track is
listed in each cell one of its samples fell in, with how many did (the counts add up to
the cell's number). A run recorded before its predictions were kept gets them made
once from its checkpoint and its dataset (:func:`ensure_test_predictions`), checked
against the confusion matrix it recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

from .. import GENRES
from ..errors import CheckpointError, StudioError

LEVELS = ("track", "segment")


@dataclass(frozen=True)
class Listed:
    """One track of a cell (or of a per-class row): its id (a clip's path in its folder,
    for an evaluation on another folder), its true and predicted genre, the run's
    probability of each and of every genre, and at segment level how many of its
    ``samples`` fell in the cell (``in_cell``; at track level 1 of 1)."""

    track: str
    true: str
    pred: str
    p_true: float
    p_pred: float
    probs: dict
    in_cell: int = 1
    samples: int = 1

    @property
    def right(self) -> bool:
        return self.true == self.pred

    def as_dict(self) -> dict:
        return asdict(self)


def stored(store, run_id: str, folder: str | None = None) -> dict | None:
    """The kept predictions of run ``run_id``: on its test set, or (``folder``) on that
    other folder; None when none are kept."""
    kept = store.read_predictions(run_id)
    found = (kept.get("external") or {}).get(folder) if folder is not None else kept.get("test")
    return found if isinstance(found, dict) and isinstance(found.get("tracks"), list) else None


def confusion_of(predictions: dict, level: str = "track") -> list[list[int]]:
    """The confusion matrix (rows true, columns predicted) the predictions make at ``level``."""
    n = len(predictions.get("classes") or GENRES)
    matrix = [[0] * n for _ in range(n)]
    for t in predictions["tracks"]:
        if level == "segment" and t.get("segments"):
            for p in t["segments"]:
                matrix[t["true"]][p] += 1
        else:
            matrix[t["true"]][t["pred"]] += 1
    return matrix


def _listed(t: dict, classes: list[str], in_cell: int = 1) -> Listed:
    probs = [float(p) for p in t["probs"]]
    return Listed(t["track"], classes[t["true"]], classes[t["pred"]], probs[t["true"]], probs[t["pred"]],
                  dict(zip(classes, probs, strict=False)), in_cell, len(t.get("segments") or [0]))


def _genre(name: str | int, classes: list[str]) -> int:
    if isinstance(name, int):
        return name
    if name not in classes:
        raise StudioError(f"{name!r} is not a genre ({', '.join(classes)})")
    return classes.index(name)


def cell_tracks(predictions: dict, true: str | int, pred: str | int, level: str = "track") -> list[Listed]:
    """The tracks in cell (``true``, ``pred``) at ``level``: most confident first (the
    run's probability of the predicted genre)."""
    classes = list(predictions.get("classes") or GENRES)
    i, j = _genre(true, classes), _genre(pred, classes)
    out = []
    for t in predictions["tracks"]:
        if t["true"] != i:
            continue
        if level == "segment" and t.get("segments"):
            k = sum(1 for p in t["segments"] if p == j)
            if k:
                out.append(_listed(t, classes, k))
        elif t["pred"] == j:
            out.append(_listed(t, classes))
    return sorted(out, key=lambda x: (-x.in_cell, -x.p_pred, x.track))


def class_tracks(predictions: dict, genre: str | int) -> list[Listed]:
    """A row of the per-class report: the tracks of ``genre`` (missed ones first) and the
    tracks of other genres taken for it (track level)."""
    classes = list(predictions.get("classes") or GENRES)
    g = _genre(genre, classes)
    mine = [_listed(t, classes) for t in predictions["tracks"] if t["true"] == g or t["pred"] == g]
    return sorted(mine, key=lambda x: (x.right, x.true != classes[g], -x.p_pred, x.track))


def errors(predictions: dict) -> list[Listed]:
    """Every test track the run got wrong (track level), by cell then confidence."""
    classes = list(predictions.get("classes") or GENRES)
    wrong = [_listed(t, classes) for t in predictions["tracks"] if t["true"] != t["pred"]]
    return sorted(wrong, key=lambda x: (classes.index(x.true), classes.index(x.pred), -x.p_pred, x.track))


def disagreements(a: dict, b: dict) -> list[dict]:
    """Tracks two runs both predicted (track level) where one is right and the other wrong:
    ``{"track", "true", "a", "b", "right": "a" or "b"}``."""
    classes = list(a.get("classes") or GENRES)
    by_b = {t["track"]: t for t in b["tracks"]}
    out = []
    for t in a["tracks"]:
        u = by_b.get(t["track"])
        if u is None or u["true"] != t["true"]:
            continue
        ra, rb = t["pred"] == t["true"], u["pred"] == u["true"]
        if ra != rb:
            out.append({"track": t["track"], "true": classes[t["true"]], "a": classes[t["pred"]],
                        "b": classes[u["pred"]], "right": "a" if ra else "b"})
    return sorted(out, key=lambda d: (d["right"], d["true"], d["track"]))


def matches_record(predictions: dict, record, level: str = "track") -> bool:
    """Whether ``predictions`` make the confusion matrix ``record`` holds at ``level``."""
    from ..runs.record import RunRecord

    ev = RunRecord.of(record).evaluation
    if ev is None:
        return False
    return confusion_of(predictions, level) == [list(map(int, row)) for row in ev.at(level).confusion]


def job_of(record):
    """The job a run was trained as: its record's ``job``, or for a record without one (a
    shipped starter's) a job of its recorded configuration (dataset not named)."""
    from ..jobs import JobSpec

    if isinstance(record.get("job"), dict):
        return JobSpec.from_record(record)
    return JobSpec.from_dict({}, config=record.config)


def run_dataset(record, data_path: str | None = None, what: str = ""):
    """(the run's job, its dataset opened): ``data_path``, else the folder its job names,
    else the demo set for a run trained on it; :class:`CheckpointError` otherwise."""
    from ..data import open_dataset
    from ..ensemble import trained_on_demo

    try:
        spec = job_of(record)
        folder = data_path or spec.data_path
        if folder is None and not trained_on_demo(record):
            raise CheckpointError(f"its record does not say where its dataset ({record.dataset_label}) is")
        return spec, open_dataset(folder)
    except (StudioError, OSError, KeyError, TypeError, ValueError) as exc:
        lead = f"{what} " if what else ""
        raise CheckpointError(f"run {record.run_id}: {lead}its dataset cannot be opened ({str(exc)[:160]})") from None


def ensure_test_predictions(store, run_id: str, device: str = "cpu",
                            progress: Callable[[str], None] | None = None, data_path: str | None = None) -> dict:
    """The run's kept test predictions; a run recorded before they were kept has them made
    now from its checkpoint and its dataset (the same split, drawn again from its seed),
    checked against its recorded confusion matrix (``matches_record`` in what is kept),
    and kept. ``data_path``: its dataset, for a run whose record does not name the folder
    (the shipped starters). :class:`CheckpointError` when it has no evaluation, no model,
    or its dataset is not here."""
    found = stored(store, run_id)
    if found is not None:
        return found
    record = store.read(run_id)
    if record.evaluation is None:
        raise CheckpointError(f"run {run_id} has no test evaluation (status: {record.status})")
    from ..feature_cache import feature_request, load_features
    from ..inference import load_run_model
    from ..training import trainer

    if progress:
        progress(f"run {run_id} was recorded before its per-track predictions were kept: making them once")
    spec, ds = run_dataset(record, data_path, "its per-track predictions are not kept and")
    fs = load_features(ds, **feature_request(spec.config.model, spec.image_source))
    model, _ = load_run_model(store, run_id, device)
    _, predictions = trainer.test_evaluation(spec.config, fs, model)
    level = "track" if record.evaluation.track is not None else "segment"
    predictions = {**predictions, "recomputed": True, "matches_record": matches_record(predictions, record, level)}
    store.save_predictions(run_id, test=predictions)
    return predictions
