"""Predict's default answer for a real song: the runs trained on real data, weighted by
how well each did on its own GTZAN validation part.

Rule (stated wherever the answer is shown): a weighted mean of the runs' clip
probabilities, each run's weight its validation accuracy's skill above chance,
``max(0, (acc_val - 1/K) / (1 - 1/K))`` with K = 10 genres, normalised to sum to 1.
``acc_val`` is the run's track-level accuracy on its validation part at the epoch
early stopping kept (its history; every finished run and the shipped starters keep
it). A run at or below chance gets weight 0; nothing is chosen or weighted on a test
set. The runs' validation parts are different sets (the starters learn from
different material), so no joint weight fit over one shared validation set is made.

The shipped starters are one voice: of those that could predict, the one with the
highest validation accuracy answers (musicnn's head, 81 % on its validation part, over
EfficientNet-Lite0's 67 %), and the others are its fallbacks, left out of the answer
(EfficientNet-Lite0 answers when musicnn's weights are not on this machine). The
user's own runs trained on real data join it, weighted by the same rule (on a class
instance only the visitor's own and those the admin promoted to the class; an imported
run only for its importer, when chosen: :mod:`gtzan_core.claims`).

Runs trained on the synthetic demo set never heard real music: they are shown apart,
labelled, and never enter a real song's default answer. Runs without a validation
accuracy are left out, saying why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import DEMO_DATASET, GENRES

#: The top two genres of an answer closer than this (percentage points) are a near tie, said in words.
NEAR_TIE_POINTS = 5.0

RULE = ("weighted mean of probabilities; each run's weight is its validation accuracy's skill above chance, "
        "max(0, (acc_val - 0.1) / 0.9), normalised")


def trained_on_demo(record: dict) -> bool:
    """Whether the run learned from the synthetic demo set (not real music)."""
    return (record.get("dataset") or {}).get("label") == DEMO_DATASET


def validation_accuracy(record: dict) -> float | None:
    """The run's accuracy on its validation part at the epoch it kept (early stopping's
    choice), from its history; None when the record has none."""
    history = record.get("history") or []
    best = record.get("best_epoch")
    rows = [h for h in history if h.get("epoch") == best] or [h for h in history if h.get("best")]
    if not rows or rows[-1].get("val_acc") is None:
        return None
    return float(rows[-1]["val_acc"])


def skill_weight(acc: float, n_classes: int = len(GENRES)) -> float:
    chance = 1.0 / n_classes
    return max(0.0, (acc - chance) / (1.0 - chance))


@dataclass
class Answer:
    """The default answer: probabilities, the runs and weights it combined."""

    probs: np.ndarray | None
    runs: list[dict] = field(default_factory=list)  # run_id, title, model, weight, val_accuracy, starter
    left_out: dict[str, str] = field(default_factory=dict)  # run id -> why it is not in the answer
    demo_runs: list[str] = field(default_factory=list)  # shown apart
    answered_by: str = ""
    rule: str = RULE

    @property
    def top(self) -> str | None:
        return None if self.probs is None else GENRES[int(self.probs.argmax())]

    @property
    def tie(self) -> tuple[str, str] | None:
        """The top two genres when they are within :data:`NEAR_TIE_POINTS` of each other, else None."""
        return near_tie(self.probs)

    def as_dict(self) -> dict:
        return {"top": self.top, "answered_by": self.answered_by, "rule": self.rule,
                "probabilities": None if self.probs is None else
                {g: round(float(p), 6) for g, p in zip(GENRES, self.probs, strict=True)},
                "runs": self.runs, "left_out": self.left_out, "demo_runs": self.demo_runs}


def near_tie(probs: np.ndarray | None, points: float = NEAR_TIE_POINTS) -> tuple[str, str] | None:
    """``(first, second)``: the two most probable genres of ``probs`` when they are fewer than
    ``points`` percentage points apart (a near tie), else None."""
    if probs is None or len(probs) < 2:
        return None
    first, second = np.argsort(-np.asarray(probs, float), kind="stable")[:2]
    return (GENRES[first], GENRES[second]) if 100 * (probs[first] - probs[second]) < points else None


def tie_text(probs: np.ndarray, points: float = NEAR_TIE_POINTS) -> str | None:
    """"A near tie between pop (33.0%) and hiphop (31.9%): ..." or None (one line, for a page)."""
    tie = near_tie(probs, points)
    if tie is None:
        return None
    a, b = (float(probs[GENRES.index(g)]) for g in tie)
    return (f"A near tie between {tie[0]} ({a:.1%}) and {tie[1]} ({b:.1%}): the top two are within {points:g} "
            "percentage points, so either could be the answer.")


def networks_of(record: dict) -> str:
    """The pretrained networks a run's answer comes from, by their weights' name ("musicnn MSD + MTT
    (Pons & Serra 2019, musicnn 0.1.0)"), or what it is without them ("trained from scratch")."""
    weights = record.get("weights") if isinstance(record.get("weights"), dict) else None
    name = (weights or {}).get("weights")
    return str(name) if name else "trained from scratch (no pretrained network)"


def _starter_name(record: dict) -> str:
    from .models import MODELS

    spec = MODELS.get(record.get("model"))
    return getattr(spec, "title", None) or record.get("title") or record.get("model") or "?"


def default_answer(results: dict, records: dict[str, dict], unavailable: dict[str, str] | None = None, *,
                   viewer: str | None = None, classroom: bool = False) -> Answer:
    """Combine ``results`` (run id -> object with ``probs``: a
    :class:`~gtzan_core.inference.RunPrediction`) of the runs described by ``records``
    (run id -> record). ``unavailable``: runs that could not predict (their weights
    missing), named in the answer.

    Who counts (:mod:`gtzan_core.claims`): the shipped starters (known by the ids the
    repository ships, never by a record's field); the ``viewer``'s own runs (on a
    ``classroom`` instance only theirs: another visitor's run, or an owner-less one, only
    once the admin promoted it to the class; in personal mode every run is the user's);
    an import whose numbers are claimed by its file only for its importer (it is in
    ``results`` only when chosen); a measured import is weighted by what the studio
    measured, never by the file's figures."""
    from .claims import claimed, imported, measured_accuracy, promoted, shipped_starter

    def mine(record: dict) -> bool:
        return (bool(viewer) and record.get("owner") == viewer) if classroom else True

    answer = Answer(probs=None, left_out=dict(unavailable or {}))
    rows, probs = [], []
    starters = {rid: validation_accuracy(records.get(rid) or {}) for rid in results
                if shipped_starter(records.get(rid) or {}, rid) and not trained_on_demo(records.get(rid) or {})}
    starters = {rid: acc for rid, acc in starters.items() if acc is not None}
    primary = max(starters, key=lambda rid: starters[rid]) if starters else None
    for rid, res in results.items():
        record = records.get(rid) or {}
        if trained_on_demo(record):
            answer.demo_runs.append(rid)
            continue
        starter = rid in starters
        if starter:
            source = "starter"
        elif claimed(record):
            if not mine(record):
                answer.left_out[rid] = (f"imported by {record.get('owner') or 'someone else'}: its numbers are "
                                        "claimed by the file, not measured here, and only its importer may use it")
                continue
            source = "imported (claimed)"
        elif mine(record):
            source = "imported (measured here)" if imported(record) else "yours"
        elif promoted(record):
            source = "class"
        else:
            answer.left_out[rid] = (f"{record.get('owner') or 'the admin'}'s run: another visitor's run enters your "
                                    "answer only when the admin promotes it to the class")
            continue
        acc = measured_accuracy(record) if imported(record) and not claimed(record) else validation_accuracy(record)
        if acc is None:
            answer.left_out[rid] = "no validation accuracy recorded: it cannot be weighted"
            continue
        if starter and rid != primary:
            answer.left_out[rid] = (f"a fallback starter: the {_starter_name(records[primary])} starter answers "
                                    f"(validation accuracy {starters[primary]:.3f} against {acc:.3f})")
            continue
        weight = skill_weight(acc)
        if weight <= 0:
            answer.left_out[rid] = f"validation accuracy {acc:.3f} is at or below chance"
            continue
        rows.append({"run_id": rid, "title": record.get("title", record.get("model")), "model": record.get("model"),
                     "val_accuracy": round(acc, 4), "weight": weight, "starter": starter, "source": source,
                     "networks": networks_of(record)})
        probs.append(np.asarray(res.probs, dtype=np.float64))
    if rows:
        w = np.array([r["weight"] for r in rows])
        w = w / w.sum()
        answer.probs = (w[:, None] * np.stack(probs)).sum(0)
        for r, weight in zip(rows, w, strict=True):
            r["weight"] = round(float(weight), 4)  # shown; the answer used the exact weights
        answer.runs = sorted(rows, key=lambda r: -r["weight"])
    answer.answered_by = _answered_by(answer, records)
    return answer


#: How the answer names the runs of each source beside the starters (one, several).
_SOURCES = {"yours": ("run of yours", "runs of yours"),
            "class": ("run promoted to the class by the admin", "runs promoted to the class by the admin"),
            "imported (measured here)": ("imported run of yours (measured here)",
                                         "imported runs of yours (measured here)"),
            "imported (claimed)": ("imported run of yours, its numbers claimed by its file",
                                   "imported runs of yours, their numbers claimed by their files")}


def _answered_by(answer: Answer, records: dict[str, dict]) -> str:
    from .claims import shipped_starter

    if not answer.runs:
        return "no run trained on real music" + (" (only demo-set runs, shown apart)" if answer.demo_runs else "")
    starters = [r for r in answer.runs if r["starter"]]
    names = [f"the {_starter_name(records[r['run_id']])} starter" for r in starters]
    missing = [rid for rid, why in answer.left_out.items() if shipped_starter(records.get(rid) or {}, rid)
               and not why.startswith("a fallback starter")]
    if names and missing:  # a shipped starter could not answer: the others are the fallback
        names[-1] += (f" (the fallback: the {_starter_name(records[missing[0]])} starter's weights "
                      "are not on this machine)")
    parts = names
    for source, (one, several) in _SOURCES.items():
        n = sum(r.get("source") == source for r in answer.runs)
        if n:
            parts.append(f"{n} {one if n == 1 else several}")
    return " + ".join(parts)


def answer_runs(records: dict[str, dict]) -> list[str]:
    """The runs among ``records`` (run id -> record; all able to predict) whose predictions
    :func:`default_answer` combines, by the same rule: what a prediction that only needs the
    answer computes (the fallback starters, demo-set runs and runs without a validation
    accuracy are left out)."""

    @dataclass
    class _Any:
        probs: np.ndarray = field(default_factory=lambda: np.full(len(GENRES), 1.0 / len(GENRES)))

    return [r["run_id"] for r in default_answer({rid: _Any() for rid in records}, records).runs]
