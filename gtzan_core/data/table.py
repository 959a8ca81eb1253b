"""A feature table as a dataset: a Kaggle-style CSV of one row per track.

The columns are ``filename`` (``blues.00000.wav``: the track id is the name without its
extension, so track splits, the paper's protocol and the artist-filtered protocol work
by track id), ``label`` (one of GTZAN's ten genres), the feature columns (numbers;
``length``, the clip's length in samples, is optional and not a feature). The feature
columns are those of :data:`gtzan_core.audio_features.KAGGLE_COLUMNS` when the table has
them all (in that order, whatever the CSV's order; extra numeric columns are then left
out and named in a warning), otherwise every numeric column but ``length``.

Only the feature-vector models can train on a table (it has no audio and no pictures).
A bad table is refused with one message saying what is wrong: a missing ``filename`` or
``label`` column, a column named twice (seen in the header itself, before pandas would
rename the second one), more than :data:`MAX_TABLE_COLUMNS` columns, no feature column, a
non-numeric or missing value, a value outside float32's range (the models compute in
float32: 1e39 would become infinite), an unknown label, a file name that is no track id, a
repeated track, an empty table. Reading costs time linear in the file's size: the values
are converted as one array and the feature columns join the rows as one block
(``bench/table_read.py``).
"""

from __future__ import annotations

import csv
import operator
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .. import GENRES
from ..audio import printable
from ..errors import DatasetError

#: the largest table read (bytes): the Kaggle 30 s table is ~0.5 MB, its 3 s one ~6 MB
MAX_TABLE_BYTES = 64 * 1024 * 1024
#: the most columns a table may have (the Kaggle tables have 60; bench/table_read.py reads up to 20,000 in linear time)
MAX_TABLE_COLUMNS = 25_000
#: float32's largest finite value: a feature beyond it would become infinite in the models
FLOAT32_MAX = float(np.finfo(np.float32).max)
_TRACK = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
_NOT_FEATURES = ("filename", "label", "length")


def is_table(path: str | Path) -> bool:
    """Whether ``path`` names a feature table (a ``.csv`` file) rather than a folder."""
    p = Path(path)
    return p.suffix.lower() == ".csv" and not p.is_dir()


def _where(path: Path, rows) -> str:
    rows = list(rows)
    shown = ", ".join(str(r + 2) for r in rows[:5])  # CSV line numbers (line 1 is the header)
    return f"{path.name}: line{'s' if len(rows) > 1 else ''} {shown}{' …' if len(rows) > 5 else ''}"


