"""Words for what the pages show, from run records (no Streamlit here): run labels,
the dataset's name, a job's phase and its ETA (a range: to early stopping at the
earliest, to the epoch cap at the latest), what a run's training amounted to, the
warning beside a weak split; and visitors' strings made safe to draw (:func:`md_text`,
:func:`md_code`, :func:`md_frame` where Streamlit reads Markdown, :func:`plain_text`
where it draws text as it is)."""

from __future__ import annotations

import math
import re
import time
import unicodedata

from ..models import record_steps
from ..runs.record import Progress, RunRecord
from ..tables import (
    DASH,
    DATASET_NAMES,
    dataset_name,
    duration_text,
    epoch_cap,
    pretrained_text,
    search_trial_text,
    status_text,
    stopped_by_hand,
    training_text,
    when_text,
)

__all__ = ["BIDI_CONTROLS", "DASH", "DATASET_NAMES", "MD_ALWAYS", "dataset_name", "duration_text", "empty_jobs_text",
           "epoch_cap", "job_progress", "md_code", "md_frame", "md_text", "plain_frame", "plain_text", "plan_estimate",
           "pretrained_text", "run_label", "score_metrics", "search_trial_text", "seconds_per_epoch",
           "split_warning_text", "status_text", "stopped_by_hand", "training_text", "when_text"]


# -- visitors' strings, drawn as text ------------------------------------------------------------------------------
#
# Streamlit reads Markdown in nearly every text it draws: st.markdown/write/caption, st.info/warning/error/
# success/toast, widget labels and the options of radios and pills, expander and tab labels, progress texts,
# metric labels, and every cell of st.table (GitHub-flavoured Markdown, plus its own additions: ``:emoji:``
# shortcodes, ``:red[...]`` directives, ``:material/icon:``, ``$...$`` LaTeX). Raw HTML it draws only with
# unsafe_allow_html, which the studio never passes with a visitor's string. Select boxes' options, st.text,
# st.code and st.dataframe draw text as it is. A name, a run's title, a file or folder name typed, uploaded or
# imported by a visitor goes through md_text (or md_code, md_frame) wherever it meets Markdown, and through
# plain_text elsewhere; Plotly reads HTML in its texts (gtzan_core.plots.figure_text).

#: Bidirectional-text controls: in a visitor's string they would reorder the text drawn around it.
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
#: Characters that can start Markdown anywhere in a line (emphasis, code, links and images, raw HTML and
#: autolinks, headings, tables, strikethrough, LaTeX, entities) and the escape itself: always
#: backslash-escaped (CommonMark: an escaped punctuation character is only text).
MD_ALWAYS = frozenset("\\`*[]<#|~$&")
#: What starts a block only at the start of a line (lists, blockquotes, setext headings, thematic breaks).
_LINE_START = re.compile(r"^()([-+=>])|^(\d{1,9})([.)])(?=\s|$)")
#: ``www.`` (GFM links a bare ``www.example.com``).
_WWW_DOT = re.compile(r"(?<![^\W_])(www)\.", re.IGNORECASE)
#: Drawn as nothing, and no part of a word: it breaks what Streamlit's Markdown finds in the text after
#: escapes are read (GFM's bare addresses, ``:emoji:`` shortcodes, ``:red[...]`` directives).
WORD_JOINER = "\u2060"


def _md_line(line: str) -> str:
    """One line of :func:`md_text`."""
    out = []
    for i, ch in enumerate(line):
        before, after = line[i - 1:i], line[i + 1:i + 2]
        if ch in MD_ALWAYS:
            out.append("\\" + ch)
        elif ch == "_":  # between two letters or digits an underscore is inert (snake_case stays as it is)
            out.append("_" if before.isalnum() and after.isalnum() else "\\_")
        elif ch == ":" and (after.isalnum() or after in ("/", "_", "+", "-")):  # http://, :emoji:, :red[..]
            out.append(":" + WORD_JOINER)
        elif ch == "@":  # a@b.com: no mailto link
            out.append(WORD_JOINER + "@")
        else:
            out.append(ch)
    text = _WWW_DOT.sub(r"\1" + WORD_JOINER + ".", "".join(out))
    return _LINE_START.sub(lambda m: f"{m[1] or m[3] or ''}\\{m[2] or m[4]}", text)


