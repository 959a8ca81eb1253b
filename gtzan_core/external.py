"""Runs evaluated on another labelled folder: does a model generalise beyond its data?

A labelled folder is ``<label>/<audio files>`` (files may sit in subfolders of their
label's folder), or the Kaggle layout ``genres_original/<label>/...`` (``genres/`` too)
inside it. A label is one of GTZAN's ten genres (case aside), or is mapped to one with
``label_map`` (``{"hip-hop": "hiphop"}``); any other label is *out of scope*: its files
are counted, never scored.

Every file is one clip, predicted as Predict does (:func:`gtzan_core.inference.predict`:
decoded once with the bounded decoder, each run's windows, their probabilities
averaged), file by file: a file that cannot be used (corrupt, not audio, too short,
unreadable) is refused with why, in one line, and the evaluation goes on.

Tracks the run trained or was chosen on are left out, and said so: a file's track is its
name without the extension (``blues.00001.wav`` is track ``blues.00001``), matched
against the track ids the run's record keeps (``split.seen_tracks``). Ids are matched
only between data of the same origin (real GTZAN with real, the synthetic demo set
with a synthetic set), since the demo set reuses GTZAN's names for other sounds. A run
recorded before it kept its ids drops every track of its training folder when that
folder is here, and says that it could not check otherwise.

Each run's result (:class:`~gtzan_core.runs.record.ExternalEvaluation`) is saved with
the run, keyed by the folder: evaluating a folder again replaces its result. On a shared
instance only the run's owner or the admin may attach one (:mod:`gtzan_core.classroom.rules`).
"""

from __future__ import annotations

import os
import stat
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import GENRE_INDEX, GENRES
from .audio import AUDIO_EXTENSIONS, printable
from .errors import ConfigError, DatasetError, StudioError
from .runs.record import ExternalEvaluation, Scores

#: The record field that holds a run's evaluations on other folders (folder -> evaluation).
FIELD = "external_evaluations"
#: Folders that hold the label folders in the Kaggle and original GTZAN layouts.
LAYOUT_DIRS = ("genres_original", "genres")
#: The marker file of a synthetic demo set (:mod:`gtzan_core.data.synth`).
_SYNTH_MARKER = "SYNTHETIC_DEMO.json"


@dataclass
class LabelledFolder:
    """What a labelled folder holds: each file with its folder's label, and the files that
    are in no label folder (left out, said in a note)."""

    root: Path  # the folder given, resolved: the key of its evaluations
    labels_root: Path  # the folder holding the label folders (root, or its genres_original/)
    name: str  # how tables and cards name it
    synthetic: bool  # a synthetic demo set (its track names are not GTZAN's tracks)
    files: list[tuple[Path, str]] = field(default_factory=list)  # (file, label)
    unlabelled: list[Path] = field(default_factory=list)

    def relative(self, path: Path) -> str:
        return printable(os.path.relpath(path, self.root))


def folder_name(root: Path) -> str:
    """The folder's name for people: its last part, with its parent's for a layout folder
    (``gtzan-real/genres_original``)."""
    return f"{root.parent.name}/{root.name}" if root.name in LAYOUT_DIRS and root.parent.name else root.name


def _files_under(folder: Path) -> list[Path]:
    """Every non-hidden entry under ``folder`` that is not a folder (links are not followed
    into folders; FIFOs and devices are listed, for the decoder to refuse unopened)."""
    out = []
    for base, dirs, names in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        out += [Path(base) / n for n in sorted(names) if not n.startswith(".")]
    return out


