"""Tables the pages show, as pandas frames, and the words they are made of: the
leaderboard (runs with results, jobs without, the paper's reference rows), Home's
small board, Compare's summary and per-class reports, the trash, damaged runs,
storage per owner, the audit log. Read by people: human column names, a dash for what is missing,
scores with 3 decimals."""

from __future__ import annotations

import time

import pandas as pd

from . import DEMO_DATASET
from .runs.record import RunRecord, Status
from .words import count


def _when(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else ""


def trash_frame(entries) -> pd.DataFrame:
    rows = [{"entry": e.entry, "run": e.run_id, "model": (e.record or {}).get("model", ""), "owner": e.owner or "",
             "deleted by": e.by or "", "deleted": _when(e.trashed_at), "problem": e.problem or ""} for e in entries]
    return pd.DataFrame(rows, columns=["entry", "run", "model", "owner", "deleted by", "deleted", "problem"])


def damaged_frame(damaged) -> pd.DataFrame:
    """Damaged runs (:meth:`~gtzan_core.runs.RunStore.damaged`): the run, its owner when
    the damaged record still names one, and what is wrong."""
    rows = [{"run": d.run_id, "owner": d.owner or "(cannot be read)", "problem": d.problem} for d in damaged]
    return pd.DataFrame(rows, columns=["run", "owner", "problem"])


def storage_frame(usage: dict, limit_mb: int | None) -> pd.DataFrame:
    rows = [{"owner": o or "(nobody)", "MB": round(b / 2 ** 20, 1),
             "of limit": f"{b / 2 ** 20 / limit_mb:.0%}" if limit_mb else ""}
            for o, b in sorted(usage.items(), key=lambda kv: -kv[1])]
    return pd.DataFrame(rows, columns=["owner", "MB", "of limit"])


def audit_frame(entries: list[dict]) -> pd.DataFrame:
    rows = []
    for e in entries:
        extra = {k: v for k, v in e.items() if k not in ("time", "who", "what", "run_id")}
        rows.append({"time": _when(e.get("time")), "who": e.get("who") or "", "what": e.get("what") or "",
                     "run": e.get("run_id") or "", "details": ", ".join(f"{k}={v}" for k, v in extra.items())})
    return pd.DataFrame(rows, columns=["time", "who", "what", "run", "details"])


# -- run tables for people: human column names, a dash for what is missing, 3 decimals ------------------------------

DASH = "—"
#: How a dataset label reads in tables and cards.
DATASET_NAMES = {"GTZAN": "real GTZAN", DEMO_DATASET: DEMO_DATASET, "GTZAN (paper)": "real GTZAN (paper)"}


def short_run_id(run_id: str) -> str:
    """A run's id as a figure's legend or a table's column names it beside the title: the
    random last part of a trained run's id (6 hex digits), "starter" for a shipped starter
    (whose fixed id ends in its model's name: "_lite0" said nothing)."""
    return "starter" if run_id.startswith("starter-") else run_id[-6:]


def duration_text(seconds: float | None) -> str:
    """``42 s``, ``4 min 42 s``, ``1 h 05 min`` (a dash for unknown)."""
    if seconds is None or seconds != seconds:
        return DASH
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def dataset_name(record: dict) -> str:
    """The run's dataset in words: "real GTZAN" (the starter model's too) or "synthetic
    demo"; a folder's name when a job has not opened its dataset yet and nobody said. An
    imported run's says so: "real GTZAN (imported: claimed by its file)" until the studio
    has measured it (:mod:`gtzan_core.claims`)."""
    from .claims import claimed, imported, shipped_starter

    if shipped_starter(record):
        return "real GTZAN"
    name = _dataset_label(record)
    if imported(record):
        return f"{name} (imported: {'claimed by its file' if claimed(record) else 'measured here'})"
    return name


def _dataset_label(record: dict) -> str:
    data = record.get("dataset") or {}
    label = data.get("label")
    if label in (None, "", "pending"):
        root = data.get("root") or (record.get("job") or {}).get("data_path")
        if root:
            return f"folder {str(root).rstrip('/').rsplit('/', 1)[-1]}"
        return DEMO_DATASET if "root" in data else DASH
    return DATASET_NAMES.get(label, label)


def pretrained_text(record: dict) -> str:
    """"yes"/"no" for a model with a pretrained backbone, a dash for the others (an MFCC
    model has no pretrained weights to speak of)."""
    from .models import MODELS

    spec = MODELS.get(record.get("model"))
    if spec is None or not spec.frozen_backbone or record.get("pretrained") is None:
        return DASH
    return "yes" if record.get("pretrained") else "no"


def epoch_cap(record: dict) -> int:
    """How many points its training curve may have: the recipe's epochs (or boosting
    iterations), or the size of the grid a model chooses from (the C values)."""
    from .models import record_steps

    steps = record_steps(record)
    if steps.values:
        return len(steps.values)
    return int((record.get("config") or {}).get("epochs") or 1)


def training_text(record: dict) -> str:
    """What a run's training amounted to: "all 30 epochs", "early-stopped at epoch 12 of
    ≤ 30 (best 10)", "stopped by hand at epoch 7 of ≤ 100 (best 5)"; in the words of its
    model's curve ("all 5 C values (best C = 1)", "boosting iteration 40 of ≤ 100")."""
    from .models import record_steps

    steps = record_steps(record)
    history = record.get("history") or []
    epochs = int(record.get("epochs_run") or len(history))
    cap, best = epoch_cap(record), record.get("best_epoch")
    best_text = f" (best {steps.point(int(best)) if steps.values else best})" if best else ""
    at, first = f"{steps.one} {epochs} of ≤ {cap}", f"{steps.one} 1"
    status = record.get("status")
    if status == "cancelled":
        return f"stopped by hand at {at}{best_text}" if epochs else f"stopped before {first}"
    if status == "failed":
        return f"failed at {at}" if epochs else f"failed before {first}"
    if status == "pruned":  # a search's trial its pruner stopped: an end of its own
        return f"pruned by its search at {at}{best_text}"
    if RunRecord.of(record).active:
        return f"{at} so far"
    if record.get("early_stopped") or epochs < cap:
        return f"early-stopped at {at}{best_text}"
    return f"all {count(epochs, steps.one)}{best_text}"


#: How a run's status reads on a page: a cancelled run was stopped by hand (Stop pressed), which
#: people must never read as early stopping (the trainer's own end, "early-stopped at epoch 12").
STATUS_WORDS = {Status.CANCELLED.value: "stopped by hand"}


def status_text(status) -> str:
    """A run's status in words: "stopped by hand" for a cancelled run, the others as they are."""
    return STATUS_WORDS.get(str(status), str(status)) if status else DASH


def search_trial_text(record: dict) -> str | None:
    """"search mlp-1207, trial 3": the search (hyperparameter study) a run is a trial of,
    "(its best)" for the trial its study tested; None for a run of no search."""
    study = record.get("study")
    if not isinstance(study, dict) or not study:
        return None
    best = " (its best)" if record.get("study_best") else ""
    return f"search {study.get('label') or study.get('name') or DASH}, trial {study.get('trial', DASH)}{best}"


def ended_trial(record: dict) -> bool:
    """A search's trial that trained and ended (finished or pruned; its study reads its
    validation accuracy, never its test set): shown with its search, never as a job."""
    return bool(record.get("study")) and record.get("status") in (Status.FINISHED.value, Status.PRUNED.value)


def stopped_by_hand(record: dict) -> bool:
    """A run whose numbers come from a model stopped before training ended (Stop pressed)."""
    run = RunRecord.of(record)
    return run.status is Status.CANCELLED and run.evaluated


def when_text(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t)) if t else DASH


