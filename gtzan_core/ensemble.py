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
user's own runs trained on real data join it, weighted by the same rule.

Runs trained on the synthetic demo set never heard real music: they are shown apart,
labelled, and never enter a real song's default answer. Runs without a validation
accuracy are left out, saying why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import DEMO_DATASET, GENRES

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

    def as_dict(self) -> dict:
        return {"top": self.top, "answered_by": self.answered_by, "rule": self.rule,
                "probabilities": None if self.probs is None else
                {g: round(float(p), 6) for g, p in zip(GENRES, self.probs, strict=True)},
                "runs": self.runs, "left_out": self.left_out, "demo_runs": self.demo_runs}


def _starter_name(record: dict) -> str:
    from .models import MODELS

    spec = MODELS.get(record.get("model"))
    return getattr(spec, "title", None) or record.get("title") or record.get("model") or "?"


def default_answer(results: dict, records: dict[str, dict], unavailable: dict[str, str] | None = None) -> Answer:
    """Combine ``results`` (run id -> object with ``probs``: a
    :class:`~gtzan_core.inference.RunPrediction`) of the runs described by ``records``
    (run id -> record). ``unavailable``: runs that could not predict (their weights
    missing), named in the answer."""
    answer = Answer(probs=None, left_out=dict(unavailable or {}))
    rows, probs = [], []
    starters = {rid: validation_accuracy(records.get(rid) or {}) for rid in results
                if (records.get(rid) or {}).get("starter") and not trained_on_demo(records.get(rid) or {})}
    starters = {rid: acc for rid, acc in starters.items() if acc is not None}
    primary = max(starters, key=lambda rid: starters[rid]) if starters else None
    for rid, res in results.items():
        record = records.get(rid) or {}
        if trained_on_demo(record):
            answer.demo_runs.append(rid)
            continue
        acc = validation_accuracy(record)
        if acc is None:
            answer.left_out[rid] = "no validation accuracy recorded: it cannot be weighted"
            continue
        if rid in starters and rid != primary:
            answer.left_out[rid] = (f"a fallback starter: the {_starter_name(records[primary])} starter answers "
                                    f"(validation accuracy {starters[primary]:.3f} against {acc:.3f})")
            continue
        weight = skill_weight(acc)
        if weight <= 0:
            answer.left_out[rid] = f"validation accuracy {acc:.3f} is at or below chance"
            continue
        rows.append({"run_id": rid, "title": record.get("title", record.get("model")), "model": record.get("model"),
                     "val_accuracy": round(acc, 4), "weight": weight, "starter": bool(record.get("starter"))})
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


def _answered_by(answer: Answer, records: dict[str, dict]) -> str:
    if not answer.runs:
        return "no run trained on real music" + (" (only demo-set runs, shown apart)" if answer.demo_runs else "")
    starters = [r for r in answer.runs if r["starter"]]
    own = len(answer.runs) - len(starters)
    names = [f"the {_starter_name(records[r['run_id']])} starter" for r in starters]
    missing = [rid for rid, why in answer.left_out.items() if (records.get(rid) or {}).get("starter")
               and not why.startswith("a fallback starter")]
    if names and missing:  # a shipped starter could not answer: the others are the fallback
        names[-1] += (f" (the fallback: the {_starter_name(records[missing[0]])} starter's weights "
                      "are not on this machine)")
    parts = names + ([f"{own} run{'s' if own != 1 else ''} of yours"] if own else [])
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
