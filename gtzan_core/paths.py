"""Where the studio keeps its files.

* ``$GTZAN_STUDIO_HOME`` (default ``~/.cache/gtzan-studio``): the generated demo set
  and the feature cache.
* ``$GTZAN_STUDIO_RUNS``: the run store. Default: ``checkpoints/`` of the source
  checkout when the package runs from one, else ``$GTZAN_STUDIO_HOME/checkpoints``.
"""

from __future__ import annotations

import os
from pathlib import Path


def studio_home() -> Path:
    from . import settings

    env = settings.get("GTZAN_STUDIO_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "gtzan-studio"


def demo_root() -> Path:
    return studio_home() / "demo"


def feature_cache_dir() -> Path:
    return studio_home() / "features"


def runs_dir() -> Path:
    from . import settings

    env = settings.get("GTZAN_STUDIO_RUNS")
    if env:
        return Path(env).expanduser()
    checkout = Path(__file__).resolve().parents[1] / "checkpoints"
    if checkout.is_dir():
        return checkout
    return studio_home() / "checkpoints"


def data_roots(spec: str | None, separator: str = os.pathsep) -> list[Path]:
    """The folders under which a dataset path typed in the app must lie: ``spec`` (folders
    separated by ``os.pathsep``, as ``$GTZAN_STUDIO_DATA_ROOTS`` holds them), or by default
    the home folder, the working folder and the studio home; each resolved."""
    roots = [Path(p) for p in spec.split(separator) if p] if spec else [Path.home(), Path.cwd(), studio_home()]
    return [r.expanduser().resolve() for r in roots]


def check_user_path(text: str, roots: list[Path]) -> Path:
    """Resolve a path typed by a visitor (``~`` expanded, links followed); refuse an empty
    one, a NUL character and anything outside ``roots`` (:class:`~gtzan_core.errors.DatasetError`,
    quoting the path as typed, what it resolves to when that differs, and the setting that
    names the roots)."""
    from .errors import DatasetError

    text = (text or "").strip()
    if not text:
        raise DatasetError("no folder given")
    if "\x00" in text:
        raise DatasetError("the path contains a NUL character")
    path = Path(text).expanduser().resolve()
    if not any(path == r or path.is_relative_to(r) for r in roots):
        via = "" if str(path) == text else f" (it resolves to {path})"
        raise DatasetError(f"{text}{via}: outside the folders this app may read ({', '.join(map(str, roots))}); "
                           "the server's GTZAN_STUDIO_DATA_ROOTS sets them")
    return path