def plain_text(value) -> str:
    """A visitor's string for a place that draws text as it is (a select box's option, a
    grid's cell): without bidirectional controls, and with control characters (line
    breaks, tabs, escape sequences) as spaces."""
    return "".join("" if ch in BIDI_CONTROLS else " " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch
                   for ch in str(value))


def md_text(value) -> str:
    """``value`` (a visitor's name, a run's title, a file name, an error message quoting
    one...) as Markdown that Streamlit draws as exactly its characters: no link, image,
    emphasis, code, heading, list, quote, table, HTML tag or entity, LaTeX, autolinked
    address, ``:emoji:`` shortcode or Streamlit directive can start in it.

    The characters that can start one anywhere (:data:`MD_ALWAYS`, and an underscore
    not between two letters or digits) are backslash-escaped, and so are those that can
    only at the start of a line (``- + = >``, ``1.``, ``1)``). Streamlit finds bare
    addresses (``https://...``, ``www....``, ``a@b.com``), ``:emoji:`` shortcodes,
    ``:red[...]`` directives and ``:material/icon:`` icons in the text after escapes are
    read, so a word joiner (drawn as nothing) breaks them: after a colon before a word
    or a slash, before an ``@``, inside ``www.``. Bidirectional controls are
    removed, control characters drawn as spaces, runs of spaces as one (as Markdown
    draws them anyway), and each line break is a line break. Other punctuation, which
    starts nothing, is left as it is, so a message reads the same in the page's source."""
    out = []
    for line in re.split("\r\n|[\n\r\u2028\u2029]", str(value)):
        line = " ".join(plain_text(line).split())
        if line:
            out.append(_md_line(line))
    return "  \n".join(out)


def md_code(value) -> str:
    """``value`` (a path, say) as inline code that holds exactly its characters: fenced by
    more backticks than any run of them inside it, control characters as spaces."""
    text = plain_text(value).replace(":material/", ":" + WORD_JOINER + "material/")
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    edges = text.startswith("`") or text.endswith("`") or (text.startswith(" ") and text.endswith(" "))
    pad = " " if edges and text.strip(" ") else ""  # CommonMark strips one space each side (not of spaces only)
    return f"{fence}{pad}{text}{pad}{fence}" if text else ""


