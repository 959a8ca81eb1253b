"""Test-set metrics at segment level and at track level.

Track level: the segment probabilities of each track are averaged and the track
gets the genre with the highest mean probability. Metrics come from
scikit-learn; the report is kept as plain data (JSON-friendly) and turned into a
DataFrame by :func:`report_frame`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import GENRES


def classification_metrics(y_true, y_pred, n_classes: int = len(GENRES)) -> dict:
    """Accuracy, per-class precision/recall/F1/support, macro and weighted averages and
    the confusion matrix (rows = true genre, columns = predicted)."""
    from sklearn.metrics import accuracy_score, classification_report, confusion_matrix

    labels = list(range(n_classes))
    names = list(GENRES[:n_classes])
    report = classification_report(y_true, y_pred, labels=labels, target_names=names, output_dict=True,
                                   zero_division=0)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(report["macro avg"]["f1-score"]),
        "weighted_f1": float(report["weighted avg"]["f1-score"]),
        "report": {k: v for k, v in report.items() if k != "accuracy"},
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "n": int(len(y_true)),
    }


def track_probabilities(probs: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average segment probabilities per track: returns (track ids in order, probs)."""
    groups = np.asarray(groups)
    ids, inverse = np.unique(groups, return_inverse=True)
    sums = np.zeros((len(ids), probs.shape[1]), dtype=np.float64)
    np.add.at(sums, inverse, probs)
    counts = np.bincount(inverse, minlength=len(ids))[:, None]
    return ids, sums / counts


def evaluate(probs: np.ndarray, y_true: np.ndarray, groups: np.ndarray | None = None) -> dict:
    """Metrics for ``probs`` (n_samples x n_classes) at segment level and, when
    ``groups`` (track index per sample) is given, at track level."""
    probs = np.asarray(probs, dtype=np.float64)
    y_true = np.asarray(y_true)
    out = {"segment": classification_metrics(y_true, probs.argmax(1), probs.shape[1])}
    if groups is not None:
        ids, tprobs = track_probabilities(probs, groups)
        first = {g: y for g, y in zip(np.asarray(groups)[::-1], y_true[::-1], strict=False)}
        t_true = np.array([first[g] for g in ids])
        out["track"] = classification_metrics(t_true, tprobs.argmax(1), probs.shape[1])
    return out


def test_predictions(probs: np.ndarray, y_true: np.ndarray, groups: np.ndarray, track_ids) -> dict:
    """What a run predicted for each test track, kept beside its record (the run store's
    ``predictions.json``) so a confusion cell can list its tracks: per track (in track
    order) its id, its true genre, its track-level probabilities (the mean of its samples',
    4 decimals) and the genre predicted for each of its samples. ``groups``: the track of
    each sample (an index into ``track_ids``); ``pred``, the track's genre, is taken
    before rounding (as :func:`evaluate` takes it)."""
    probs = np.asarray(probs, dtype=np.float64)
    groups, y_true = np.asarray(groups), np.asarray(y_true)
    ids, tprobs = track_probabilities(probs, groups)
    seg_pred = probs.argmax(1)
    tracks = []
    for k, g in enumerate(ids):
        mine = groups == g
        tracks.append({"track": str(track_ids[int(g)]), "true": int(y_true[mine][0]), "pred": int(tprobs[k].argmax()),
                       "probs": [round(float(p), 4) for p in tprobs[k]],
                       "segments": [int(p) for p in seg_pred[mine]]})
    return {"classes": list(GENRES[:probs.shape[1]]), "tracks": tracks}


def report_frame(metrics: dict) -> pd.DataFrame:
    """scikit-learn's report as a DataFrame: one row per genre plus macro/weighted averages."""
    df = pd.DataFrame(metrics["report"]).T
    df = df.rename(columns={"f1-score": "f1"})
    df["support"] = df["support"].astype(int)
    return df[["precision", "recall", "f1", "support"]]


def confusion_frame(metrics: dict) -> pd.DataFrame:
    n = len(metrics["confusion"])
    names = list(GENRES[:n])
    return pd.DataFrame(metrics["confusion"], index=pd.Index(names, name="true"),
                        columns=pd.Index(names, name="predicted"))
