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
``label`` column, no feature column, a non-numeric or missing value, an unknown label,
a file name that is no track id, a repeated track, an empty table.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from .. import GENRES
from ..audio import printable
from ..errors import DatasetError

#: the largest table read (bytes): the Kaggle 30 s table is ~0.5 MB, its 3 s one ~6 MB
MAX_TABLE_BYTES = 64 * 1024 * 1024
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
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise DatasetError(f"{path.name}: not a readable CSV table ({str(exc).splitlines()[0]})") from None
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in ("filename", "label") if c not in df.columns]
    if missing:
        raise DatasetError(f"{path.name}: no column {' or '.join(map(repr, missing))} (a feature table has "
                           "filename, label and the feature columns, as the Kaggle features_30_sec.csv)")
    if df.empty:
        raise DatasetError(f"{path.name}: the table has a header but no rows")
    if len(set(df.columns)) < len(df.columns):
        dup = sorted({c for c in df.columns if list(df.columns).count(c) > 1})
        raise DatasetError(f"{path.name}: column(s) {', '.join(map(repr, dup))} appear more than once")
    warnings: list[str] = []
    others = [c for c in df.columns if c not in _NOT_FEATURES]
    if all(c in df.columns for c in KAGGLE_COLUMNS):
        features = list(KAGGLE_COLUMNS)
        extra = [c for c in others if c not in KAGGLE_COLUMNS]
        if extra:
            warnings.append(f"{len(extra)} column(s) beyond the Kaggle 57 left out: "
                            f"{', '.join(printable(c) for c in extra[:5])}")
    else:
        features = others
    if not features:
        raise DatasetError(f"{path.name}: no feature column (only {', '.join(df.columns)})")
    values = df[features].apply(lambda col: pd.to_numeric(col.str.strip(), errors="coerce"))
    bad = values.isna() | ~np.isfinite(values.to_numpy(np.float64, na_value=np.nan))
    if bad.to_numpy().any():
        rows_bad, cols_bad = np.nonzero(bad.to_numpy())
        col = features[int(cols_bad[0])]
        raise DatasetError(f"{_where(path, sorted(set(rows_bad.tolist())))}: a missing or non-numeric value "
                           f"(first in column {printable(col)!r}: {printable(df[col].iloc[int(rows_bad[0])])!r})")
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
    if "length" in df.columns:
        length = pd.to_numeric(df["length"].str.strip(), errors="coerce")
        duration = (length / 22050.0).where(length > 0)
    rows = pd.DataFrame({"track_id": track_ids.to_numpy(), "genre": labels.to_numpy(),
                         "label": labels.map(GENRES.index).to_numpy(np.int64),
                         "duration": duration.to_numpy() if duration is not None else None})
    rows[features] = values.to_numpy(np.float32)
    rows = rows.sort_values(["label", "track_id"]).reset_index(drop=True)
    return rows, features, warnings
