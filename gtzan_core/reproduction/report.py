"""The reproduction report: one self-contained HTML file (tables, the grouped bar
chart and the per-class F1 charts; plotly.js embedded once, no network needed)."""

from __future__ import annotations

import html
import time
from pathlib import Path

import pandas as pd

from .. import paper_results
from ..hparams import recipe_label
from ..plots import per_class_f1_figure, reproduction_figure
from ..runs.record import RunRecord
from .results import comparison_table, per_class_f1, protocol_table

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}th,td{border:1px solid #ccc;padding:.3em .6em;
text-align:right}th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
.warn{background:#fff3e0;border-left:4px solid #ef6c00;padding:.6em 1em}.note{color:#555;font-size:.9em}
.pair{display:flex;gap:1.5em;flex-wrap:wrap;align-items:flex-start}
"""


def _fmt(v, sd=None) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "—"
    text = f"{v:.3f}"
    if sd is not None and sd == sd:
        text += f" ± {sd:.3f}"
    return text


def _signed(v) -> str:
    return "—" if v is None or v != v else f"{v:+.3f}"


def comparison_display(comparison: pd.DataFrame) -> pd.DataFrame:
    """The per-model comparison as display strings (mean ± sd, signed differences)."""
    return pd.DataFrame({
        "model": comparison["model"],
        "paper acc": comparison["paper_accuracy"].map(_fmt),
        "paper F1 (text / table macro)": [f"{_fmt(a)} / {_fmt(b)}" for a, b in
                                          zip(comparison["paper_f1_text"], comparison["paper_macro_f1"], strict=False)],
        "ours · paper protocol acc": [_fmt(v, s) for v, s in zip(comparison["ours_paper_accuracy"],
                                                                  comparison["ours_paper_accuracy_sd"], strict=False)],
        "ours · paper protocol F1": comparison["ours_paper_macro_f1"].map(_fmt),
        "honest protocol": comparison["honest_protocol"].fillna("—"),
        "ours · honest acc": [_fmt(v, s) for v, s in zip(comparison["ours_honest_accuracy"],
                                                         comparison["ours_honest_accuracy_sd"], strict=False)],
        "ours · honest F1": comparison["ours_honest_macro_f1"].map(_fmt),
        "Δ paper protocol − paper": comparison["delta_paper_protocol"].map(_signed),
        "Δ honest − paper": comparison["delta_honest"].map(_signed),
        "leak inflation": comparison["inflation"].map(_signed),
    })


def report_html(records: list[dict], reproduction_id: str) -> str:
    """The whole report as one HTML document."""
    comparison = comparison_table(records)
    protocols = protocol_table(records)
    datasets = sorted({RunRecord.of(r).dataset_label or "?" for r in records})
    synthetic = any(d != "GTZAN" for d in datasets)
    recipes = sorted({recipe_label(r) for r in records})
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>Reproduction {html.escape(reproduction_id)}"
             f"</title><style>{_CSS}</style></head><body>",
             f"<h1>Reproducing the paper's table</h1><p class='note'>Reproduction <code>{html.escape(reproduction_id)}"
             f"</code> · {len(records)} runs · dataset: {html.escape(', '.join(datasets))} · recipe: "
             f"{html.escape('; '.join(recipes))} · written {time.strftime('%Y-%m-%d %H:%M')}</p>"]
    if synthetic:
        parts.append("<p class='warn'><b>Synthetic demo set, not GTZAN.</b> These runs show the pipeline and the "
                     "size of the leak; their accuracies say nothing about the paper's numbers on real music.</p>")
    parts.append("<p>Ours at the paper's unit: per 3 s segment for MFCC models, per image (= track) for image models. "
                 "<b>Paper protocol</b>: MFCC models on a random 70:30 split of segments (<b>leaky</b>: segments of "
                 "one track on both sides), image models on an 80:20 split of images (seed 42); both <b>early-stopped "
                 "and chosen on the test set</b>, as the paper's code did. <b>Honest</b>: split by track with a "
                 "separate validation set (the artist-filtered split on real GTZAN). <b>Leak inflation</b> = "
                 "paper protocol − honest.</p>")
    if comparison.empty:
        parts.append("<p>No runs yet.</p></body></html>")
        return "".join(parts)
    parts.append(comparison_display(comparison).to_html(index=False, escape=True))
    parts.append(reproduction_figure(comparison).to_html(full_html=False, include_plotlyjs=True))
    parts.append("<h2>Every model and protocol</h2>")
    cols = ["model", "protocol_label", "seeds_done", "accuracy", "accuracy_sd", "macro_f1", "macro_f1_sd",
            "paper_accuracy", "paper_macro_f1", "delta_accuracy", "delta_macro_f1", "split_warning"]
    parts.append(protocols[cols].to_html(index=False, float_format=lambda v: f"{v:.3f}", na_rep="—"))
    parts.append("<h2>Per-class F1 beside the paper's Tables 1–7</h2><p class='note'>The image models' tables map "
                 "to genres (sorted names). The MFCC models' tables do not: their rows follow the os.walk order of "
                 "the author's genre folders, which the code does not fix, so they are shown as class 0–9 "
                 "beside our per-genre figures, not aligned with them.</p>")
    for model in dict.fromkeys(comparison["model"]):
        ours, paper = per_class_f1(records, model)
        table = paper_results.paper_results().get(model, {}).get("table")
        parts.append(f"<h3>{html.escape(model)} (paper Table {table})</h3><div class='pair'>")
        parts.append(per_class_f1_figure(ours, paper, f"{model}: per-class F1").to_html(
            full_html=False, include_plotlyjs=False, default_width="640px"))
        if not paper.empty and list(paper.index) == list(ours.index):
            parts.append(ours.join(paper).to_html(float_format=lambda v: f"{v:.2f}", na_rep="—"))
        else:
            parts.append(ours.to_html(float_format=lambda v: f"{v:.2f}", na_rep="—"))
            if not paper.empty:
                parts.append(paper.to_html(float_format=lambda v: f"{v:.2f}", na_rep="—"))
        parts.append("</div>")
    parts.append("</body></html>")
    return "".join(parts)


def transfer_report_html(records: list[dict], study_id: str) -> str:
    """A transfer study (``python -m gtzan_core transfer``) as one HTML document."""
    from ..plots import transfer_figure
    from .transfer import transfer_display, transfer_table

    table = transfer_table(records)
    datasets = sorted({RunRecord.of(r).dataset_label or "?" for r in records})
    protocol = next(((r.get("transfer") or {}).get("protocol") for r in records), "track")
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>Transfer study {html.escape(study_id)}"
             f"</title><style>{_CSS}</style></head><body><h1>Does pretraining help?</h1>",
             f"<p class='note'>Study <code>{html.escape(study_id)}</code> · {len(records)} runs · dataset: "
             f"{html.escape(', '.join(datasets))} · protocol {html.escape(protocol)} · written "
             f"{time.strftime('%Y-%m-%d %H:%M')}</p>"]
    if any(d != "GTZAN" for d in datasets):
        parts.append("<p class='warn'><b>Synthetic demo set, not GTZAN</b>: these accuracies say nothing about "
                     "real music.</p>")
    parts.append("<p>Every model that can read this dataset, on the same split and seeds: networks pretrained on "
                 "music (musicnn, Million Song Dataset), on photos (EfficientNet-Lite0, ImageNet), and the same "
                 "architectures from random initialisation beside the paper's models trained from scratch. Track-"
                 "level test accuracy, mean ± sd over seeds.</p>")
    if table.empty:
        return "".join(parts) + "<p>No runs yet.</p></body></html>"
    parts.append(transfer_display(table).to_html(index=False, escape=True))
    parts.append(transfer_figure(table).to_html(full_html=False, include_plotlyjs=True))
    return "".join(parts) + "</body></html>"


def write_report(path: str | Path, records: list[dict], reproduction_id: str) -> Path:
    from ..fileio import atomic_write_bytes

    path = Path(path)
    atomic_write_bytes(path, report_html(records, reproduction_id).encode())
    return path
