"""The reproduction's tables, from the run records.

Our figures are taken at the paper's unit: per segment for the MFCC models, per
image (= per track) for the image models, so they compare with its table. With
several seeds each figure is a mean with its sample standard deviation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import GENRES, paper_results
from ..runs import RunStore, Status
from ..runs.record import RunRecord, dataset_of
from .plan import PAPER_PROTOCOL


def reproduction_records(store: RunStore, reproduction_id: str) -> list[dict]:
    """The runs of one reproduction (any status), oldest first."""
    return sorted((r for r in store.list() if (r.get("reproduction") or {}).get("id") == reproduction_id),
                  key=lambda r: r.get("created", 0))


def list_reproductions(store: RunStore) -> list[dict]:
    """One summary per reproduction in the store, newest first: id, created, runs,
    finished, active, failed, dataset."""
    groups: dict[str, list[dict]] = {}
    for r in store.list():
        rid = (r.get("reproduction") or {}).get("id")
        if rid:
            groups.setdefault(rid, []).append(r)
    out = []
    for rid, runs in groups.items():
        out.append({"id": rid, "created": min(r.get("created", 0) for r in runs), "runs": len(runs),
                    "finished": sum(r.status in (Status.FINISHED, Status.CANCELLED) and r.evaluated for r in runs),
                    "active": sum(r.active for r in runs),
                    "failed": sum(r.status is Status.FAILED for r in runs),
                    "seeds": (runs[0].get("reproduction") or {}).get("seeds", 1),
                    "dataset": dataset_of(runs)})
    return sorted(out, key=lambda d: d["created"], reverse=True)


def _metrics(record: dict) -> dict | None:
    ev = RunRecord.of(record).evaluation
    if ev is None:
        return None
    return {"accuracy": ev.segment.accuracy, "macro_f1": ev.segment.macro_f1,
            "track_accuracy": ev.at("track").accuracy}


def _mean_sd(values: list[float]) -> tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    arr = np.asarray(values, dtype=float)
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else float("nan")


def protocol_table(records: list[dict]) -> pd.DataFrame:
    """One row per model and protocol: our accuracy and macro F1 (mean, sd over the
    finished seeds) at the paper's unit, the paper's figures beside them, the differences."""
    rows = []
    order = {m: k for k, m in enumerate(paper_results.paper_results())}
    keys = sorted({(r["model"], r["protocol"]) for r in records if r.get("model")},
                  key=lambda k: (k[1] != PAPER_PROTOCOL, k[1], order.get(k[0], 99)))
    for model, protocol in keys:
        runs = [r for r in records if r.get("model") == model and r.get("protocol") == protocol]
        done = [m for m in map(_metrics, runs) if m]
        acc, acc_sd = _mean_sd([m["accuracy"] for m in done])
        f1, f1_sd = _mean_sd([m["macro_f1"] for m in done])
        trk, _ = _mean_sd([m["track_accuracy"] for m in done])
        paper = paper_results.summary(model) if model in paper_results.paper_results() else {}
        label = next((r.get("protocol_label") for r in runs if r.get("protocol_label")), protocol)
        rows.append({
            "model": model, "protocol": protocol, "protocol_label": label,
            "unit": paper.get("unit", "segment"), "seeds_done": len(done), "seeds": len(runs),
            "accuracy": acc, "accuracy_sd": acc_sd, "macro_f1": f1, "macro_f1_sd": f1_sd, "track_accuracy": trk,
            "paper_accuracy": paper.get("accuracy"), "paper_f1_text": paper.get("f1_text"),
            "paper_macro_f1": paper.get("macro_f1"),
            "delta_accuracy": acc - paper["accuracy"] if paper else float("nan"),
            "delta_macro_f1": f1 - paper["macro_f1"] if paper else float("nan"),
            "epochs": [r.get("epochs_run") for r in runs], "stopped_at_best": [r.get("best_epoch") for r in runs],
            "split_warning": "; ".join(dict.fromkeys(w for r in runs for w in r.get("split_warnings") or [])) or "",
        })
    return pd.DataFrame(rows)


def comparison_table(records: list[dict]) -> pd.DataFrame:
    """Per model: the paper's accuracy and F1, ours under the paper protocol, ours
    honest (the artist-filtered split when it ran, else the track split), the
    differences to the paper and the leak's inflation (paper protocol - honest)."""
    table = protocol_table(records)
    if table.empty:
        return table
    honest_names = [p for p in ("filtered", "track") if p in set(table["protocol"])]
    rows = []
    for model in dict.fromkeys(table["model"]):
        mine = table[table["model"] == model].set_index("protocol")
        ours = mine.loc[PAPER_PROTOCOL] if PAPER_PROTOCOL in mine.index else None
        honest_name = next((p for p in honest_names if p in mine.index), None)
        honest = mine.loc[honest_name] if honest_name else None
        first = ours if ours is not None else honest
        if first is None:  # runs of another protocol only: nothing to set beside the paper
            continue
        nan = float("nan")
        row = {"model": model, "paper_accuracy": first["paper_accuracy"], "paper_f1_text": first["paper_f1_text"],
               "paper_macro_f1": first["paper_macro_f1"],
               "ours_paper_accuracy": ours["accuracy"] if ours is not None else nan,
               "ours_paper_accuracy_sd": ours["accuracy_sd"] if ours is not None else nan,
               "ours_paper_macro_f1": ours["macro_f1"] if ours is not None else nan,
               "honest_protocol": honest_name,
               "ours_honest_accuracy": honest["accuracy"] if honest is not None else nan,
               "ours_honest_accuracy_sd": honest["accuracy_sd"] if honest is not None else nan,
               "ours_honest_macro_f1": honest["macro_f1"] if honest is not None else nan}
        row["delta_paper_protocol"] = row["ours_paper_accuracy"] - (row["paper_accuracy"] or nan)
        row["delta_honest"] = row["ours_honest_accuracy"] - (row["paper_accuracy"] or nan)
        row["inflation"] = row["ours_paper_accuracy"] - row["ours_honest_accuracy"]
        rows.append(row)
    return pd.DataFrame(rows)


def _class_f1(record: dict) -> pd.Series | None:
    ev = RunRecord.of(record).evaluation
    if ev is None:
        return None
    return pd.Series({g: ev.segment.report.get(g, {}).get("f1-score", np.nan) for g in GENRES})


def per_class_f1(records: list[dict], model: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ours, paper) per-class F1 for ``model``. ``ours``: one column per protocol
    (mean over seeds), indexed by genre. ``paper``: its table's F1 column, indexed by
    genre for the image models and by "class k" for the MFCC models (whose rows do
    not map to genres)."""
    cols = {}
    for protocol in dict.fromkeys(r["protocol"] for r in records if r.get("model") == model):
        series = [s for s in (_class_f1(r) for r in records if r.get("model") == model
                              and r.get("protocol") == protocol) if s is not None]
        if series:
            cols[f"ours · {protocol}"] = pd.concat(series, axis=1).mean(axis=1)
    ours = pd.DataFrame(cols, index=list(GENRES))
    paper = paper_results.per_class_frame(model)[["f1"]].rename(columns={"f1": "paper"}) \
        if model in paper_results.paper_results() else pd.DataFrame()
    return ours, paper
