"""Where a listed track's sound (or picture) is: only ever a file of the dataset the run
used (or of the folder it was evaluated on), found by the track's id in that dataset's
own listing, never a path a visitor typed. A file that resolves outside its dataset's
folder (a link out of it) is not served, nor is a dataset outside ``roots`` (on the app:
the folders it may read, :func:`gtzan_core.paths.data_roots`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import DatasetError, StudioError


@dataclass(frozen=True)
class Media:
    """A track's audio file and its spectrogram picture (either may be None)."""

    audio: Path | None = None
    image: Path | None = None


def _inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root)
    except OSError:
        return False


def _allowed(root: Path, roots: list[Path] | None) -> bool:
    return roots is None or any(root == r or root.is_relative_to(r) for r in roots)


def dataset_media(root: str | Path | None, roots: list[Path] | None = None) -> dict[str, Media]:
    """Track id -> its media, for the dataset folder ``root`` (a run's ``dataset.root``);
    {} when it is not here, is a feature table (no audio), or lies outside ``roots``."""
    from ..data import discover_dataset

    if not root:
        return {}
    base = Path(root)
    if not base.is_dir():
        return {}
    base = base.resolve()
    if not _allowed(base, roots):
        return {}
    try:
        ds = discover_dataset(base, check_audio=False)
    except (StudioError, OSError):
        return {}
    out = {}
    for row in ds.tracks.itertuples(index=False):
        audio = Path(row.audio_path) if isinstance(row.audio_path, str) else None
        image = Path(row.image_path) if isinstance(row.image_path, str) else None
        out[str(row.track_id)] = Media(audio if audio is not None and _inside(audio, base) else None,
                                       image if image is not None and _inside(image, base) else None)
    return out


def folder_media(folder: str | Path, tracks: list[str], roots: list[Path] | None = None) -> dict[str, Media]:
    """For an evaluation on another folder: each clip (its path in ``folder``, as the
    evaluation keeps it) -> its audio, when it is still there and inside the folder."""
    base = Path(folder)
    if not base.is_dir():
        return {}
    base = base.resolve()
    if not _allowed(base, roots):
        return {}
    out = {}
    for rel in tracks:
        path = base / rel
        if not Path(rel).is_absolute() and ".." not in Path(rel).parts and path.is_file() and _inside(path, base):
            out[rel] = Media(path, None)
    return out


def read_media(path: Path, root: str | Path, roots: list[Path] | None = None, limit: int = 64 << 20) -> bytes:
    """The bytes of ``path`` (a file of ``root``, found by :func:`dataset_media`), checked
    again at reading: inside ``root``, ``root`` inside ``roots``, a regular file under
    ``limit`` bytes; else :class:`DatasetError`."""
    base = Path(root).resolve()
    if not _allowed(base, roots):
        raise DatasetError(f"{base}: outside the folders this app may read")
    real = Path(path).resolve()
    if not real.is_relative_to(base):
        raise DatasetError(f"{path}: not a file of the dataset {base}")
    if not real.is_file():
        raise DatasetError(f"{path}: no such file")
    if real.stat().st_size > limit:
        raise DatasetError(f"{path}: larger than {limit >> 20} MB")
    return real.read_bytes()
