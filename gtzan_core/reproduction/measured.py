"""What the Reproduction page draws from result files: the studio's own measured real-data
results shipped with the package, beside the paper's figures, and the user's own runs of the
same commands when there are any (:mod:`.result_files`)."""

from __future__ import annotations

import pandas as pd

from .. import paper_results
from .result_files import shipped_results, user_results


def _tracks(doc: dict) -> int:
    return int((doc.get("source") or doc.get("dataset") or {}).get("tracks") or 0)


def results_of(kind: str) -> list[dict]:
    """Result files of ``kind``: the user's own first (newest first), then the shipped ones,
    the largest dataset first (the 1,000-track table before the 499 excerpts)."""
    shipped = sorted(shipped_results(kind), key=lambda d: (-_tracks(d), -(d.get("created") or 0)))
    return user_results(kind) + shipped


def _pct(v, sd=None) -> str:
    if v is None or v != v:
        return "—"
    return f"{100 * v:.1f} %" + (f" ± {100 * sd:.1f}" if sd is not None and sd == sd else "")


def transfer_beside_paper(doc: dict) -> pd.DataFrame:
    """A transfer result's rows as display strings, each beside the paper's accuracy for the
    same model (the paper's models only; it ran them with ImageNet weights where pretrained,
    under its own protocol, so the two columns are read side by side, not subtracted)."""
    paper = paper_results.paper_results()
    rows = []
    for r in doc.get("rows", []):
        model = r.get("model")
        rows.append({
            "pretrained on": r.get("pretrained_on", "—"), "model": r.get("title") or model,
            "condition": r.get("condition", "—"),
            "track accuracy": _pct(r.get("track_accuracy"), r.get("track_accuracy_sd")),
            "macro F1": _pct(r.get("macro_f1"), r.get("macro_f1_sd")),
            "seeds": f"{r.get('seeds_done', '?')}/{r.get('seeds', '?')}",
            **({"test folder accuracy": _pct(r.get("test_data_accuracy"), r.get("test_data_accuracy_sd")),
                "test folder macro F1": _pct(r.get("test_data_macro_f1"), r.get("test_data_macro_f1_sd")),
                "test folder clips": ", ".join(str(n) for n in r.get("test_data_clips") or []) or "—"}
               if doc.get("test_data") else {}),
            "the paper's accuracy": _pct((paper.get(model) or {}).get("accuracy")),
        })
    return pd.DataFrame(rows)


def tested_on(doc: dict) -> str:
    """`` · tested on FOLDER`` for a result tested on a folder besides its split, else ``""``
    (what tells two studies on the same data apart where their titles are shown)."""
    test = doc.get("test_data")
    return f" · tested on {test.get('name', 'a folder')}" if test else ""


def test_data_caption(doc: dict) -> str | None:
    """What a transfer result tested on a folder besides its split says about it (None: it did not)."""
    test = doc.get("test_data")
    if not test:
        return None
    left_out = test.get("left_out") or []
    return (f"Each run also tested on {test.get('name', 'a folder')} ({test.get('files', '?')} files), each file "
            "predicted whole as Predict does (all its windows, their probabilities averaged). The "
            f"{len(left_out)} track(s) of the training data that folder holds were left out of the study before "
            "the split, so no run trained, stopped early or was chosen on a track it is tested on there. "
            "\"track accuracy\" is the split's own test part; \"test folder accuracy\" that folder's clips, mean ± "
            "sd over the seeds.")
