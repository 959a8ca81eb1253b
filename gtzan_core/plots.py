"""Plotly figures for the app (pure functions: data in, figure out). Plotly reads a
little HTML in every text it draws (``<a href>`` links, ``<b>``, ``<br>``...): a run's
title, which anyone who imports a run chooses, is drawn through :func:`figure_text`
(escaped, so it shows as written)."""

from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from . import GENRES

_LAYOUT = dict(margin=dict(l=40, r=20, t=40, b=40), height=320, legend=dict(orientation="h", y=-0.2))


def figure_text(value) -> str:
    """``value`` as literal text in a figure: Plotly's HTML tags and entities escaped (it
    draws ``&lt;`` as ``<``), control characters as spaces."""
    return html.escape("".join(" " if ch < " " or ch == "\x7f" else ch for ch in str(value)), quote=False)


def loss_figure(history: list[dict], title: str = "", steps=None) -> go.Figure:
    """Train/validation loss (left axis) and accuracy (right axis) per epoch, or per point of
    the model's own curve (``steps``, its spec's :class:`~gtzan_core.models.Steps`: a C value
    tried, drawn at its value's tick; a boosting iteration; :func:`~gtzan_core.models.record_steps`
    gives a run's)."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    epochs = [h["epoch"] for h in history]
    fig.add_scatter(x=epochs, y=[h["train_loss"] for h in history], name="train loss", mode="lines+markers")
    fig.add_scatter(x=epochs, y=[h["val_loss"] for h in history], name="val loss", mode="lines+markers")
    fig.add_scatter(x=epochs, y=[h["train_acc"] for h in history], name="train acc", line=dict(dash="dot"),
                    secondary_y=True)
    fig.add_scatter(x=epochs, y=[h["val_acc"] for h in history], name="val acc", line=dict(dash="dot"),
                    secondary_y=True)
    best = [h for h in history if h.get("best")]
    if best:  # a line of its own (a shape has no legend entry): from 0 to 1 on the accuracy axis
        at = best[-1]["epoch"]
        fig.add_scatter(x=[at, at], y=[0, 1], name=f"best epoch ({at})", mode="lines", hoverinfo="skip",
                        line=dict(color="gray", dash="dash", width=1.5), secondary_y=True)
    last = max(epochs, default=1)
    if steps is not None and steps.values:  # one point per value tried: its tick names the value
        ticks = dict(tickmode="array", tickvals=list(range(1, len(steps.values) + 1)),
                     ticktext=[f"{v:g}" for v in steps.values], range=[0.5, len(steps.values) + 0.5])
    else:
        ticks = epoch_ticks(last)
    axis = steps.axis if steps is not None else "epoch"
    fig.update_layout(title=title, xaxis=dict(title=axis, **ticks), **_LAYOUT)
    fig.update_yaxes(title_text="loss", secondary_y=False)
    fig.update_yaxes(title_text="accuracy", range=[0, 1], dtick=0.2, showgrid=False, secondary_y=True)
    return fig


def _whole_step(span: float) -> int:
    """A step of 1, 2, 5, 10, 20, 50... giving at most about ten ticks over ``span``."""
    step = 1
    for k in range(12):
        step = (1, 2, 5)[k % 3] * 10 ** (k // 3)
        if span / step <= 10:
            break
    return step


def epoch_ticks(last: int) -> dict:
    """An epoch axis with whole-number ticks only (never 1.2, 1.4 after the first points): a
    step of 1, 2, 5, 10, 20, 50... giving at most about ten ticks, and a range from epoch
    1 to ``last`` with half an epoch of room on either side."""
    step = _whole_step(last)
    return {"tickmode": "linear", "tick0": 1 if step == 1 else 0, "dtick": step, "tickformat": "d",
            "range": [0.5, max(last, 2) + 0.5]}


def trial_ticks(last: int) -> dict:
    """A trial-number axis (a search's trials count from 0): whole-number ticks only, never
    a half trial, and half a trial of room on either side."""
    return {"tickmode": "linear", "tick0": 0, "dtick": _whole_step(max(last, 1)), "tickformat": "d",
            "range": [-0.5, max(last, 1) + 0.5]}


#: A search's parallel coordinates on the studio's dark theme: from a blue-grey that stays
#: visible on the dark background (the worst trial) to the theme's amber (the best).
PARALLEL_SCALE = [[0.0, "rgb(96,125,170)"], [0.5, "rgb(170,160,140)"], [1.0, "rgb(240,168,48)"]]
#: Its tick labels and axis lines: light grey, readable on the dark background.
PARALLEL_TEXT = "#c8c8c8"


def parallel_on_dark(fig: go.Figure) -> go.Figure:
    """Optuna's parallel-coordinate figure made readable on the dark theme: no white plot
    area, every trial's line coloured on :data:`PARALLEL_SCALE` (Optuna's "Blues" draws the
    worst trial in near-white), tick labels light grey and the axes' names turned so that
    long names do not run into each other. Its first axis is the objective, each line's
    first point its place there (0: the worst, 1: the best), which sets its colour."""
    from plotly.colors import sample_colorscale

    for trace in fig.data:
        if trace.mode == "lines" and trace.y is not None and len(trace.y) and trace.y[0] is not None:
            trace.line.color = sample_colorscale(PARALLEL_SCALE, [min(max(float(trace.y[0]), 0.0), 1.0)])[0]
            trace.opacity = 0.85
        elif trace.mode == "markers" and trace.marker is not None and trace.marker.colorscale is not None:
            trace.marker.colorscale = PARALLEL_SCALE  # the colour bar beside it
            trace.marker.colorbar.tickfont = dict(color=PARALLEL_TEXT)
            trace.marker.colorbar.title.font = dict(color=PARALLEL_TEXT)
    for note in fig.layout.annotations or ():
        note.font.color = PARALLEL_TEXT
    for shape in fig.layout.shapes or ():
        shape.line.color = "#808080"
    fig.update_layout(plot_bgcolor="rgba(0,0,0,0)", paper_bgcolor="rgba(0,0,0,0)", height=420,
                      margin=dict(l=60, r=20, t=60, b=90))
    fig.update_xaxes(tickangle=-25, tickfont=dict(color=PARALLEL_TEXT))
    return fig


def confusion_figure(metrics: dict, title: str = "", clickable: bool = False) -> go.Figure:
    """The confusion matrix (rows true, columns predicted). ``clickable``: an invisible
    marker on every cell, so that a click selects the cell (a chart's selection reads
    markers, never a heatmap's cells)."""
    cm = np.array(metrics["confusion"])
    names = list(GENRES[: len(cm)])
    fig = go.Figure(go.Heatmap(z=cm, x=names, y=names, colorscale="Blues", text=cm, texttemplate="%{text}",
                               hovertemplate="true %{y}<br>predicted %{x}<br>%{z}<extra></extra>"))
    if clickable:
        xs, ys = np.meshgrid(names, names)
        fig.add_scatter(x=xs.ravel(), y=ys.ravel(), mode="markers", showlegend=False, customdata=cm.ravel(),
                        marker=dict(size=26, symbol="square", color="rgba(0,0,0,0)"),
                        hovertemplate="true %{y}<br>predicted %{x}<br>%{customdata}<extra></extra>")
    fig.update_layout(title=title, xaxis_title="predicted", yaxis_title="true", yaxis_autorange="reversed",
                      **{**_LAYOUT, "height": 420})
    return fig


def probabilities_figure(results: dict, ensemble: np.ndarray | None = None,
                         ensemble_label: str = "ensemble (mean)") -> go.Figure:
    """Grouped bars: one group per genre, one bar per run (and the ensemble, or the default answer)."""
    from .tables import short_run_id

    fig = go.Figure()
    for run_id, r in results.items():
        fig.add_bar(x=list(GENRES), y=r.probs, name=figure_text(f"{r.title} · {short_run_id(run_id)}"))
    if ensemble is not None and len(results) > 1:
        fig.add_bar(x=list(GENRES), y=ensemble, name=ensemble_label, marker_pattern_shape="/")
    fig.update_layout(barmode="group", yaxis_title="probability", yaxis_range=[0, 1], **_LAYOUT)
    return fig


def waveform_figure(y: np.ndarray, sr: int, points: int = 4000) -> go.Figure:
    """Min/max envelope of the waveform (cheap to draw for long clips)."""
    n = len(y)
    hop = max(1, n // points)
    m = n // hop
    blocks = y[: m * hop].reshape(m, hop)
    t = np.arange(m) * hop / sr
    fig = go.Figure()
    fig.add_scatter(x=t, y=blocks.max(1), line=dict(width=0.5), name="max", showlegend=False)
    fig.add_scatter(x=t, y=blocks.min(1), line=dict(width=0.5), fill="tonexty", name="min", showlegend=False)
    fig.update_layout(xaxis_title="time (s)", yaxis_title="amplitude", **{**_LAYOUT, "height": 220})
    return fig


def mfcc_figure(mfcc: np.ndarray, segment_seconds: float) -> go.Figure:
    """All segments' MFCCs side by side: coefficients x time. The colour scale is set by
    coefficients 1 and up (:func:`mfcc_colour_range`): coefficient 0, the frame's overall
    loudness, runs to about ±500 and would leave the others (tens) blank; it is drawn
    clipped at the scale's ends."""
    z = np.concatenate(list(mfcc), axis=0).T  # (n_mfcc, frames)
    t = np.linspace(0, len(mfcc) * segment_seconds, z.shape[1])
    limit = mfcc_colour_range(z)
    fig = go.Figure(go.Heatmap(z=z, x=t, y=np.arange(len(z)), colorscale="RdBu_r", zmin=-limit, zmax=limit,
                               colorbar=dict(title="")))
    fig.update_layout(xaxis_title="time (s)", yaxis_title="MFCC coefficient", **{**_LAYOUT, "height": 260})
    return fig


def mfcc_colour_range(z: np.ndarray) -> float:
    """The colour scale's half-width for MFCCs ``z`` (coefficients, frames): the largest
    magnitude of coefficients 1 and up (coefficient 0 left out; all of them when there is
    only one), never zero."""
    rest = z[1:] if len(z) > 1 else z
    return float(max(np.abs(rest).max(initial=0.0), 1e-6))


def mel_view(y: np.ndarray, sr: int, seconds: float = 30.0, n_mels: int = 128, n_fft: int = 2048,
             hop: int = 512) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The clip's first ``seconds`` as a mel spectrogram in dB re the loudest cell (floor
    -80 dB), computed by the studio's one mel primitive (:func:`gtzan_core.mel.mel_db`):
    (db (n_mels, frames), frame times in s, band centre frequencies in Hz)."""
    from types import SimpleNamespace

    import torch

    from .mel import mel_db
    from .numba_cache import librosa_module

    librosa = librosa_module()  # never librosa itself: see numba_cache

    y = np.ascontiguousarray(y[: int(seconds * sr)], dtype=np.float32)
    db = mel_db(torch.from_numpy(y)[None], SimpleNamespace(sr=sr, n_fft=n_fft, hop_length=hop), n_mels)[0].numpy()
    db = db - db.max()
    times = np.arange(db.shape[1]) * hop / sr
    return db, times, librosa.mel_frequencies(n_mels=n_mels + 2, fmax=sr / 2)[1:-1]


def spectrogram_figure(db: np.ndarray, times: np.ndarray, freqs: np.ndarray) -> go.Figure:
    """A mel spectrogram with its axes: time (s) across, frequency (Hz, on the mel scale:
    one row per band) up, loudness in dB re the loudest cell."""
    ticks = [f for f in (0, 250, 500, 1000, 2000, 4000, 8000, 16000) if f <= freqs[-1]]
    rows = np.arange(len(freqs))
    fig = go.Figure(go.Heatmap(z=db, x=times, y=rows, colorscale="Magma", zmin=-80, zmax=0,
                               colorbar=dict(title="dB", ticksuffix=" dB"), customdata=np.broadcast_to(
                                   freqs[:, None], db.shape),
                               hovertemplate="%{x:.2f} s, %{customdata:.0f} Hz: %{z:.0f} dB<extra></extra>"))
    fig.update_layout(xaxis_title="time (s)", yaxis=dict(
        title="frequency (Hz, mel scale)", tickmode="array", tickvals=np.interp(ticks, freqs, rows).tolist(),
        ticktext=[f"{f / 1000:g} k" if f >= 1000 else str(f) for f in ticks]), **{**_LAYOUT, "height": 320})
    return fig


#: Above this many runs the timeline draws a row per run (coloured by genre) instead of a row per genre:
#: nine runs' bars side by side in a genre's row were unreadable.
MANY_RUNS = 3
#: One colour per genre (Plotly's qualitative "Plotly" palette: ten colours for ten genres).
GENRE_COLOURS = dict(zip(GENRES, ("#636EFA", "#EF553B", "#00CC96", "#AB63FA", "#FFA15A", "#19D3F3", "#FF6692",
                                  "#B6E880", "#FF97FF", "#FECB52"), strict=True))


def _windows(r) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    starts = np.asarray(r.starts, float)
    ends = np.asarray(r.ends if getattr(r, "ends", None) is not None else starts + _row_seconds(starts), float)
    return starts, ends, [GENRES[i] for i in r.segment_probs.argmax(1)], r.segment_probs.max(1)


def timeline_figure(results: dict, duration: float | None = None) -> go.Figure:
    """Top genre over time for each run that scored the clip window by window: one bar per
    row (3 s segment or patch, 30 s picture) over the time it really covers (paler: less
    confident). Up to :data:`MANY_RUNS` runs: in the row of the genre it chose, one row per
    genre some window chose (no empty rows for the others). More runs: one row per run, each
    bar coloured by its genre (:func:`runs_timeline_figure`). Runs that saw the clip as a
    whole (``whole``: one picture of a 30 s clip) have nothing to show over time and are
    left out: say so in words."""
    from .tables import short_run_id

    over_time = {rid: r for rid, r in results.items() if not getattr(r, "whole", False)}
    if len(over_time) > MANY_RUNS:
        return runs_timeline_figure(over_time, duration)
    fig = go.Figure()
    seen = set()
    end = 0.0
    for run_id, r in over_time.items():
        starts, ends, tops, conf = _windows(r)
        seen.update(tops)
        end = max(end, float(ends.max(initial=0.0)))
        fig.add_bar(y=tops, x=ends - starts, base=starts, orientation="h",
                    name=figure_text(f"{r.title} · {short_run_id(run_id)}"), marker=dict(opacity=0.35 + 0.65 * conf),
                    customdata=np.stack([starts, ends, conf], axis=1),
                    hovertemplate="%{customdata[0]:.1f}–%{customdata[1]:.1f} s: %{y} "
                                  "(%{customdata[2]:.0%})<extra></extra>")
    rows = [g for g in GENRES if g in seen]
    span = duration if duration else end
    fig.update_layout(barmode="group", bargap=0.25,
                      xaxis=dict(title="time in the clip (s)", range=[0, max(span, 1e-3)]),
                      yaxis=dict(categoryorder="array", categoryarray=rows, range=[-0.5, len(rows) - 0.5]),
                      **{**_LAYOUT, "height": 140 + max(len(rows), 2) * min(20 + 14 * max(len(fig.data), 1), 90)})
    return fig


def runs_timeline_figure(results: dict, duration: float | None = None) -> go.Figure:
    """Many runs over time: one row per run (its title and short id), one bar per window it
    scored, coloured by the genre it chose (one legend entry per genre chosen; paler: less
    confident)."""
    from .tables import short_run_id

    labels = [figure_text(f"{r.title} · {short_run_id(rid)}") for rid, r in results.items()]
    bars: dict[str, dict[str, list]] = {}
    end = 0.0
    for label, r in zip(labels, results.values(), strict=True):
        starts, ends, tops, conf = _windows(r)
        end = max(end, float(ends.max(initial=0.0)))
        for s, e, g, c in zip(starts, ends, tops, conf, strict=True):
            b = bars.setdefault(g, {"y": [], "x": [], "base": [], "opacity": [], "data": []})
            b["y"].append(label)
            b["x"].append(e - s)
            b["base"].append(s)
            b["opacity"].append(0.35 + 0.65 * float(c))
            b["data"].append((s, e, float(c)))
    fig = go.Figure()
    for g in GENRES:  # legend in the genres' order
        if g in bars:
            b = bars[g]
            fig.add_bar(y=b["y"], x=b["x"], base=b["base"], orientation="h", name=g,
                        marker=dict(color=GENRE_COLOURS[g], opacity=b["opacity"]), customdata=b["data"],
                        hovertemplate="%{y}<br>%{customdata[0]:.1f}–%{customdata[1]:.1f} s: " + g +
                                      " (%{customdata[2]:.0%})<extra></extra>")
    span = duration if duration else end
    fig.update_layout(barmode="overlay", bargap=0.2,
                      xaxis=dict(title="time in the clip (s)", range=[0, max(span, 1e-3)]),
                      yaxis=dict(categoryorder="array", categoryarray=labels[::-1], range=[-0.5, len(labels) - 0.5],
                                 title=""),
                      legend_title_text="top genre",
                      **{**_LAYOUT, "height": 120 + 28 * len(labels)})
    return fig


def _row_seconds(starts: np.ndarray) -> float:
    """A row's length when a result names no ends: the step between its starts (3 s alone)."""
    return float(np.diff(starts).min()) if len(starts) > 1 else 3.0


def reproduction_figure(comparison) -> go.Figure:
    """Grouped bars per model: the paper's accuracy, ours under the paper protocol and
    ours under the honest protocol (error bars: sd over seeds)."""
    fig = go.Figure()
    models = [figure_text(m) for m in comparison["model"]]
    series = [("paper (reported)", "paper_accuracy", None, "#9e9e9e"),
              ("ours · paper protocol", "ours_paper_accuracy", "ours_paper_accuracy_sd", "#ef6c00"),
              ("ours · honest", "ours_honest_accuracy", "ours_honest_accuracy_sd", "#1565c0")]
    for name, col, sd, colour in series:
        err = None
        if sd and comparison[sd].notna().any():
            err = dict(type="data", array=comparison[sd].fillna(0).tolist(), visible=True)
        fig.add_bar(x=models, y=comparison[col].tolist(), name=name, marker_color=colour, error_y=err,
                    hovertemplate="%{x}: %{y:.3f}<extra>" + name + "</extra>")
    fig.update_layout(barmode="group", yaxis=dict(title="test accuracy", range=[0, 1.05]),
                      title="The paper's table, reproduced", **{**_LAYOUT, "height": 380})
    return fig


def per_class_f1_figure(ours, paper, title: str = "") -> go.Figure:
    """Per-class F1: one bar series per column of ``ours`` (genres), plus the paper's
    column when its rows are genres (the image models' tables)."""
    fig = go.Figure()
    for col in ours.columns:
        fig.add_bar(x=list(ours.index), y=ours[col].tolist(), name=col)
    if not paper.empty and list(paper.index) == list(ours.index):
        fig.add_bar(x=list(paper.index), y=paper["paper"].tolist(), name="paper (its table)",
                    marker_color="#9e9e9e")
    fig.update_layout(barmode="group", title=figure_text(title), yaxis=dict(title="F1", range=[0, 1.05]),
                      **{**_LAYOUT, "height": 300})
    return fig


def explanation_figure(explanation, method: str) -> go.Figure:
    """One explanation map over the model's input: the MFCC (time x coefficient) or
    the spectrogram image underneath (drawn as its input kind says), the map on top
    (red: pushed towards the genre)."""
    from . import GENRES as _G
    from .inputs import get_kind

    m = explanation.maps[method]
    genre = _G[explanation.genre]
    if method == "segments":
        width = float(m.top_time[1] - m.top_time[0]) or 3.0  # one segment (or window)
        fig = go.Figure(go.Bar(x=m.times + width / 2, y=m.values[0], width=width * 0.9, customdata=m.times,
                               marker_color=np.where(m.values[0] >= 0, "#c62828", "#1565c0"),
                               hovertemplate="%{customdata:.1f} s on: %{y:+.3f}<extra></extra>"))
        fig.update_layout(title=f"Per segment: p({genre}) minus its clip mean", xaxis_title="time (s)",
                          yaxis_title="Δ probability", **_LAYOUT)
        return fig
    title = ("rollout: where the class token attended (the same for every genre)" if method == "rollout"
             else f"{method}: what pushed the model towards {genre}")
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=("model input", title))
    args, y, ytitle = get_kind(explanation.kind).heatmap(explanation.display, m.times, m.bands)
    fig.add_heatmap(**args, showscale=False, row=1, col=1)
    scale = float(np.abs(m.values).max()) or 1.0
    colors = "RdBu_r" if method == "occlusion" else "Reds"
    zmin = -scale if method == "occlusion" else 0
    fig.add_heatmap(z=m.values, x=m.times, y=y, colorscale=colors, zmin=zmin, zmax=scale, row=2, col=1,
                    colorbar=dict(title="score", len=0.45, y=0.2),
                    customdata=np.broadcast_to(np.asarray(m.bands)[:, None], m.values.shape),
                    hovertemplate="%{x:.2f} s, band %{customdata:.0f}: %{z:.3f}<extra></extra>")
    fig.add_vrect(x0=m.top_time[0], x1=m.top_time[1], line=dict(color="black", dash="dash"), row=2, col=1)
    fig.update_yaxes(title_text=ytitle, row=2, col=1)
    fig.update_xaxes(title_text="time (s)", row=2, col=1)
    fig.update_layout(**{**_LAYOUT, "height": 520})
    return fig


