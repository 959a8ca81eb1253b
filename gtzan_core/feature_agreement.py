"""How far the studio's own feature extraction (:mod:`gtzan_core.audio_features`) is from
the Kaggle table's rows, per column, on the real clips at hand.

``python -m gtzan_core features-agreement [FOLDER] [--csv FILE] [--json]``: every clip of
``FOLDER`` (default ``../shared/data/gtzan-real/genres_original``) whose file name is a row's
``filename`` of the table (``blues.00000.wav``; a clip stored as ``.au`` or ``.mp3`` is
matched by its track id) is decoded at 22050 Hz, its vector computed, and compared with
the row: per column the median and largest relative error ``|ours - kaggle| / |kaggle|``
and the correlation over the clips.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .audio_features import KAGGLE_COLUMNS, vector
from .errors import DatasetError


@dataclass
class Agreement:
    tracks: list[str]
    ours: np.ndarray  # (clips, 57)
    kaggle: np.ndarray  # (clips, 57)
    skipped: list[tuple[str, str]]

    def rows(self) -> list[dict]:
        """One row per column: median and max relative error, correlation over the clips."""
        out = []
        for j, name in enumerate(KAGGLE_COLUMNS):
            a, b = self.ours[:, j].astype(np.float64), self.kaggle[:, j].astype(np.float64)
            rel = np.abs(a - b) / np.maximum(np.abs(b), 1e-12)
            corr = float(np.corrcoef(a, b)[0, 1]) if len(a) > 1 and a.std() > 0 and b.std() > 0 else float("nan")
            out.append({"column": name, "median_rel_error": float(np.median(rel)), "max_rel_error": float(rel.max()),
                        "correlation": corr, "exact_share": float(np.mean(rel < 1e-9))})
        return out


def kaggle_rows(csv_path: str | Path) -> dict[str, np.ndarray]:
    """The Kaggle table's rows by track id (``blues.00000``)."""
    from .data.table import read_table

    rows, features, _ = read_table(csv_path)
    if features != list(KAGGLE_COLUMNS):
        raise DatasetError(f"{csv_path}: not the Kaggle table (its feature columns differ)")
    return {t: rows.loc[i, features].to_numpy(np.float64) for i, t in enumerate(rows["track_id"])}


def agreement(folder: str | Path, csv_path: str | Path, limit: int | None = None, progress=None) -> Agreement:
    from .audio import AUDIO_EXTENSIONS, decode_audio
    from .errors import AudioError

    table = kaggle_rows(csv_path)
    files = sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
    files = [p for p in files if p.stem in table][:limit]
    if not files:
        raise DatasetError(f"{folder}: no clip whose name is a row of {Path(csv_path).name}")
    tracks, ours, kaggle, skipped = [], [], [], []
    for k, path in enumerate(files):
        try:
            y = decode_audio(path).at(22050)
        except AudioError as exc:
            skipped.append((path.name, str(exc)))
            continue
        tracks.append(path.stem)
        ours.append(vector(y, 22050))
        kaggle.append(table[path.stem])
        if progress:
            progress(k + 1, len(files), path.name)
    return Agreement(tracks, np.array(ours), np.array(kaggle), skipped)


def format_table(result: Agreement) -> str:
    lines = [f"{len(result.tracks)} clips compared with the Kaggle table's rows",
             f"{'column':26s} {'median rel. err':>16s} {'max rel. err':>13s} {'correlation':>12s}"]
    for r in result.rows():
        lines.append(f"{r['column']:26s} {r['median_rel_error']:16.2e} {r['max_rel_error']:13.2e} "
                     f"{r['correlation']:12.6f}")
    for name, why in result.skipped:
        lines.append(f"skipped {name}: {why}")
    return "\n".join(lines)
