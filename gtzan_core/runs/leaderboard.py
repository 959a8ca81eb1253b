"""Every run as one table row, best first, beside the paper's reported results."""

from __future__ import annotations

import pandas as pd

from .lifecycle import reap_dead
from .record import RunRecord
from .store import RunStore

LEADERBOARD_COLUMNS = ["model", "track_acc", "segment_acc", "macro_f1", "protocol", "track_macro_f1", "status",
                       "recipe", "dataset", "owner", "split_warning", "external_acc", "external_data", "epochs",
                       "params", "train_s", "device", "pretrained", "date", "run_id"]


def leaderboard(store: RunStore, include_paper: bool = True) -> pd.DataFrame:
    """All runs that trained (a job stopped or failed before its first epoch is no run),
    best first (track-level accuracy, else segment level), with the paper's reported
    results as reference rows. ``protocol`` says how each run was evaluated (leaky /
    early-stopped on test for the paper protocol); runs whose process died are marked
    failed first (:func:`~.lifecycle.reap_dead`)."""
    from .. import paper_results
    from ..hparams import recipe_label

    rows = []
    for r in reap_dead(store):
        if not r.trained and r.status is not None and not r.status.active:
            continue  # never trained: a job, not a run
        seg, trk = r.metrics("segment"), r.metrics("track")
        rows.append({
            "run_id": r.run_id, "model": r.model, "status": r.get("status"),
            "protocol": r.get("protocol_label") or r.get("protocol"), "recipe": recipe_label(r),
            "dataset": r.dataset_label,
            "segment_acc": seg.get("accuracy"), "track_acc": trk.get("accuracy"),
            "macro_f1": seg.get("macro_f1"), "track_macro_f1": trk.get("macro_f1"),
            "epochs": r.get("epochs_run"), "params": r.get("trainable_params"),
            "train_s": r.get("train_seconds"), "device": r.get("device"),
            "pretrained": r.get("pretrained"), "owner": r.owner,
            "date": pd.to_datetime(r.get("created", 0), unit="s").strftime("%Y-%m-%d %H:%M"),
            "split_warning": ("weak split: " + "; ".join(r.split_warnings)) if r.split_warnings else None,
            **_external(r),
        })
    if include_paper:
        for model, res in paper_results.paper_results().items():
            image = res["unit"] == "image"
            rows.append({"run_id": f"paper:{model}", "model": model, "status": "reference",
                         "protocol": paper_results.paper_protocol_label(model), "recipe": "paper",
                         "dataset": "GTZAN (paper)", "segment_acc": None if image else res["accuracy"],
                         "track_acc": res["accuracy"] if image else None, "macro_f1": res["macro"][2]})
    # what it is sorted by first (model, accuracies, F1, protocol), text after, the run id last
    df = pd.DataFrame(rows, columns=LEADERBOARD_COLUMNS)
    key = df["track_acc"].fillna(df["segment_acc"]).fillna(-1)
    return df.assign(_k=key).sort_values("_k", ascending=False, kind="stable").drop(columns="_k").reset_index(drop=True)


def _external(r: RunRecord) -> dict:
    """The clip accuracy of the run's latest evaluation on another folder, and that folder."""
    evs = [ev for ev in r.external_evaluations if ev.scores is not None]
    if not evs:
        return {"external_acc": None, "external_data": None}
    return {"external_acc": evs[0].accuracy, "external_data": f"{evs[0].name} ({evs[0].n_scored} clips)"}