#: Scores are shown with 3 decimals everywhere (the paper's tables do the same).
SCORE = "{:.3f}"
#: The leaderboard's number columns and how they are drawn (printf formats for the grid).
RUN_NUMBER_FORMATS = {"track acc.": "%.3f", "segment acc.": "%.3f", "macro F1": "%.3f", "track macro F1": "%.3f",
                      "external acc.": "%.3f", "train time (s)": "%.0f", "parameters": "localized"}


#: What a leaderboard column holds, where its name cannot say it all (the grid's column help).
RUN_COLUMN_HELP = {"parameters": "Trained weights; for a scikit-learn model (logistic regression, SVM, gradient "
                                 "boosting), which has none, the values its fitted arrays hold (coefficients, "
                                 "support vectors, tree nodes). A dash: not recorded (a run from before)."}


def score_text(value) -> str:
    """A score as people read it: 3 decimals, a dash when there is none."""
    return DASH if value is None or value != value else SCORE.format(float(value))


def protocol_short(record: dict) -> str:
    """"track", "filtered", "paper · leaky" (segments of a track on both sides) or "paper ·
    stopped on test" (early stopping and model choice on the test set)."""
    protocol = record.get("protocol") or DASH
    if record.get("leaky"):
        return f"{protocol} · leaky"
    if record.get("selection_on_test"):
        return f"{protocol} · stopped on test"
    return protocol


