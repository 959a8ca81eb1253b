"""The paper's reported results: accuracy and F1 per model and its per-class
Tables 1-7, shipped as package data (``data/paper_results.yaml``).

The image models' tables map to genres (sorted genre names); the MFCC models'
tables do not (their class order is the ``os.walk`` order of the author's
folders): :func:`per_class_frame` labels their rows "class 0" ... "class 9".
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

import pandas as pd

from . import GENRES


@functools.lru_cache(maxsize=1)
def paper_results() -> dict[str, dict]:
    import yaml

    text = (resources.files("gtzan_core.data") / "paper_results.yaml").read_text()
    return yaml.safe_load(text)


def paper_protocol_label(model: str) -> str:
    """The protocol of the paper's figure for ``model`` (as in its code)."""
    unit = paper_results()[model]["unit"]
    if unit == "segment":
        return "paper · leaky 70:30 segment split, early-stopped on test"
    return "paper · 80:20 image split, early-stopped on test"


def summary(model: str) -> dict:
    """Accuracy, F1 (text), macro F1 (its table), test support and unit for ``model``."""
    r = paper_results()[model]
    return {"accuracy": r["accuracy"], "f1_text": r["f1_text"], "macro_f1": r["macro"][2],
            "weighted_f1": r["weighted"][2], "test_support": r["test_support"], "unit": r["unit"],
            "source": f"§{r['section']}, Table {r['table']}" + (f" ({r['accuracy_note']})" if r.get("accuracy_note")
                                                                 else "")}


@dataclass(frozen=True)
class PaperRow:
    """One of the paper's reported results, as every table of them reads it (the
    leaderboards of the CLI and the pages, the paper's own table, the docs' results page)."""

    model: str
    unit: str  # "segment" (the MFCC models) or "image" (one picture a track)
    accuracy: float
    macro_f1: float  # its per-class table's
    weighted_f1: float
    f1_text: float | str  # the F1 its text reports
    test_support: int
    protocol: str
    source: str

    @property
    def track_acc(self) -> float | None:
        return self.accuracy if self.unit == "image" else None

    @property
    def segment_acc(self) -> float | None:
        return None if self.unit == "image" else self.accuracy


def reference_rows() -> list[PaperRow]:
    """The paper's rows, in its order: the one place every table of them starts from."""
    rows = []
    for model, r in paper_results().items():
        s = summary(model)
        rows.append(PaperRow(model, r["unit"], float(r["accuracy"]), float(s["macro_f1"]), float(s["weighted_f1"]),
                             s["f1_text"], int(s["test_support"]), paper_protocol_label(model), s["source"]))
    return rows


def per_class_frame(model: str) -> pd.DataFrame:
    """The paper's table for ``model``: precision, recall, F1, support per class.
    Index: genres for the image models, "class k" for the MFCC models."""
    r = paper_results()[model]
    index = list(GENRES) if r["genre_mapped"] else [f"class {k}" for k in range(len(r["rows"]))]
    df = pd.DataFrame(r["rows"], index=index, columns=["precision", "recall", "f1", "support"])
    df["support"] = df["support"].astype("Int64")
    return df