def _read_cells(path: Path) -> tuple[list[str], list[list[str]]]:
    """``(column names, rows)``: the header (stripped) and every non-blank row, read by the
    csv module in one pass (time linear in the file's size). The
    header is checked before anything else: a name given twice (pandas would have renamed
    the second ``x.1``), more than :data:`MAX_TABLE_COLUMNS` columns; a row of another
    width is refused naming its line."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = [c.strip() for c in next(reader, [])]
            if len(header) > MAX_TABLE_COLUMNS:
                raise DatasetError(f"{path.name}: {len(header):,} columns is more than a feature table may have "
                                   f"(at most {MAX_TABLE_COLUMNS:,})")
            seen: set[str] = set()
            dup = []
            for name in header:
                if name in seen:
                    dup.append(name)
                seen.add(name)
            if dup:
                raise DatasetError(f"{path.name}: line 1: column(s) {', '.join(repr(printable(c)) for c in dup[:5])} "
                                   "appear more than once")
            rows = [row for row in reader if row]
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path.name}: not a readable CSV table ({exc})") from None
    except csv.Error as exc:
        raise DatasetError(f"{path.name}: not a readable CSV table ({exc})") from None
    if not header or header == [""]:
        raise DatasetError(f"{path.name}: not a readable CSV table (no header line)")
    ragged = [i for i, row in enumerate(rows) if len(row) != len(header)]
    if ragged:
        raise DatasetError(f"{_where(path, ragged)}: not a readable CSV table (a row of "
                           f"{len(rows[ragged[0]])} fields under a header of {len(header)})")
    return header, rows


def _numbers(path: Path, rows: list[list[str]], header: list[str], features: list[str]) -> np.ndarray:
    """The feature cells (rows x features) as one float64 array, each a finite number within
    float32's range; else a :class:`DatasetError` naming the lines and the first column.
    Each cell is parsed once by ``float`` (surrounding blanks allowed), row by row."""
    column = {c: j for j, c in enumerate(header)}
    idx = [column[c] for c in features]
    pick = operator.itemgetter(*idx) if len(idx) > 1 else (lambda row: (row[idx[0]],))
    values = np.empty((len(rows), len(idx)))
    what = "a missing or non-numeric value"
    try:
        for i, row in enumerate(rows):
            values[i] = list(map(float, pick(row)))
        bad = ~np.isfinite(values)
    except ValueError:  # somewhere a cell is no number: find every one
        bad = np.zeros(values.shape, bool)
        for i, row in enumerate(rows):
            for j, cell in enumerate(pick(row)):
                try:
                    bad[i, j] = not np.isfinite(float(cell))
                except ValueError:
                    bad[i, j] = True
    if not bad.any():
        bad = np.abs(values) > FLOAT32_MAX
        what = f"a value beyond float32's range (±{FLOAT32_MAX:.4g}: it would become infinite)"
    if bad.any():
        rows_bad, cols_bad = np.nonzero(bad)
        i, j = int(rows_bad[0]), int(cols_bad[0])
        raise DatasetError(f"{_where(path, sorted(set(rows_bad.tolist())))}: {what} (first in column "
                           f"{printable(features[j])!r}: {printable(rows[i][idx[j]])!r})")
    return values


def read_table(path: str | Path) -> tuple[pd.DataFrame, list[str], list[str]]:
    """``(rows, feature columns, warnings)`` of the table at ``path``: rows has ``track_id``,
    ``genre``, ``label`` (index into GENRES), ``duration`` (seconds at 22050 Hz, from
    ``length``, else None) and the feature columns as float32. Raises :class:`DatasetError`."""
    from ..audio_features import KAGGLE_COLUMNS

    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    size = path.stat().st_size
    if size == 0:
        raise DatasetError(f"{path.name}: the file is empty (a feature table needs a header and one row per track)")
    if size > MAX_TABLE_BYTES:
        raise DatasetError(f"{path.name}: {size / 1e6:.0f} MB is more than a feature table of GTZAN holds "
                           f"(at most {MAX_TABLE_BYTES // 2**20} MB)")
    header, cells = _read_cells(path)
    column = {c: j for j, c in enumerate(header)}
    df = pd.DataFrame({c: [row[column[c]] for row in cells] for c in _NOT_FEATURES if c in column}, dtype=object)
    missing = [c for c in ("filename", "label") if c not in column]
    if missing:
        raise DatasetError(f"{path.name}: no column {' or '.join(map(repr, missing))} (a feature table has "
                           "filename, label and the feature columns, as the Kaggle features_30_sec.csv)")
    if not len(cells):
        raise DatasetError(f"{path.name}: the table has a header but no rows")
    warnings: list[str] = []
    others = [c for c in header if c not in _NOT_FEATURES]
    if all(c in column for c in KAGGLE_COLUMNS):
        features = list(KAGGLE_COLUMNS)
        extra = [c for c in others if c not in KAGGLE_COLUMNS]
        if extra:
            warnings.append(f"{len(extra)} column(s) beyond the Kaggle 57 left out: "
                            f"{', '.join(printable(c) for c in extra[:5])}")
    else:
        features = others
    if not features:
        raise DatasetError(f"{path.name}: no feature column (only {', '.join(header)})")
    values = _numbers(path, cells, header, features)
    labels = df["label"].str.strip()
    unknown = ~labels.isin(GENRES)
    if unknown.any():
        names = sorted(set(labels[unknown]))
        raise DatasetError(f"{_where(path, np.flatnonzero(unknown.to_numpy()))}: unknown label(s) "
                           f"{', '.join(repr(printable(n)) for n in names[:5])}; GTZAN's genres are "
                           f"{', '.join(GENRES)}")
    names = df["filename"].str.strip()
    track_ids = names.map(lambda n: Path(n).stem if Path(n).suffix.lower() in (".wav", ".au", ".mp3", ".flac",
                                                                                 ".ogg") else n)
    bad_id = ~track_ids.map(lambda t: bool(_TRACK.match(t)) and len(t) <= 200)
    if bad_id.any():
        raise DatasetError(f"{_where(path, np.flatnonzero(bad_id.to_numpy()))}: "
                           f"{printable(names[bad_id].iloc[0])!r} is no track file name (blues.00000.wav)")
    dup = track_ids.duplicated()
    if dup.any():
        raise DatasetError(f"{_where(path, np.flatnonzero(dup.to_numpy()))}: track {track_ids[dup].iloc[0]!r} "
                           "appears twice (one row per track: a table of 3 s segments is not a track table)")
    duration = None
    if "length" in column:
        length = pd.to_numeric(df["length"].str.strip(), errors="coerce")
        duration = (length / 22050.0).where(length > 0)
    rows = pd.DataFrame({"track_id": track_ids.to_numpy(), "genre": labels.to_numpy(),
                         "label": labels.map(GENRES.index).to_numpy(np.int64),
                         "duration": duration.to_numpy() if duration is not None else None})
    rows = pd.concat([rows, pd.DataFrame(values.astype(np.float32), columns=features)], axis=1)  # one block
    rows = rows.sort_values(["label", "track_id"]).reset_index(drop=True)
    return rows, features, warnings
