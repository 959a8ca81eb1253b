"""A run's model card (Markdown) and its confusion-matrix image (PNG, drawn with OpenCV)."""

from __future__ import annotations

import re
import time

import numpy as np

from .. import GENRES


def confusion_png(confusion: list[list[int]], cell: int = 44) -> bytes:
    """The confusion matrix as a PNG: rows true genre, columns predicted, darker = more."""
    import cv2

    cm = np.asarray(confusion)
    n = len(cm)
    margin_l, margin_t = 90, 90
    img = np.full((margin_t + n * cell + 10, margin_l + n * cell + 10, 3), 255, np.uint8)
    peak = max(int(cm.max()), 1)
    for i in range(n):
        for j in range(n):
            v = cm[i, j] / peak
            colour = (int(255 - 60 * v), int(255 - 140 * v), int(255 - 180 * v))  # BGR, white -> blue
            x0, y0 = margin_l + j * cell, margin_t + i * cell
            cv2.rectangle(img, (x0, y0), (x0 + cell, y0 + cell), colour, -1)
            cv2.rectangle(img, (x0, y0), (x0 + cell, y0 + cell), (200, 200, 200), 1)
            text = str(int(cm[i, j]))
            ink = (255, 255, 255) if v > 0.6 else (30, 30, 30)
            cv2.putText(img, text, (x0 + 6, y0 + cell // 2 + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.42, ink, 1, cv2.LINE_AA)
    for k, g in enumerate(GENRES[:n]):
        cv2.putText(img, g, (4, margin_t + k * cell + cell // 2 + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1,
                    cv2.LINE_AA)
        label = np.full((14, 80, 3), 255, np.uint8)
        cv2.putText(label, g, (2, 11), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
        rotated = cv2.rotate(label, cv2.ROTATE_90_COUNTERCLOCKWISE)  # 80 x 14
        x0 = margin_l + k * cell + cell // 2 - 7
        img[5:85, x0:x0 + 14] = np.minimum(img[5:85, x0:x0 + 14], rotated)
    cv2.putText(img, "true \\ predicted", (4, 84), cv2.FONT_HERSHEY_SIMPLEX, 0.3, (90, 90, 90), 1, cv2.LINE_AA)
    ok, buf = cv2.imencode(".png", img)
    return buf.tobytes()


def _no_weights(record: dict) -> str:
    """The card's backbone line for a run that started from no pretrained weights."""
    from ..models import MODELS

    spec = MODELS.get(record.get("model"))
    return "none" if spec is not None and not spec.frozen_backbone else "random initialisation"


def preprocessing_text(record: dict) -> str:
    """How to turn audio into this model's input (for the card and ONNX users): its input
    kind's recipe (:meth:`gtzan_core.inputs.InputKind.preprocessing_text`)."""
    from ..inputs import kind_of
    from ..models import MODELS

    return kind_of(record).preprocessing_text(record, MODELS.get(record.get("model")))


# -- the starter model's section ------------------------------------------------

def limits_text(record: dict) -> str:
    """What the starter cannot do, in a few sentences (its card and the Predict page say it)."""
    s = record.get("starter") or {}
    audio = s.get("material") == "audio"
    learned = ("2-3 s excerpts of GTZAN tracks recorded around 2000-2001 (one per track)" if audio else
               "30 s GTZAN clips recorded around 2000-2001 (the Kaggle PNGs of them)")
    weights = record.get("weights") if isinstance(record.get("weights"), dict) else {}
    backbone = str(weights.get("weights") or "musicnn's network")  # the weights' name: which network(s) it sits on
    looks = ("It hears a clip 3 s patch by 3 s patch (musicnn's log-mel input at 16 kHz) and averages them; its "
             f"backbone is {backbone}, fetched by the studio (its weights are not in the repository)."
             if audio else "It looks at spectrogram pictures drawn like the Kaggle PNGs: one of a whole clip of "
                           "GTZAN's length (up to 31.5 s), one per 30 s window of a longer one.")
    return ("It knows GTZAN's ten genres only (blues, classical, country, disco, hiphop, jazz, metal, pop, reggae, "
            f"rock) and answers one of them for any sound. It learned from {learned}, a small set with known faults "
            "(repeated tracks, mislabelled and distorted clips; Sturm 2013): its test accuracy "
            f"({100 * s.get('mean', float('nan')):.1f} % ± {100 * s.get('sd', float('nan')):.1f} over "
            f"{len(s.get('seeds', []))} seeds, {s.get('test_tracks', '?')} test tracks each) is on GTZAN tracks, and "
            f"music from elsewhere (other eras, production, genres outside the ten) will fare worse. {looks}")


def choice_text(choice: dict) -> str:
    """How a starter's model was chosen among candidates, on validation figures (the ``choice``
    of its record: :func:`gtzan_core.starter.starter_choice`)."""
    from ..models import MODELS

    def title(model: str) -> str:
        return MODELS[model].title if model in MODELS else model

    def pct(v, sd=None) -> str:
        return "?" if v is None else f"{100 * v:.1f} %" + (f" ± {100 * sd:.1f}" if sd is not None and sd == sd else "")

    rows = "; ".join(f"{title(c['model'])} {pct(c['val_accuracy'], c.get('val_accuracy_sd'))} "
                     f"(test {pct(c['track_accuracy'], c.get('track_accuracy_sd'))})" for c in choice["candidates"])
    fb = choice.get("fallback")
    fallback = (f" The {title(fb['model'])} fallback starter's recorded validation accuracy is "
                f"{pct(fb['val_accuracy'])} ({fb.get('val_size', '?')} validation pictures, its seed 0)."
                if fb and fb.get("val_accuracy") is not None else "")
    return (f"Chosen as {title(choice['chosen'])}: {choice['rule']} on GTZAN validation, among "
            f"{len(choice['candidates'])} heads measured with the same split and seeds ({choice['result']}, made by "
            f"`{choice.get('command')}`). Validation accuracy, mean ± sd: {rows}; the test figures are beside, "
            f"never read for the choice.{fallback}")


def starter_card(record: dict) -> str:
    """The section of the model card that says what the starter is."""
    s = record.get("starter") or {}
    accs = ", ".join(f"{100 * a:.1f} %" for a in s.get("accuracies", []))
    vals = ", ".join(f"{100 * a:.1f} %" for a in s.get("val_accuracies", []) if a is not None)
    what = "real excerpts" if s.get("material") == "audio" else "Kaggle spectrogram PNGs"
    return "\n".join([
        "## Starter model", "",
        f"Shipped with the studio so that a first prediction of a real song gives a real guess. Trained on "
        f"**real GTZAN**: {s.get('tracks', '?')} {what} ({s.get('data', '?')}), split by track "
        f"70/15/15 stratified by genre, early-stopped on the validation part, tested once on "
        f"{s.get('test_tracks', '?')} tracks it never saw.", "",
        *([f"Validation accuracy (the epoch kept, per seed): {vals}; Predict's default answer weights the run "
           "by it.", ""] if vals else []),
        *([choice_text(s["choice"]), ""] if s.get("choice") else []),
        f"Test accuracy (track level) over seeds {', '.join(map(str, s.get('seeds', [])))}: {accs}; "
        f"**{100 * s.get('mean', float('nan')):.1f} % ± {100 * s.get('sd', float('nan')):.1f}** (mean ± sd). This "
        f"run is seed {s.get('shipped_seed', 0)}.", "",
        f"Limits: {limits_text(record)}", "",
        f"Remade with `{s.get('command', 'python -m gtzan_core starter --data <images_original>')}`.", ""])



# -- evaluations on other folders -------------------------------------------------

#: What can start Markdown (or HTML, an entity, a table cell) anywhere in a line: backslash-escaped in the card.
_MD_PUNCTUATION = frozenset("\\`*_{}[]()<>#+-.!|~$&:@\"'=")


def card_text(value) -> str:
    """A visitor's string (a folder's name, a label) as card Markdown that reads as exactly
    its characters: every character that can start Markdown or HTML backslash-escaped
    (CommonMark reads an escaped punctuation mark as itself), control characters and line
    breaks as spaces, a word joiner breaking bare ``www.`` addresses."""
    text = "".join(" " if ord(ch) < 32 or ord(ch) == 127 or ch in "\u2028\u2029\u0085" else ch for ch in str(value))
    out = "".join("\\" + ch if ch in _MD_PUNCTUATION else ch for ch in " ".join(text.split()))
    out = out.replace("\\:", "\\:\u2060").replace("\\@", "\u2060\\@")  # no bare address: http://, a@b
    return re.sub(r"(www)\\\.", "\\1\u2060\\\\.", out, flags=re.IGNORECASE)


def card_code(value) -> str:
    """``value`` (a path) as inline code holding exactly its characters: fenced by more
    backticks than any run inside it."""
    text = " ".join("".join(" " if ord(ch) < 32 or ord(ch) == 127 else ch for ch in str(value)).split(" "))
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def external_card(record: dict) -> str:
    """The card's sections "Evaluated on FOLDER", one per folder the run was evaluated on
    (``gtzan-studio evaluate RUN --data FOLDER``); empty when it was on none."""
    from ..runs.record import RunRecord

    lines: list[str] = []
    for ev in RunRecord.of(record).external_evaluations:
        lines += [f"## Evaluated on {card_text(ev.name)}", "",
                  f"Folder {card_code(ev.folder)}, evaluated {time.strftime('%Y-%m-%d %H:%M', time.localtime(ev.date))}"
                  ": each audio file one clip, predicted as Predict does (the run's windows, their probabilities "
                  "averaged).", "",
                  "| files | scored | refused | out of scope | left out (seen in training) | clip accuracy "
                  "| macro F1 |",
                  "|---|---|---|---|---|---|---|",
                  f"| {ev.n_files} | {ev.n_scored} | {ev.n_refused} | {ev.n_out_of_scope} | {ev.n_dropped} | "
                  + (f"{ev.scores.accuracy:.3f} | {ev.scores.macro_f1:.3f} |" if ev.scores else "— | — |"), ""]
        if ev.scores is not None and ev.scores.n < 30:
            lines += [f"*{ev.scores.n} clips: a handful, too few for an accuracy claim.*", ""]
        if ev.label_map:
            lines += ["Labels mapped: " + ", ".join(f"{card_text(k)} → {card_text(v)}"
                                                   for k, v in ev.label_map.items()) + ".", ""]
        if ev.out_of_scope:
            lines += ["Out of scope (not one of GTZAN's ten, not scored): " + ", ".join(
                f"{card_text(k)} ({n})" for k, n in ev.out_of_scope.items()) + ".", ""]
        if ev.scores is not None:
            lines += ["| genre | precision | recall | F1 | support |", "|---|---|---|---|---|"]
            for g in GENRES:
                r = ev.scores.report.get(g)
                if r:
                    lines.append(f"| {g} | {r['precision']:.2f} | {r['recall']:.2f} | {r['f1-score']:.2f} | "
                                 f"{int(r['support'])} |")
            lines.append("")
        for note in ev.notes:
            lines += [f"Note: {card_text(note)}", ""]
    return "\n".join(lines)


def model_card(record: dict) -> str:
    from ..hparams import recipe_label
    from ..models import record_steps
    from ..runs.record import RunRecord

    run = RunRecord.of(record)
    record = run.data
    ev = run.evaluation
    seg, trk = (ev.segment, ev.track or {}) if ev else ({}, {})
    steps = record_steps(record)
    best = record.get("best_epoch")
    best = steps.point(int(best)) if steps.values and best else best
    data = card_text(run.dataset_label or "?")  # (a folder's name, an imported run's: anyone's text)
    lines = [f"# {card_text(run.title)} — run `{record['run_id']}`", ""]
    if run.dataset_label != "GTZAN":
        lines += [f"> **Trained on the {data} set, not GTZAN**: its accuracy says nothing about real music.", ""]
    lines += [
        "| | |", "|---|---|",
        f"| model | `{record.get('model')}` ({record.get('citation', '')}) |",
        f"| trainable / total parameters | {record.get('trainable_params', '?'):,} / "
        f"{record.get('total_params', '?'):,} |",
        f"| recipe | {recipe_label(record)} |",
        f"| protocol | {record.get('protocol_label') or record.get('protocol')} |",
        f"| data | {data} |",
        f"| pretrained backbone | {(record.get('weights') or {}).get('weights') or _no_weights(record)} |",
        f"| licence | {record.get('licence') or 'MIT (the studio)'} |",
        f"| {steps.many} | {record.get('epochs_run')} (best {best}) on {record.get('device')} |",
        f"| date | {time.strftime('%Y-%m-%d %H:%M', time.localtime(record.get('created', 0)))} |",
        f"| torch | {record.get('torch')} |", "",
        "## Test metrics", "",
        "| level | accuracy | macro F1 | n |", "|---|---|---|---|",
    ]
    # a run whose sample is the track (a picture, a feature vector) has one level: said once, as the track's
    levels = ((("track", trk or seg),) if run.one_sample_per_track else (("segment / image", seg), ("track", trk)))
    for level, m in levels:
        if m:
            lines.append(f"| {level} | {m['accuracy']:.3f} | {m['macro_f1']:.3f} | {m['n']} |")
    if record.get("selection_on_test"):
        lines += ["", "*Early-stopped and chosen on its test set (the paper's protocol): optimistic.*"]
    if seg.get("report"):
        lines += ["", "| genre | precision | recall | F1 | support |", "|---|---|---|---|---|"]
        for g in GENRES:
            r = seg["report"].get(g)
            if r:
                lines.append(f"| {g} | {r['precision']:.2f} | {r['recall']:.2f} | {r['f1-score']:.2f} | "
                             f"{int(r['support'])} |")
    lines += ["", "![confusion matrix](confusion.png)", "", "## Input", "", preprocessing_text(record), "",
              "Classes, in output order: " + ", ".join(f"{k} {g}" for k, g in enumerate(GENRES)) + ".", ""]
    if record.get("starter"):
        lines += [starter_card(record)]
    if record.get("external_evaluations"):
        lines += [external_card(record)]
    if (record.get("weights") or {}).get("sha256"):
        from ..models.weights import known_weights

        w = record["weights"]
        known = known_weights(w.get("file"))
        where = (f"which the machine that loads it needs ({known.install})" if known is not None and
                 known.origin != "hub" else "which the importing machine needs in torch's hub cache")
        lines += ["## Backbone", "", f"The checkpoint holds the trained head only; it sits on `{w['file']}` "
                  f"({w['weights']}, SHA-256 `{w['sha256']}`), {where}.", ""]
    return "\n".join(lines)