def _num(value):
    return float("nan") if value is None else float(value)


def seed_text(record: dict) -> str:
    """The run's seed (two runs of one recipe differ by it), a dash when unknown."""
    seed = (record.get("config") or {}).get("seed")
    return DASH if seed is None else str(seed)


def parameter_count(record: dict) -> float:
    """The leaderboard's parameters: the trained weights, or for a model fitted as arrays (the
    scikit-learn models, which have no trained weights) the values its arrays hold (recorded
    as ``fit.fitted_values``); NaN (a dash) where a run recorded neither."""
    fit = record.get("fit")  # (written by a fit strategy alone: ModelSpec.fit)
    if isinstance(fit, dict):
        return _num(fit.get("fitted_values"))
    return _num(record.get("trainable_params"))


def runs_frame(records: list[dict]) -> pd.DataFrame:
    """The leaderboard: the rows of the one builder (:func:`gtzan_core.leaderboard.board_rows`:
    one row per run with an evaluation, finished or stopped after at least one epoch; best
    first, track accuracy else segment accuracy; an import whose numbers its file claims ranks
    after every run measured here, its dataset marked), as the pages show them. The columns
    that matter first (model, scores, recipe, dataset, owner, seed, the search it is a trial
    of), then how it was trained. Scores stay numbers (the grid sorts them) and are NaN where
    missing (drawn as a dash); every text cell is a string."""
    from .hparams import recipe_label
    from .leaderboard import board_rows

    rows = []
    for row in board_rows(records):
        r = row.record
        assert r is not None
        rows.append({
            "model": r.get("title") or r.get("model") or DASH,
            "track acc.": _num(row.track_acc), "segment acc.": _num(row.segment_acc),
            "macro F1": _num(row.macro_f1), "recipe": recipe_label(r), "dataset": dataset_name(r),
            "owner": r.get("owner") or DASH, "seed": seed_text(r), "search": search_trial_text(r) or DASH,
            "protocol": protocol_short(r), "training": training_text(r),
            "track macro F1": _num(row.track_macro_f1), "train time (s)": _num(r.get("train_seconds")),
            "parameters": parameter_count(r), "device": r.get("device") or DASH,
            "pretrained": pretrained_text(r), "split": "⚠️ weak" if r.get("split_warnings") else "ok",
            "date": when_text(r.get("created")), "run": r.run_id, **external_cells(r),
        })
    # what matters first, on screen at 1280 px beside the pinned run id (webapp.grids.WIDTHS): the track
    # level (the honest one), macro F1, recipe, dataset, owner; the segment level follows them
    columns = ["model", "track acc.", "macro F1", "recipe", "dataset", "owner", "segment acc.", "seed", "search",
               "protocol", "training",
               "external acc.", "evaluated on", "track macro F1", "train time (s)", "parameters", "device",
               "pretrained", "split", "date", "run"]
    return pd.DataFrame(rows, columns=columns)