def transfer_figure(table) -> go.Figure:
    """The transfer study: track accuracy (mean ± sd over seeds) per model and condition,
    coloured by what the network was pretrained on."""
    colours = {"music (MSD)": "#6a1b9a", "photos (ImageNet)": "#ef6c00", "nothing": "#78909c"}
    fig = go.Figure()
    for source, group in table.groupby("pretrained_on", sort=False):
        fig.add_bar(y=[figure_text(f"{t} · {c}") for t, c in zip(group["title"], group["condition"], strict=False)],
                    x=group["track_accuracy"], orientation="h", name=f"pretrained on {source}",
                    marker_color=colours.get(source, "#999"),
                    error_x=dict(type="data", array=group["track_accuracy_sd"].fillna(0)),
                    hovertemplate="%{y}: %{x:.1%}<extra></extra>")
    fig.update_layout(**{**_LAYOUT, "height": 120 + 28 * len(table), "margin": dict(l=240, r=20, t=30, b=40)},
                      xaxis=dict(title="test accuracy (track level)", tickformat=".0%", range=[0, 1]),
                      yaxis=dict(autorange="reversed"))
    return fig


def map_figure(found: dict, colour_by: str = "genre") -> go.Figure:
    """The map of how a run hears its dataset (:func:`gtzan_core.insight.embedding_map.run_map`):
    one trace per genre (true, or ``colour_by="prediction"``), the test set's errors ringed.
    Each point's ``customdata`` is its track id (a click plays it)."""
    key = "pred" if colour_by == "prediction" else "genre"
    fig = go.Figure()
    for g in GENRES:
        pts = [r for r in found["tracks"] if r[key] == g]
        if not pts:
            continue
        fig.add_scatter(x=[r["x"] for r in pts], y=[r["y"] for r in pts], mode="markers", name=g,
                        marker=dict(size=[9 if r["part"] == "test" else 6 for r in pts]),
                        customdata=[r["track"] for r in pts],
                        text=[figure_text(f"{r['track']} · {r['genre']} → {r['pred']}"
                                          f"{' · test' if r['part'] == 'test' else ''}") for r in pts],
                        hovertemplate="%{text}<extra></extra>")
    wrong = [r for r in found["tracks"] if r["error"]]
    if wrong:
        fig.add_scatter(x=[r["x"] for r in wrong], y=[r["y"] for r in wrong], mode="markers", name="test error",
                        marker=dict(size=15, symbol="circle-open", color="black", line=dict(width=2)),
                        customdata=[r["track"] for r in wrong],
                        text=[figure_text(f"{r['track']}: {r['genre']} taken for {r['pred']}") for r in wrong],
                        hovertemplate="%{text}<extra></extra>")
    fig.update_layout(xaxis=dict(visible=False), yaxis=dict(visible=False), **{**_LAYOUT, "height": 480})
    return fig
