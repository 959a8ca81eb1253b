"""Predict's default answer for a whole music folder: ``python -m gtzan_core predict
FOLDER… [--csv FILE]``.

Every audio file under the folders given (and every file given by name) gets the default
answer (:mod:`gtzan_core.ensemble`), computed with only the runs that enter it (a
fallback starter is not run) and without the Predict page's picture. A file that cannot
be read or is too short is named with the reason and skipped. With a CSV file, one row a
file is appended and flushed as soon as it is known, and a second run with the same file
skips the files already in it: a stopped run goes on where it stopped.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from . import GENRES
from .audio import AUDIO_EXTENSIONS
from .errors import AudioError, OutputError, StudioError

#: The CSV's columns: the file, its length, the answer and its probability, who answered,
#: every genre's probability, and the reason when the file was refused.
COLUMNS = ("file", "seconds", "genre", "probability", "answered_by", *GENRES, "error")


@dataclass
class FileAnswer:
    """One file's default answer, or why it has none."""

    file: str
    seconds: float | None = None
    genre: str | None = None
    probability: float | None = None
    answered_by: str = ""
    probabilities: dict[str, float] | None = None
    error: str = ""

    def row(self) -> dict[str, str]:
        probs = self.probabilities or {}
        return {"file": self.file, "seconds": "" if self.seconds is None else f"{self.seconds:.2f}",
                "genre": self.genre or "", "probability": "" if self.probability is None else f"{self.probability:.4f}",
                "answered_by": self.answered_by, **{g: f"{probs[g]:.4f}" if g in probs else "" for g in GENRES},
                "error": self.error}

    def line(self) -> str:
        from .audio import printable

        if self.error:
            return f"{printable(self.file)}: skipped: {self.error}"
        return f"{printable(self.file)}: {self.genre} ({self.probability:.2f}), {self.seconds:.1f} s"


def audio_files(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """The files to predict: each folder's audio files (by extension, recursively, sorted),
    each file given as it is; a path that does not exist is an :class:`AudioError`."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_EXTENSIONS)
        elif p.is_file():
            out.append(p)
        else:
            raise AudioError(f"{p}: no such file or folder")
    return list(dict.fromkeys(out))


def done_files(csv_path: str | os.PathLike) -> set[str]:
    """The files already in a CSV written by :func:`predict_files` (none when it is absent);
    a CSV of another layout is an :class:`OutputError`."""
    path = Path(csv_path)
    if not path.is_file():
        return set()
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None:
            return set()
        if list(reader.fieldnames) != list(COLUMNS):
            raise OutputError(f"{path}: not a CSV of predict's answers (its columns are not {', '.join(COLUMNS)})")
        return {row["file"] for row in reader}


def answer_selection(store) -> tuple[list[str], dict[str, str]]:
    """(the runs the default answer combines, {run id: why} of those whose weights are
    absent): :func:`~gtzan_core.inference.default_selection` cut to the answer's runs."""
    from .ensemble import answer_runs
    from .inference import default_selection

    run_ids, missing = default_selection(store)
    return answer_runs({rid: store.read(rid) for rid in run_ids}), missing


def predict_files(files: list[Path], store, device: str = "cpu", run_ids: list[str] | None = None,
                  unavailable: dict[str, str] | None = None) -> Iterator[FileAnswer]:
    """Each file's default answer, in order. ``run_ids``: default :func:`answer_selection`."""
    from .inference import predict

    if run_ids is None:
        run_ids, unavailable = answer_selection(store)
    for f in files:
        try:
            pred = predict(f, run_ids, store, device=device, unavailable=unavailable)
        except (StudioError, OSError) as exc:  # unreadable, too short, damaged: named and skipped
            yield FileAnswer(str(f), error=str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            continue
        answer = pred.answer()
        if answer.probs is None:
            why = "; ".join(pred.refused.values()) or answer.answered_by
            yield FileAnswer(str(f), seconds=pred.duration, error=f"no answer: {why}")
            continue
        probs = {g: float(p) for g, p in zip(GENRES, answer.probs, strict=True)}
        yield FileAnswer(str(f), seconds=pred.duration, genre=answer.top, probability=float(answer.probs.max()),
                         answered_by=answer.answered_by, probabilities=probs)


class CsvAnswers:
    """Rows appended to a CSV file (the header written when the file is new), each flushed."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        new = not self.path.is_file() or self.path.stat().st_size == 0
        try:
            self.fh = self.path.open("a", newline="", encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot write the answers there ({exc.strerror or exc})") from None
        self.writer = csv.DictWriter(self.fh, fieldnames=COLUMNS)
        if new:
            self.writer.writeheader()

    def write(self, answer: FileAnswer) -> None:
        self.writer.writerow(answer.row())
        self.fh.flush()

    def close(self) -> None:
        self.fh.close()