def external_cells(record: dict) -> dict:
    """The leaderboard's two cells of a run's evaluations on other folders: the clip
    accuracy of its latest (NaN when none) and which folder that was, with its clip count
    and how many others it was evaluated on ("genres_original · 12 clips (+1 more)")."""
    evs = [ev for ev in RunRecord.of(record).external_evaluations if ev.scores is not None]
    if not evs:
        return {"external acc.": float("nan"), "evaluated on": DASH}
    ev = evs[0]
    more = f" (+{len(evs) - 1} more)" if len(evs) > 1 else ""
    return {"external acc.": float(ev.scores.accuracy), "evaluated on": f"{ev.name} · {ev.n_scored} clips{more}"}


def external_frame(records: list[dict], level: str = "track") -> pd.DataFrame:
    """Compare's table of evaluations on other folders: one row per run and folder, beside
    the run's own GTZAN test accuracy at ``level``; display strings (empty: none)."""
    rows = []
    for r in records:
        rec = RunRecord.of(r)
        own = rec.evaluation.at(level) if rec.evaluation else None
        for ev in rec.external_evaluations:
            m = ev.scores
            rows.append({"model": r.get("title") or r.get("model"), "evaluated on": ev.name,
                         "accuracy there": score_text(None if m is None else m.accuracy),
                         "macro F1 there": score_text(None if m is None else m.macro_f1),
                         f"own test acc. ({level})": score_text(None if own is None else own.accuracy),
                         "dataset trained on": dataset_name(r), "clips scored": str(ev.n_scored),
                         "refused": str(ev.n_refused), "out of scope": str(ev.n_out_of_scope),
                         "left out (seen)": str(ev.n_dropped), "date": when_text(ev.date), "run": r["run_id"]})
    return pd.DataFrame(rows, columns=["model", "evaluated on", "accuracy there", "macro F1 there",
                                       f"own test acc. ({level})", "dataset trained on", "clips scored", "refused",
                                       "out of scope", "left out (seen)", "date", "run"])


def unfinished_frame(records: list[dict], phase=None) -> pd.DataFrame:
    """Jobs without results: queued, running, and those that ended before any epoch (stopped
    while queued, failed): listed apart from the runs, never selectable for Compare. A
    search's trial that trained and ended has its results in its search (validation
    accuracy; the test set is its best trial's alone): it is no job without results.
    ``phase(record)``: where a live job is, in words (default: its phase field)."""
    phase = phase or (lambda r: r.get("phase") or DASH)
    rows = [{"model": r.get("title") or r.get("model") or DASH, "status": status_text(r.get("status")),
             "where it is": phase(r) if RunRecord.of(r).active else (r.get("error") or r.get("pruned") or DASH),
             "dataset": dataset_name(r), "owner": r.get("owner") or DASH,
             "queued": when_text(r.get("created")), "run": r["run_id"]}
            for r in records if not r.get("evaluation") and not ended_trial(r)]
    return pd.DataFrame(rows, columns=["model", "status", "where it is", "dataset", "owner", "queued", "run"])


