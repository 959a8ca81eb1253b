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
    env = os.environ.get("GTZAN_STUDIO_HOME")
    home = Path(env).expanduser() if env else Path.home() / ".cache" / "gtzan-studio"
    return home


def demo_root() -> Path:
    return studio_home() / "demo"


def feature_cache_dir() -> Path:
    return studio_home() / "features"


def runs_dir() -> Path:
    env = os.environ.get("GTZAN_STUDIO_RUNS")
    if env:
        return Path(env).expanduser()
    checkout = Path(__file__).resolve().parents[1] / "checkpoints"
    if checkout.is_dir():
        return checkout
    return studio_home() / "checkpoints"