def plain_frame(df):
    """A copy of the frame ``df`` for a grid (``st.dataframe`` draws text as it is): each
    string as :func:`plain_text` makes it."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object:
            out[col] = out[col].map(lambda v: plain_text(v) if isinstance(v, str) else v)
    return out


def md_frame(df):
    """A copy of the frame ``df`` for ``st.table`` (which reads Markdown in every cell, its
    index and its column names): each string as :func:`md_text` makes it."""
    import pandas as pd

    def cell(v):
        return md_text(v) if isinstance(v, str) else v

    def labels(index):
        if isinstance(index, pd.MultiIndex):
            return index.set_levels([level.map(cell) for level in index.levels])
        return index.map(cell)

    out = df.copy()
    out = out.apply(lambda col: col.map(cell)) if len(out.columns) else out
    out.index, out.columns = labels(out.index), labels(out.columns)
    return out


def job_progress(record: dict, now: float | None = None) -> dict:
    """A job card's progress, in numbers and words.

    ``epoch`` (epochs done), ``cap`` (the epoch cap), ``fraction`` (epochs done over the
    cap: a run stopped at epoch 7 of 100 shows 7 %), ``phase`` (a line: "queued",
    "extracting features 120/200", "epoch 8 of ≤ 100", "evaluating on the test set"),
    ``phase_fraction`` (the bar of a feature or backbone pass), ``eta`` (seconds left, as
    ``(earliest, latest)``: early stopping if no epoch improves on the best within the
    patience, and the epoch cap), ``eta_text``, ``stopping`` (Stop was pressed, the job has
    not stopped yet) and ``summary`` (one line for a job that ended)."""
    run = RunRecord.of(record)
    history, config = run.history, run.config
    cap = epoch_cap(record)
    epoch = len(history)
    status, phase = (run.status.value if run.status else None), run.phase
    p = run.progress or Progress(0, 0)
    phase_fraction = None
    if status == "queued":
        line = "queued"
    elif phase in ("features", "backbone pass") and p.total:
        what = "extracting features" if phase == "features" else "backbone pass (pretrained features, once)"
        line = f"{what} {p.done}/{p.total}"
        phase_fraction = min(1.0, p.done / max(p.total, 1))
    elif phase == "features":
        line = "opening the dataset"
    elif phase == "evaluating":
        line = "evaluating on the test set"
    elif status == "running":  # in the words of the model's curve: epochs, C values, boosting iterations
        one = record_steps(record).one
        line = f"{one} {min(epoch + 1, cap)} of ≤ {cap}" if epoch < cap else f"{one} {epoch} of ≤ {cap}"
    else:
        line = training_text(record)
    eta = None
    if history and status == "running" and phase not in ("evaluating",):
        last = history[-1]
        per_epoch = float(last.get("elapsed") or 0) / epoch or float(last.get("seconds") or 0)
        patience = int(config.get("patience") or cap)
        best = int(run.best_epoch or max((h["epoch"] for h in history if h.get("best")), default=epoch))
        latest = max(cap - epoch, 0)
        earliest = min(latest, max(patience - (epoch - best), 0))
        eta = (per_epoch * earliest, per_epoch * latest)
    if eta is None:
        eta_text = ""
    elif math.isclose(eta[0], eta[1]):
        eta_text = f"about {duration_text(eta[1])} left (the {cap}-epoch cap)"
    else:
        eta_text = (f"{duration_text(eta[0])} left if no epoch beats epoch {run.best_epoch or epoch} "
                    f"(early stopping), at most {duration_text(eta[1])} (the {cap}-epoch cap)")
    stopping = run.active and bool(run.stop_requested)
    return {"epoch": epoch, "cap": cap, "total": cap, "fraction": min(1.0, epoch / cap), "phase": line,
            "phase_fraction": phase_fraction, "eta": eta, "eta_text": eta_text, "stopping": stopping,
            "summary": training_text(record)}


def empty_jobs_text(records: list[dict], me: str | None, whose: str, now: float | None = None,
                    recent: float = 3600.0) -> str:
    """What Train's jobs panel says when it has no job to show, as Markdown (names
    escaped: :func:`md_text`): with *mine*, whose jobs there are instead (queued,
    running, or ended in the last ``recent`` seconds)."""
    if whose != "mine":
        return ("No jobs yet. Pick models above and press **Start training**; jobs keep running when you switch "
                "pages or close the tab.")
    now = time.time() if now is None else now
    others: dict[str, int] = {}
    for r in map(RunRecord.of, records):
        if (r.active or now - (r.finished or 0) < recent) and r.owner != me:
            owner = r.owner or "nobody"
            others[owner] = others.get(owner, 0) + 1
    mine = f"No jobs of yours ({md_text(me)}) in the last hour" if me else "You are not signed in, so no jobs are yours"
    if not others:
        return mine + ", and nobody else's either. Pick models above and press **Start training**."
    listed = ", ".join(f"{n} of {md_text(o)}" for o, n in sorted(others.items(), key=lambda kv: (-kv[1], kv[0])))
    return f"{mine}. The recent jobs belong to others ({listed}): choose **everyone's** to see them."


def run_label(record: dict) -> str:
    """A run in one line, for a select box's option (drawn as text: :func:`plain_text`)."""
    run = RunRecord.of(record)
    ev = run.evaluation
    acc = f" · track acc {ev.track.accuracy:.3f}" if ev and ev.track else ""
    leak = " · LEAKY" if run.leaky else ""
    weak = " · WEAK SPLIT" if run.split_warnings else ""
    stopped = " · STOPPED BY HAND" if stopped_by_hand(record) else ""  # (never "early": that is early stopping)
    trial = f" · {trial}" if (trial := search_trial_text(record)) else ""
    return plain_text(f"{run.title} · {run.protocol or DASH} · "
                      f"{dataset_name(record)}{acc}{leak}{weak}{stopped}{trial} · {run.run_id}")


def score_metrics(record: dict) -> list[tuple[str, str]]:
    """A run card's test scores as ``(label, value)``: the levels the run has (a run whose
    sample is the track, a picture or a feature vector, has the track level alone: no
    "segment" for a table without segments), then macro F1; [] without an evaluation."""
    run = RunRecord.of(record)
    ev = run.evaluation
    if not ev:
        return []
    if run.one_sample_per_track:
        return [("test accuracy (track)", f"{(ev.track or ev.segment).accuracy:.3f}"),
                ("macro F1", f"{(ev.track or ev.segment).macro_f1:.3f}")]
    out = [(f"test accuracy ({run.unit})", f"{ev.segment.accuracy:.3f}")]
    if ev.track:
        out.append(("test accuracy (track)", f"{ev.track.accuracy:.3f}"))
    return out + [("macro F1", f"{ev.segment.macro_f1:.3f}")]


