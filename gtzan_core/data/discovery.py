"""Find a GTZAN dataset on disk and list its tracks.

Accepted layouts (``root`` may also be a parent folder holding one of them):

* Kaggle: ``genres_original/<genre>/<genre>.000NN.wav`` and, optionally,
  ``images_original/<genre>/<genre>000NN.png``;
* the original archive: ``genres/<genre>/<genre>.000NN.au``;
* a folder that directly holds the ten genre folders;
* pictures only: ``images_original/<genre>/<genre>000NN.png`` with no audio
  beside it, or the ``images_original`` folder itself: the whole input of the
  paper's image models (VGG19, ResNeXt, SqueezeNet trained on these 999 PNGs);
* a feature table: a Kaggle-style CSV file (``features_30_sec.csv``: filename,
  label, feature columns), the input of the feature-vector models only
  (:mod:`gtzan_core.data.table`).

A track is a GTZAN track id (``blues.00000``) with its audio file, its Kaggle
PNG, or both: a folder holding both lists every track of either, so the image
models see every PNG and the audio models every clip (``Dataset.tracks`` has
``audio_path`` or ``image_path`` empty where a track lacks one).

A folder written by :mod:`gtzan_core.data.synth` carries a marker file and is
reported as the *synthetic demo* set, never as GTZAN.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .. import DEMO_DATASET, GENRES
from ..audio import AUDIO_EXTENSIONS, audio_info, printable
from ..errors import AudioError, DatasetError

log = logging.getLogger(__name__)

#: Files known to be unreadable in common copies of GTZAN; skipped with a warning.
KNOWN_BAD_TRACKS = {"jazz.00054": "known-corrupt file in the Kaggle copy of GTZAN"}

SYNTH_MARKER = "SYNTHETIC_DEMO.json"
AUDIO_DIRS = ("genres_original", "genres")
IMAGE_DIR = "images_original"


@dataclass
class Dataset:
    """A discovered dataset: its tracks, what was skipped, and a fingerprint."""

    root: Path
    audio_root: Path
    origin: str  # "gtzan" or "synthetic"
    layout: str  # "kaggle", "original", "flat"
    tracks: pd.DataFrame  # track_id, genre, label, audio_path, image_path, duration
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    warnings: list[str] = field(default_factory=list)
    fingerprint: str = ""
    synth_params: dict | None = None
    #: a feature table's vectors (one row per track of ``tracks``, its feature columns), else None
    table: pd.DataFrame | None = None

    @property
    def is_synthetic(self) -> bool:
        return self.origin == "synthetic"

    @property
    def kind(self) -> str:
        """The older name of :attr:`origin` (not an input kind)."""
        return self.origin

    @property
    def label(self) -> str:
        """How the dataset is named everywhere in the UI and in run records."""
        return DEMO_DATASET if self.is_synthetic else "GTZAN"

    @property
    def has_images(self) -> bool:
        return bool(self.tracks["image_path"].notna().any())

    @property
    def has_audio(self) -> bool:
        return bool(self.tracks["audio_path"].notna().any())

    def tracks_for(self, needs_audio: bool) -> pd.DataFrame:
        """The tracks a model can read: those with audio for the audio models, every
        track for the image models (a picture is the PNG, or drawn from the audio)."""
        if not needs_audio:
            return self.tracks
        return self.tracks[self.tracks["audio_path"].notna()].reset_index(drop=True)

    def run_info(self) -> dict:
        """What a run records about the data it was trained on."""
        return {"label": self.label, "fingerprint": self.fingerprint, "root": str(self.root)}

    def counts(self) -> pd.Series:
        return self.tracks.groupby("genre").size().reindex(list(GENRES), fill_value=0)

    def summary(self) -> dict:
        return {
            "dataset": self.label,
            "root": str(self.root),
            "layout": self.layout,
            "tracks": int(len(self.tracks)),
            "tracks_per_genre": {g: int(n) for g, n in self.counts().items()},
            "with_images": int(self.tracks["image_path"].notna().sum()),
            "with_audio": int(self.tracks["audio_path"].notna().sum()),
            **({"feature_columns": int(self.table.shape[1])} if self.table is not None else {}),
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
            "warnings": list(self.warnings),
            "fingerprint": self.fingerprint,
        }

    def without_tracks(self, track_ids, why: str) -> Dataset:
        """This dataset without the tracks whose ids are in ``track_ids`` (those of a
        test folder, so that no run trains or is chosen on them), saying ``why`` in its
        warnings. Its fingerprint names what was left out: its features are cached, and
        its runs recorded, apart from the whole dataset's."""
        import dataclasses

        ids = sorted({str(t) for t in track_ids} & set(self.tracks["track_id"].astype(str)))
        if not ids:
            return self
        keep = ~self.tracks["track_id"].astype(str).isin(ids)
        blob = "|".join([self.fingerprint, "without", *ids]).encode()
        return dataclasses.replace(
            self, tracks=self.tracks[keep].reset_index(drop=True),
            table=None if self.table is None else self.table[keep.to_numpy()].reset_index(drop=True),
            warnings=[*self.warnings, f"{len(ids)} track(s) left out: {why}"],
            fingerprint=hashlib.sha256(blob).hexdigest()[:16])


