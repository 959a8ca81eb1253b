"""The leaderboard, built once: which runs are on it, in which order, with which scores,
beside the paper's reported results (:func:`gtzan_core.paper_results.reference_rows`). A
module of its own beside ``runs/``: it reads the run records, and who vouches for their
numbers (``claims``, which reads the records too).

:func:`board_rows` is the one builder. The CLI (``runs``, its ``--json`` export) shows its
rows as :func:`leaderboard`'s machine columns; the pages show the same rows as
``gtzan_core.tables.runs_frame``'s display strings (Home's small board too). Only the
presentation differs between them, never which runs rank where.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

from .paper_results import PaperRow
from .runs.lifecycle import reap_dead
from .runs.record import RunRecord, Scores
from .runs.store import RunStore

LEADERBOARD_COLUMNS = ["model", "track_acc", "segment_acc", "macro_f1", "protocol", "track_macro_f1", "status",
                       "recipe", "dataset", "owner", "split_warning", "external_acc", "external_data", "epochs",
                       "params", "train_s", "device", "pretrained", "date", "run_id"]


@dataclass(frozen=True)
class BoardRow:
    """One row of the leaderboard: a run (``record``) or one of the paper's results (``paper``)."""

    run_id: str
    model: str
    record: RunRecord | None = None
    paper: PaperRow | None = None
    #: the run's test scores per track and per sample (None: that level does not exist; a run whose
    #: sample is its track, a picture or a feature vector, has the track level alone)
    track: Scores | None = None
    segment: Scores | None = None
    #: an imported run whose numbers only its file vouches for: ranked after every run measured here
    claimed: bool = False

    @property
    def track_acc(self) -> float | None:
        return self.paper.track_acc if self.paper else (self.track.accuracy if self.track else None)

    @property
    def segment_acc(self) -> float | None:
        return self.paper.segment_acc if self.paper else (self.segment.accuracy if self.segment else None)

    @property
    def macro_f1(self) -> float | None:
        """Macro F1 at the sample level (the paper's: its table's): the track's where the sample is the track."""
        if self.paper:
            return self.paper.macro_f1
        scores = self.segment or (self.track if self.record is not None and self.record.one_sample_per_track
                                  else None)
        return scores.macro_f1 if scores else None

    @property
    def track_macro_f1(self) -> float | None:
        return self.track.macro_f1 if self.track else None

    @property
    def rank_key(self) -> tuple[bool, bool, float]:
        """Ascending is best first: a score before none (a job), a run measured here before a
        claimed import, then the higher track accuracy, else segment accuracy."""
        acc = self.track_acc if self.track_acc is not None else self.segment_acc
        return (acc is None, self.claimed, -float(acc or 0.0))


def board_rows(records: Iterable[Mapping], paper: bool = False, jobs: bool = False) -> list[BoardRow]:
    """The leaderboard's rows, best first (:attr:`BoardRow.rank_key`; ties keep ``records``'
    order): every run with a test evaluation (finished, or stopped after an epoch); with
    ``jobs``, also the runs that trained without one and the jobs still queued or running (a job
    stopped or failed before training is no run); with ``paper``, the paper's results."""
    from .claims import claimed

    rows = []
    for data in records:
        r = RunRecord.of(data)  # type: ignore[arg-type]
        if not r.evaluated and not (jobs and (r.trained or r.status is None or r.status.active)):
            continue
        ev = r.evaluation
        segment, track = (ev.segment, ev.track) if ev else (None, None)
        if track is not None and r.one_sample_per_track:
            segment = None  # its sample is the track: the track level alone exists
        rows.append(BoardRow(r.run_id, str(r.model), record=r, track=track, segment=segment, claimed=claimed(r)))
    if paper:
        from .paper_results import reference_rows

        rows += [BoardRow(f"paper:{p.model}", p.model, paper=p) for p in reference_rows()]
    return sorted(rows, key=lambda row: row.rank_key)  # (stable: ties keep their order)


def leaderboard(store: RunStore, include_paper: bool = True) -> pd.DataFrame:
    """The CLI's leaderboard (``runs``, ``runs --json``): :func:`board_rows` of every run (jobs
    in progress too, their status saying so) as machine columns, with the paper's reported
    results as reference rows. ``protocol`` says how each run was evaluated (leaky /
    early-stopped on test for the paper protocol); runs whose process died are marked
    failed first (:func:`~gtzan_core.runs.lifecycle.reap_dead`)."""
    from .hparams import recipe_label

    out = []
    for row in board_rows(reap_dead(store), paper=include_paper, jobs=True):
        scores = {"track_acc": row.track_acc, "segment_acc": row.segment_acc, "macro_f1": row.macro_f1,
                  "track_macro_f1": row.track_macro_f1}
        if row.paper is not None:
            out.append({"run_id": row.run_id, "model": row.model, "status": "reference",
                        "protocol": row.paper.protocol, "recipe": "paper", "dataset": "GTZAN (paper)", **scores})
            continue
        r = row.record
        assert r is not None
        out.append({
            "run_id": r.run_id, "model": r.model, "status": r.get("status"),
            "protocol": r.get("protocol_label") or r.get("protocol"), "recipe": recipe_label(r),
            "dataset": r.dataset_label, **scores,
            "epochs": r.get("epochs_run"), "params": r.get("trainable_params"),
            "train_s": r.get("train_seconds"), "device": r.get("device"),
            "pretrained": r.get("pretrained"), "owner": r.owner,
            "date": pd.to_datetime(r.get("created", 0), unit="s").strftime("%Y-%m-%d %H:%M"),
            "split_warning": ("weak split: " + "; ".join(r.split_warnings)) if r.split_warnings else None,
            **_external(r),
        })
    return pd.DataFrame(out, columns=LEADERBOARD_COLUMNS)


def _external(r: RunRecord) -> dict:
    """The clip accuracy of the run's latest evaluation on another folder, and that folder."""
    evs = [ev for ev in r.external_evaluations if ev.scores is not None]
    if not evs:
        return {"external_acc": None, "external_data": None}
    return {"external_acc": evs[0].accuracy, "external_data": f"{evs[0].name} ({evs[0].n_scored} clips)"}