def split_warning_text(record: dict) -> str | None:
    """The warning shown beside a run's numbers when its split could not say much."""
    warnings = RunRecord.of(record).split_warnings
    if not warnings:
        return None
    return "Weak split, these numbers say little: " + "; ".join(warnings)


# -- how long a set of jobs takes ----------------------------------------------------------------------------------

# Seconds per epoch per 100 training tracks on a 2-core CPU, when this store has no run of a
# model to learn from, and the one pass of a frozen backbone: each model's spec
# (ModelSpec.cpu_epoch_per_100, cpu_backbone_per_100; bench/README.md).
#: Feature extraction, once per dataset and feature kind (cached after): seconds per 100 tracks.
CPU_FEATURES_PER_100 = 37.0


def _train_tracks(record: dict) -> int | None:
    run = RunRecord.of(record)
    if run.split is None:
        return None
    per_genre = run.split.tracks_per_genre.get("train")
    if isinstance(per_genre, dict) and per_genre:
        return int(sum(per_genre.values()))
    one_a_track = run.split.unit == "track" or run.one_sample_per_track
    return run.split.train if one_a_track and run.split.train else None


def seconds_per_epoch(records: list[dict], on_gpu: bool) -> dict[str, float]:
    """Measured here: the median seconds per epoch per 100 training tracks of each model,
    from the store's runs on the same kind of device."""
    import statistics

    seen: dict[str, list[float]] = {}
    for r in map(RunRecord.of, records):
        history, tracks = r.history, _train_tracks(r)
        if not history or not tracks or (r.device or "").startswith("cuda") != on_gpu:
            continue
        elapsed = float(history[-1].get("elapsed") or 0)
        if elapsed > 0:
            seen.setdefault(r.model, []).append(elapsed / len(history) / tracks * 100)
    return {m: statistics.median(v) for m, v in seen.items()}


def plan_estimate(configs, records: list[dict], tracks: int, on_gpu: bool = False) -> dict:
    """How long ``configs`` take on a dataset of ``tracks`` tracks, one after another:
    ``low``/``high`` seconds (every run early-stopped at the first chance, every run to its
    epoch cap), ``measured`` (models timed from earlier runs here) and ``guessed`` (models
    timed from the benchmark figures of a 2-core CPU; on a GPU: none, ``unknown``), ``text``."""
    from ..inputs import DEFAULT_KIND
    from ..models import MODELS
    from ..splits import train_share

    measured = seconds_per_epoch(records, on_gpu)
    low = high = 0.0
    used, guessed, unknown = set(), set(), set()
    for c in configs:
        spec = MODELS.get(c.model)
        train_tracks = tracks * train_share(c.protocol, spec.input_kind if spec else DEFAULT_KIND, c.val_frac,
                                            c.test_frac)
        per_100 = measured.get(c.model)
        if per_100 is not None:
            used.add(c.model)
        elif not on_gpu and spec is not None and spec.cpu_epoch_per_100 is not None:
            per_100 = spec.cpu_epoch_per_100
            guessed.add(c.model)
        else:
            unknown.add(c.model)
            continue
        once = 0.0 if on_gpu or spec is None else (spec.cpu_backbone_per_100 or 0.0) * tracks / 100
        epoch = per_100 * train_tracks / 100
        low += once + epoch * min(c.epochs, c.patience + 1)
        high += once + epoch * c.epochs
    features = 0.0 if on_gpu else CPU_FEATURES_PER_100 * tracks / 100
    parts = [f"about {duration_text(low)} to {duration_text(high)} of training, one job after another "
             f"(every job early-stopped at its first chance … every job to its epoch cap)"]
    if not on_gpu:
        parts.append(f"plus up to {duration_text(features)} per kind of input for the features the first time "
                     "(cached after)")
    if used:
        parts.append(f"timed from earlier runs here: {', '.join(sorted(used))}")
    if guessed:
        parts.append(f"from the benchmark figures of a 2-core CPU: {', '.join(sorted(guessed))}")
    if unknown:
        parts.append(f"no estimate for {', '.join(sorted(unknown))} (never trained here)")
    return {"low": low, "high": high, "measured": sorted(used), "guessed": sorted(guessed),
            "unknown": sorted(unknown), "text": "; ".join(parts) + "."}