def paper_frame(models=None) -> pd.DataFrame:
    """The paper's reported results (its protocol: early-stopped on its test set, the MFCC
    models on a leaky segment split), as display strings: a table of its own, for reference.
    Its rows are :func:`gtzan_core.paper_results.reference_rows`, the leaderboards' too."""
    from .models import MODELS
    from .paper_results import reference_rows

    rows = []
    for p in reference_rows():
        if models is not None and p.model not in models:
            continue
        rows.append({"model": MODELS[p.model].title if p.model in MODELS else p.model,
                     "track acc.": score_text(p.track_acc), "segment acc.": score_text(p.segment_acc),
                     "macro F1 (its table)": score_text(p.macro_f1),
                     "F1 (its text)": score_text(p.f1_text) if isinstance(p.f1_text, (int, float))
                     else str(p.f1_text),
                     "weighted F1 (its table)": score_text(p.weighted_f1),
                     "test items": count(p.test_support, p.unit),
                     "protocol": p.protocol, "source": p.source})
    return pd.DataFrame(rows, columns=["model", "track acc.", "segment acc.", "macro F1 (its table)", "F1 (its text)",
                                       "weighted F1 (its table)", "test items", "protocol", "source"])


def on_demo_set(record: dict) -> bool:
    """Whether a run trained on the synthetic demo set (its numbers say nothing about music)."""
    return dataset_name(record) == DEMO_DATASET


def home_frame(records: list[dict], n: int = 8, demo: bool = False) -> pd.DataFrame:
    """Home's small leaderboard: the best ``n`` runs with results, as display strings; the
    runs on real data, or (``demo``) those on the synthetic demo set: never ranked together."""
    board = runs_frame([r for r in records if on_demo_set(r) == demo]).head(n)
    return pd.DataFrame({"model": board["model"],
                         "track acc.": board["track acc."].fillna(board["segment acc."]).map(score_text),
                         "macro F1": board["macro F1"].map(score_text), "dataset": board["dataset"],
                         "protocol": board["protocol"]})


def compare_frame(records: list[dict], level: str) -> pd.DataFrame:
    """Compare's summary: one row per run at ``level`` (track, else segment), display strings."""
    from .hparams import recipe_label
    rows = []
    for r in records:
        m = RunRecord.of(r).evaluation.at(level)
        rows.append({"model": r.get("title") or r.get("model"), "accuracy": score_text(m.accuracy),
                     "macro F1": score_text(m.macro_f1), "weighted F1": score_text(m.weighted_f1),
                     "training": training_text(r), "protocol": protocol_short(r), "recipe": recipe_label(r),
                     "dataset": dataset_name(r), "test items": str(m.n),
                     "split": "⚠️ weak" if r.get("split_warnings") else "ok", "run": r["run_id"]})
    return pd.DataFrame(rows, columns=["model", "accuracy", "macro F1", "weighted F1", "training", "protocol",
                                       "recipe", "dataset", "test items", "split", "run"])


def report_table(metrics: dict) -> pd.DataFrame:
    """A run's per-class report (precision, recall, F1, support), the accuracy and the macro
    and weighted averages included, as display strings indexed by class."""
    from .evaluation import report_frame

    df = report_frame(metrics)
    out = df[["precision", "recall", "f1"]].apply(lambda col: col.map(score_text))
    out["support"] = df["support"].map(lambda v: str(int(v)))
    if "accuracy" in out.index:  # scikit-learn's accuracy row holds the accuracy in every column
        out.loc["accuracy", ["precision", "recall"]] = ""
    out.index.name = "class"
    return out.rename(columns={"f1": "F1"})


def strings(df: pd.DataFrame, formats: dict | None = None, precision: int = 3) -> pd.DataFrame:
    """A display copy where every cell is a string: numbers with ``formats`` (per column,
    ``str.format`` patterns) or ``precision`` decimals, a dash for None/NaN, yes/no for
    booleans (never "None", "nan" or "True")."""
    formats = formats or {}

    def cell(col, v):
        if v is None or (isinstance(v, float) and v != v) or v is pd.NA:
            return DASH
        if isinstance(v, bool):
            return "yes" if v else "no"
        if col in formats:
            return formats[col].format(v)
        if isinstance(v, float):
            return f"{v:.{precision}f}"
        return str(v)

    out = df.copy()
    for col in out.columns:
        out[col] = [cell(col, v) for v in out[col]]
    return out