def scan_folder(folder: str | Path) -> LabelledFolder:
    """The labelled folder at ``folder``; :class:`DatasetError` when it is missing, is no
    folder, or holds no label folder with a file in it."""
    root = Path(folder).expanduser()
    if not root.exists():
        raise DatasetError(f"{printable(root)}: no such folder")
    if not root.is_dir():
        raise DatasetError(f"{printable(root)}: not a folder")
    root = root.resolve()
    labels_root = next((root / d for d in LAYOUT_DIRS if (root / d).is_dir()), root)
    found = LabelledFolder(root, labels_root, folder_name(root),
                           (root / _SYNTH_MARKER).is_file() or (labels_root / _SYNTH_MARKER).is_file())
    label_dirs = []
    for entry in sorted(labels_root.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir() and not entry.is_symlink():
            label_dirs.append(entry)
        elif entry.name != _SYNTH_MARKER and labels_root == root:
            found.unlabelled.append(entry)
    for d in label_dirs:
        found.files += [(f, d.name) for f in _files_under(d)]
    if not label_dirs:
        raise DatasetError(f"{printable(root)}: no label folders (expected <label>/<audio files>, or "
                           "genres_original/<label>/<audio files>)")
    if not found.files:
        raise DatasetError(f"{printable(root)}: its label folders ({', '.join(printable(d.name) for d in label_dirs)}"
                           ") hold no files")
    return found


def parse_label_map(items: Sequence[str] | None) -> dict[str, str]:
    """``["hip-hop=hiphop", ...]`` as ``{"hip-hop": "hiphop"}``; a genre outside GTZAN's
    ten, or an item without ``=``, is a :class:`ConfigError`."""
    out: dict[str, str] = {}
    for item in items or []:
        label, sep, genre = item.partition("=")
        label, genre = label.strip(), genre.strip().lower()
        if not sep or not label or not genre:
            raise ConfigError(f"--map {item!r}: expected LABEL=GENRE (e.g. hip-hop=hiphop)")
        if genre not in GENRE_INDEX:
            raise ConfigError(f"--map {item!r}: {genre!r} is not one of GTZAN's genres ({', '.join(GENRES)})")
        out[label] = genre
    return out


def genre_of(label: str, label_map: dict[str, str]) -> str | None:
    """The GTZAN genre of a folder label: mapped, else the label itself when it is one of
    the ten (case aside), else None (out of scope)."""
    if label in label_map:
        return label_map[label]
    low = {k.casefold(): v for k, v in label_map.items()}
    if label.casefold() in low:
        return low[label.casefold()]
    return label.casefold() if label.casefold() in GENRE_INDEX else None


def track_id(path: Path) -> str:
    """A file's track: its name without the extension (``blues.00001.wav``: ``blues.00001``)."""
    return path.stem


@dataclass
class SeenTracks:
    """The tracks a run trained or was chosen on, as far as can be known, and what was
    done to know them."""

    ids: frozenset[str]
    note: str | None = None


def seen_tracks(record: dict, folder: LabelledFolder) -> SeenTracks:
    """The track ids of ``folder`` to leave out for the run of ``record``."""
    from .ensemble import trained_on_demo

    trained_synthetic = trained_on_demo(record)
    if trained_synthetic != folder.synthetic:
        return SeenTracks(frozenset())  # other material under the same names: nothing to match
    ids = (record.get("split") or {}).get("seen_tracks")
    if ids is not None:
        return SeenTracks(frozenset(ids))
    root = (record.get("dataset") or {}).get("root")
    if root:
        from .data import discover_dataset

        try:
            ds = discover_dataset(root, check_audio=False)
        except (StudioError, OSError):
            pass
        else:
            return SeenTracks(frozenset(ds.tracks["track_id"].astype(str)),
                              "the run does not record which tracks it trained on: every track of its training "
                              f"folder ({printable(root)}) was left out")
    return SeenTracks(frozenset(), "the run does not record which tracks it trained on and its training folder is "
                                   "not here: tracks it may have trained on could not be left out")


def _reason(exc: BaseException, path: Path) -> str:
    """What was wrong with a file, in one line, without its name in front (the report names it)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    for prefix in (f"{path.name}: ", f"{printable(path)}: "):
        if text.startswith(prefix):
            text = text[len(prefix):]
    return text if isinstance(exc, StudioError) else f"could not be analysed ({type(exc).__name__}: {text[:200]})"


@dataclass
class _Tally:
    y_true: list[int] = field(default_factory=list)
    y_pred: list[int] = field(default_factory=list)
    clips: list[dict] = field(default_factory=list)  # each scored clip: path (in the folder), true, pred, probs
    refused: list[dict] = field(default_factory=list)
    dropped: list[dict] = field(default_factory=list)
    error: str | None = None


def check_attach(record: dict, settings=None, user: str | None = None, admin: bool = True) -> None:
    """Refuse to attach an evaluation to a run that is not the visitor's on a shared
    instance (the admin and a personal studio may); the CLI is the local admin."""
    from .classroom.rules import check_modify

    if settings is not None:
        check_modify(settings, user, admin, record, "attach an evaluation to")


def evaluate_folder(run_ids: Sequence[str], folder: str | Path, store=None, label_map: dict[str, str] | None = None,
                    device: str = "cpu", on_file: Callable[[Path], None] | None = None, save: bool = True,
                    settings=None, user: str | None = None, admin: bool = True) -> dict[str, ExternalEvaluation]:
    """Evaluate each run of ``run_ids`` on the labelled folder ``folder`` (see the module's
    docstring); returns run id -> its evaluation, and (``save``) saves each with its run.
    A run that cannot be used (no model, damaged) is a :class:`StudioError` before any
    file is read; a file that cannot is refused and the next one is read. ``on_file``
    is called after each file (a progress bar)."""
    from .inference import load_run_model, predict
    from .runs import RunStore

    store = store or RunStore()
    label_map = dict(label_map or {})
    found = scan_folder(folder)
    labels = {label for _, label in found.files}
    unknown = sorted(set(label_map) - labels)
    if unknown:
        raise ConfigError(f"--map: no label folder named {', '.join(repr(printable(u)) for u in unknown)} in "
                          f"{printable(found.labels_root)} (its labels: {', '.join(sorted(map(printable, labels)))})")
    records = {}
    for rid in dict.fromkeys(run_ids):
        record = store.read(rid)
        check_attach(record, settings, user, admin)
        load_run_model(store, rid, device)  # no model, or a damaged one: said now, naming the run
        records[rid] = record
    if not records:
        raise ConfigError("no run to evaluate")
    seen = {rid: seen_tracks(r, found) for rid, r in records.items()}
    tallies = {rid: _Tally() for rid in records}
    out_of_scope: Counter[str] = Counter()
    for path, label in found.files:
        genre = genre_of(label, label_map)
        rel = found.relative(path)
        if genre is None:
            out_of_scope[label] += 1
        elif path.suffix.lower() not in AUDIO_EXTENSIONS:
            for t in tallies.values():
                t.refused.append({"path": rel, "reason": _not_audio_reason(path)})
        else:
            tid = track_id(path)
            here = []
            for rid, t in tallies.items():
                if t.error:
                    continue
                if tid in seen[rid].ids:
                    t.dropped.append({"path": rel, "reason": f"the run trained or was chosen on track {tid}"})
                else:
                    here.append(rid)
            if here:
                _predict_file(path, rel, genre, here, tallies, predict, store, device)
        if on_file:
            on_file(path)
    now = time.time()
    results = {}
    for rid, t in tallies.items():
        if t.error:
            raise StudioError(t.error)
        scores = clip_scores(t.y_true, t.y_pred) if t.y_true else None
        notes = [n for n in (seen[rid].note,) if n]
        if found.unlabelled:
            notes.append(f"{len(found.unlabelled)} file(s) directly in the folder are in no label folder: left out")
        n_scope = sum(out_of_scope.values())
        results[rid] = ExternalEvaluation(
            folder=str(found.root), name=found.name, date=now, label_map=label_map, n_files=len(found.files),
            n_scored=len(t.y_true), n_refused=len(t.refused), n_out_of_scope=n_scope, n_dropped=len(t.dropped),
            accuracy=None if scores is None else scores.accuracy, scores=scores, refused=t.refused,
            out_of_scope=dict(sorted(out_of_scope.items())), dropped=t.dropped, notes=notes)
    if save:
        for rid, ev in results.items():
            if ev.n_scored:
                save_evaluation(store, rid, ev)
                # each clip's prediction beside the record: a confusion cell lists its clips
                store.save_predictions(rid, external={ev.folder: {"classes": list(GENRES),
                                                                  "tracks": tallies[rid].clips}})
    return results


def clip_scores(y_true: list[int], y_pred: list[int]) -> Scores:
    """Accuracy, the per-class report of the genres the folder holds (its macro average
    over them alone: a genre the folder lacks has no recall to average) and the confusion
    matrix over all ten genres (rows true, columns predicted)."""
    from sklearn.metrics import accuracy_score, classification_report, confusion_matrix

    present = sorted(set(y_true))
    report = classification_report(y_true, y_pred, labels=present, target_names=[GENRES[k] for k in present],
                                   output_dict=True, zero_division=0)
    report = {k: v for k, v in report.items() if k not in ("accuracy", "micro avg")}
    return Scores(float(accuracy_score(y_true, y_pred)), float(report["macro avg"]["f1-score"]), len(y_true), report,
                  confusion_matrix(y_true, y_pred, labels=list(range(len(GENRES)))).tolist(),
                  float(report["weighted avg"]["f1-score"]))


def _not_audio_reason(path: Path) -> str:
    try:
        mode = path.lstat().st_mode
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if stat.S_ISLNK(mode) and not path.exists():
        return "a link to nothing (broken symbolic link)"
    return (f"not an audio file (its extension {printable(path.suffix) or '(none)'} is none of "
            f"{', '.join(AUDIO_EXTENSIONS)})")


def _predict_file(path: Path, rel: str, genre: str, run_ids: list[str], tallies: dict[str, _Tally], predict, store,
                  device: str) -> None:
    """One file through Predict for ``run_ids``; a file it cannot use is refused for each."""
    try:
        pred = predict(path, run_ids, store, device=device)
    except (KeyboardInterrupt, MemoryError):
        raise
    except Exception as exc:  # one bad file never stops the evaluation: it is refused with why
        for rid in run_ids:
            tallies[rid].refused.append({"path": rel, "reason": _reason(exc, path)})
        return
    for rid in run_ids:
        if rid in pred.refused:  # the run itself cannot read clips (its feature parameters): said once, at the end
            tallies[rid].error = pred.refused[rid]
            continue
        probs = pred.results[rid].probs
        tallies[rid].y_true.append(GENRE_INDEX[genre])
        tallies[rid].y_pred.append(int(probs.argmax()))
        tallies[rid].clips.append({"track": rel, "true": GENRE_INDEX[genre], "pred": int(probs.argmax()),
                                   "probs": [round(float(p), 4) for p in probs]})


def save_evaluation(store, run_id: str, evaluation: ExternalEvaluation) -> dict:
    """Save ``evaluation`` with its run (replacing that folder's earlier one), under the
    run's lock; returns the record as it now is."""
    return store.set_external_evaluation(run_id, evaluation.folder, evaluation.as_dict())