def _holds_pngs_only(folder: Path) -> bool:
    """Whether ``folder``'s genre folders hold PNG pictures and no audio."""
    files = [f for g in folder.iterdir() if g.is_dir() and not g.name.startswith(".") for f in g.iterdir()
             if f.is_file() and not f.name.startswith(".")]
    return any(f.suffix.lower() == ".png" for f in files) and not any(
        f.suffix.lower() in AUDIO_EXTENSIONS for f in files)


def _find_roots(root: Path) -> tuple[Path | None, Path | None, str, Path]:
    """(audio folder, images folder, layout, base) of the dataset at or just under ``root``."""
    def has_genre_dirs(p: Path) -> bool:
        return any((p / g).is_dir() for g in GENRES)

    candidates = [root] + sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    for base in candidates:
        for name, layout in (("genres_original", "kaggle"), ("genres", "original")):
            if (base / name).is_dir():
                images = base / IMAGE_DIR
                return base / name, images if images.is_dir() else None, layout, base
    for base in candidates:
        if (base / IMAGE_DIR).is_dir():
            return None, base / IMAGE_DIR, "images", base
    if has_genre_dirs(root):
        if _holds_pngs_only(root):
            return None, root, "images", root
        return root, None, "flat", root
    raise DatasetError(
        f"{root}: no GTZAN layout found (expected genres_original/, genres/, images_original/ or the ten genre "
        f"folders {', '.join(GENRES)})"
    )


def _track_id(path: Path) -> str:
    return path.stem  # "blues.00000"


def _image_for(images_root: Path | None, genre: str, track_id: str) -> Path | None:
    if images_root is None:
        return None
    number = track_id.rsplit(".", 1)[-1]
    candidate = images_root / genre / f"{genre}{number}.png"
    return candidate if candidate.is_file() else None


