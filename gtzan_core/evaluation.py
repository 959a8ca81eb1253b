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

#: The paper's reported results (leaky 70:30 segment split, early stopping on test).
#: ``accuracy`` as stated in its text; ``macro_f1`` from its classification tables.
PAPER_PROTOCOL = "paper (leaky 70:30 segment split)"
PAPER_RESULTS = {
    "mlp": {"accuracy": 0.65, "macro_f1": 0.64, "source": "§4.1, Table 1"},
    "cnn": {"accuracy": 0.79, "macro_f1": 0.76, "source": "§4.2.1, Table 2"},
    "lstm": {"accuracy": 0.63, "macro_f1": 0.62, "source": "§4.2.2, Table 3"},
    "gru": {"accuracy": 0.67, "macro_f1": 0.66, "source": "Table 4 (accuracy = weighted recall; not stated in text)"},
    "vgg19": {"accuracy": 0.73, "macro_f1": 0.67, "source": "§4.3.1, Table 5 (text says F1 0.72)"},
    "resnext": {"accuracy": 0.61, "macro_f1": 0.62, "source": "§4.3.2, Table 6"},
    "squeezenet": {"accuracy": 0.67, "macro_f1": 0.67, "source": "§4.3.3, Table 7"},
}


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
        first = {g: y for g, y in zip(np.asarray(groups)[::-1], y_true[::-1])}
        t_true = np.array([first[g] for g in ids])
        out["track"] = classification_metrics(t_true, tprobs.argmax(1), probs.shape[1])
    return out


def report_frame(metrics: dict) -> pd.DataFrame:
    """scikit-learn's report as a DataFrame: one row per genre plus macro/weighted averages."""
    df = pd.DataFrame(metrics["report"]).T
    df = df.rename(columns={"f1-score": "f1"})
    df["support"] = df["support"].astype(int)
    return df[["precision", "recall", "f1", "support"]]


def confusion_frame(metrics: dict) -> pd.DataFrame:
    n = len(metrics["confusion"])
    names = list(GENRES[:n])
    return pd.DataFrame(metrics["confusion"], index=pd.Index(names, name="true"), columns=pd.Index(names, name="predicted"))