_CANONICAL = re.compile(r"^[a-z]+\.\d{5}$")
#: A Kaggle picture's name: ``blues00000.png`` is track ``blues.00000``.
_PNG_NAME = re.compile(r"^(?P<genre>[a-z]+)(?P<number>\d{5})\.png$")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _special_file(path: Path) -> str | None:
    """Why ``path`` (in a genre folder) is no file to read, or None: a named pipe, a
    socket or a device is never opened (reading a FIFO waits forever), a link to nothing
    cannot be; both are reported as skipped. Files and folders: None."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "a link to nothing (broken symbolic link)" if path.is_symlink() else None
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "not a regular file (a named pipe, FIFO): never opened"
    if stat.S_ISSOCK(mode):
        return "not a regular file (a socket): never opened"
    return "not a regular file (a device): never opened"


def _png_only_tracks(images_root: Path, known: set[str], root: Path, skipped: list) -> list[dict]:
    """Tracks that have a Kaggle PNG and no audio here (their picture is all they have);
    a PNG with another name or without the PNG signature is reported and left out, and so
    is a FIFO, socket, device or broken link."""
    rows = []
    for gdir in sorted(p for p in images_root.iterdir() if p.is_dir() and p.name in GENRES):
        for path in sorted(gdir.iterdir()):
            if path.name.startswith("."):
                continue
            if (special := _special_file(path)) is not None:
                skipped.append((str(path.relative_to(root)), special))
                continue
            if not path.is_file() or path.suffix.lower() != ".png":
                continue
            rel = str(path.relative_to(root))
            m = _PNG_NAME.match(path.name)
            if not m or m.group("genre") != gdir.name:
                skipped.append((rel, f"not a Kaggle picture name ({gdir.name}000NN.png)"))
                continue
            tid = f"{m.group('genre')}.{m.group('number')}"
            if tid in known:
                continue
            with open(path, "rb") as fh:
                if fh.read(8) != _PNG_SIGNATURE:
                    skipped.append((rel, "not a PNG file"))
                    continue
            rows.append({"track_id": tid, "genre": gdir.name, "label": GENRES.index(gdir.name), "audio_path": None,
                         "image_path": str(path), "duration": None})
    return rows


def _drop_identical(rows: list[dict], root: Path, skipped: list) -> list[dict]:
    """Leave out files whose bytes equal an earlier file's (GTZAN itself has some).

    Only files of equal size are compared: first by a hash of their first and last
    64 KiB, then in full, so a normal dataset costs a few reads per file at most."""
    by_size: dict[int, list[dict]] = {}
    for r in rows:
        if r["audio_path"] is None:
            continue
        by_size.setdefault(Path(r["audio_path"]).stat().st_size, []).append(r)
    drop: set[str] = set()
    for group in by_size.values():
        if len(group) < 2:
            continue
        seen: dict[str, dict] = {}
        # keep the GTZAN-named file (genre.000NN) of an identical pair
        for r in sorted(group, key=lambda r: (not _CANONICAL.match(r["track_id"]), r["audio_path"])):
            key = _edge_hash(Path(r["audio_path"]))
            first = seen.get(key)
            if first is not None and Path(first["audio_path"]).read_bytes() == Path(r["audio_path"]).read_bytes():
                rel = str(Path(r["audio_path"]).relative_to(root))
                skipped.append((rel, f"identical to {Path(first['audio_path']).relative_to(root)}"))
                drop.add(r["audio_path"])
            elif first is None:
                seen[key] = r
    return [r for r in rows if r["audio_path"] not in drop]


def _edge_hash(path: Path, block: int = 1 << 16) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        h.update(f.read(block))
        f.seek(max(0, path.stat().st_size - block))
        h.update(f.read(block))
    return h.hexdigest()


def _fingerprint(rows: list[dict], origin: str) -> str:
    h = hashlib.sha256(origin.encode())
    for r in rows:
        for key in ("audio_path", "image_path"):
            p = r[key]
            if p is None:
                continue
            st = Path(p).stat()
            h.update(f"{r['track_id']}|{key}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def discover_dataset(root: str | Path, check_audio: bool = True) -> Dataset:
    """Scan ``root`` and return a :class:`Dataset`.

    Unreadable files are reported by name in ``skipped`` and left out; known-bad
    files and macOS ``._*`` files are skipped too. An unknown genre folder, or a
    folder without any usable track, is a :class:`DatasetError`.
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise DatasetError(f"{root}: no such folder")
    if not root.is_dir():
        from .table import is_table

        if is_table(root):
            return discover_table(root)
        raise DatasetError(f"{root}: not a folder (nor a feature table: a .csv file)")
    root = root.resolve()
    audio_root, images_root, layout, base = _find_roots(root)

    marker = base / SYNTH_MARKER
    synth_params = json.loads(marker.read_text()) if marker.is_file() else None
    origin = "synthetic" if synth_params is not None else "gtzan"

    genre_root = audio_root or images_root
    genre_dirs = sorted(p for p in genre_root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    for folder in filter(None, (audio_root, images_root)):
        unknown = [p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))
                   and p.name not in GENRES]
        if unknown:
            raise DatasetError(
                f"{folder}: unknown genre folder(s) {', '.join(repr(printable(u)) for u in unknown)}; "
                f"GTZAN genres are {', '.join(GENRES)}"
            )
    if not genre_dirs:
        raise DatasetError(f"{genre_root}: no genre folders")
    if audio_root is None:
        genre_dirs = []  # pictures only: the tracks come from the PNGs below

    rows: list[dict] = []
    skipped: list[tuple[str, str]] = []
    warnings: list[str] = []
    seen: dict[str, Path] = {}
    for gdir in genre_dirs:
        genre = gdir.name
        for path in sorted(gdir.iterdir()):
            if path.name.startswith("._") or path.name.startswith("."):
                continue  # macOS resource forks and hidden files
            if (special := _special_file(path)) is not None:
                skipped.append((str(path.relative_to(root)), special))
                continue
            if not path.is_file() or path.suffix.lower() not in AUDIO_EXTENSIONS:
                continue
            tid = _track_id(path)
            rel = str(path.relative_to(root))
            if tid in KNOWN_BAD_TRACKS:
                skipped.append((rel, KNOWN_BAD_TRACKS[tid]))
                continue
            if tid in seen:
                skipped.append((rel, f"duplicate of {seen[tid].relative_to(root)}"))
                continue
            duration = None
            if check_audio:
                try:
                    info = audio_info(path)
                    duration = info.duration
                    if info.frames <= 0:
                        raise AudioError(f"{path.name}: the file holds no audio samples")
                except AudioError as exc:
                    skipped.append((rel, str(exc)))
                    continue
            seen[tid] = path
            rows.append(
                {
                    "track_id": tid,
                    "genre": genre,
                    "label": GENRES.index(genre),
                    "audio_path": str(path),
                    "image_path": (str(p) if (p := _image_for(images_root, genre, tid)) else None),
                    "duration": duration,
                }
            )
    rows = _drop_identical(rows, root, skipped)
    if images_root is not None:
        rows += _png_only_tracks(images_root, {r["track_id"] for r in rows} | set(KNOWN_BAD_TRACKS), root, skipped)
        rows.sort(key=lambda r: (r["label"], r["track_id"]))
    for g in GENRES:
        if (genre_root / g).is_dir() and not any(r["genre"] == g for r in rows):
            warnings.append(f"genre '{g}' has no usable tracks")
    missing = [g for g in GENRES if not (genre_root / g).is_dir()]
    if missing:
        warnings.append(f"no folder for genre(s): {', '.join(missing)}")
    with_audio = sum(r["audio_path"] is not None for r in rows)
    if audio_root is None:
        warnings.append("pictures only (no audio): only the image models can train on this folder")
    elif with_audio < len(rows):
        warnings.append(f"{len(rows) - with_audio} of {len(rows)} tracks have a PNG but no audio here: the image "
                        f"models train on all {len(rows)}, the audio models on the {with_audio} with audio")
    for rel, reason in skipped:
        log.warning("skipped %s: %s", rel, reason)
    if not rows:
        raise DatasetError(f"{genre_root}: no readable audio files or pictures in the genre folders")

    tracks = pd.DataFrame(rows, columns=["track_id", "genre", "label", "audio_path", "image_path", "duration"])
    return Dataset(
        root=root,
        audio_root=audio_root or images_root,
        origin=origin,
        layout=layout,
        tracks=tracks,
        skipped=skipped,
        warnings=warnings,
        fingerprint=_fingerprint(rows, origin),
        synth_params=synth_params,
    )


def discover_table(path: str | Path):
    """The :class:`~gtzan_core.data.discovery.Dataset` of the table at ``path`` (layout
    ``table``; no audio, no pictures; its feature vectors in ``Dataset.table``)."""
    from .table import read_table

    path = Path(path).expanduser().resolve()
    rows, features, warnings = read_table(path)
    tracks = rows[["track_id", "genre", "label"]].copy()
    tracks["audio_path"] = None
    tracks["image_path"] = None
    tracks["duration"] = rows["duration"]
    for g in GENRES:
        if not (tracks["genre"] == g).any():
            warnings.append(f"genre '{g}' has no rows")
    warnings.append("a feature table (no audio, no pictures): only the feature-vector models can train on it")
    fingerprint = hashlib.sha256(b"table|" + path.read_bytes()).hexdigest()[:16]  # its content, wherever it lies
    table = pd.DataFrame(rows[features].to_numpy("float32"), columns=features)
    return Dataset(root=path, audio_root=path, origin="gtzan", layout="table", tracks=tracks, warnings=warnings,
                   fingerprint=fingerprint, table=table)
