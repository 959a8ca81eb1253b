"""librosa's numba cache, filled by one process at a time, checked before it is trusted.

librosa compiles its numba functions (``@jit(cache=True)``, ``@guvectorize(cache=True)``)
the first time they are used or imported and writes them to a cache: librosa's own
``__pycache__`` folders, or ``$NUMBA_CACHE_DIR``, or numba's user-wide cache. When several
processes compile the same function for the first time at once, the index file and the
data file of that function can come from two different processes (numba issue 10128,
librosa issue 1998; not fixed in numba 0.68.1): the processes segfault in
``peak_pick``/``localmax``/``beat_track``, and the cache stays damaged, so that *every*
later process that loads those functions dies with signal 11. On a class's instance that
happens wherever processes start together on a fresh machine: the app and a CLI job, Ray
workers on a fresh node, the test suite's workers.

The studio's discipline: no module of the studio imports librosa itself; each asks
:func:`librosa_module`, which, once per process, makes sure the cache is whole before
librosa's numba code runs here. A marker file beside the cache says that a warm-up
finished there (for this numba, librosa and Python); without it, the process takes an
exclusive file lock beside the cache (:func:`gtzan_core.locks.file_lock`: released by the
kernel if its holder dies) and runs the warm-up (every librosa function the studio's
feature extraction compiles) in a **child process**, so a damaged cache kills the child,
not this process. A child that dies (a signal) or fails has its cache files cleared and is
run once more on a clean cache; if that fails too, :class:`NumbaCacheError` names the
cache and the command that clears it. Other processes wait on the lock meanwhile and then
read a complete cache. ``python -m gtzan_core doctor`` checks the cache the same way, in a
child process.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import importlib.util
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from .errors import StudioError

__all__ = ["CacheState", "NumbaCacheError", "cache_state", "check_in_child", "clear_cache", "ensure_ready",
           "librosa_module", "rebuild"]

#: Set in the warm-up's child process (and by callers that manage the cache themselves):
#: :func:`ensure_ready` then does nothing.
WARMING_ENV = "GTZAN_NUMBA_WARMUP_CHILD"  # a marker between processes, not a setting
#: The longest a warm-up may take (a first compile is about 50 s on an idle 2-core machine).
WARM_TIMEOUT = 900.0
MARKER_PREFIX = "gtzan-studio-numba-ready-"
LOCK_NAME = ".gtzan-studio-numba.lock"
#: What clears a damaged cache (and lets the next process rebuild it).
CLEAR_COMMAND = "python -m gtzan_core doctor --fix-numba"

_done = False
_guard = threading.Lock()


class NumbaCacheError(StudioError):
    """librosa's numba cache is damaged and could not be rebuilt here."""


@dataclass(frozen=True)
class CacheState:
    """Where librosa's numba cache is and whether a warm-up has finished there."""

    librosa_dir: Path | None  # None: librosa is not installed
    cache_dirs: tuple[Path, ...]  # the folders numba writes librosa's functions to
    marker: Path | None
    ready: bool

    @property
    def main_dir(self) -> Path | None:
        return self.cache_dirs[0] if self.cache_dirs else None


def _librosa_dir() -> Path | None:
    spec = importlib.util.find_spec("librosa")
    if spec is None or not spec.origin:
        return None
    return Path(spec.origin).resolve().parent


@functools.lru_cache(maxsize=4)
def _numba_sources(librosa_dir: Path) -> tuple[Path, ...]:
    """librosa's source files that hold cached numba functions (the files numba names
    its cache files after)."""
    found = []
    for path in sorted(librosa_dir.rglob("*.py")):
        with contextlib.suppress(OSError):
            if "cache=True" in path.read_text(encoding="utf-8", errors="replace"):
                found.append(path)
    return tuple(found)


def _cache_dir_for(py_file: Path) -> Path | None:
    """The folder numba caches ``py_file``'s functions in: its own locators, tried in its
    own order (``$NUMBA_CACHE_DIR``, the source's ``__pycache__`` if writable, the
    user-wide cache), without importing librosa."""
    from numba.core import caching

    def placeholder():  # numba's locators read only the line number of the function
        pass

    for cls in caching.CacheImpl._locator_classes:
        with contextlib.suppress(Exception):
            locator = cls.from_function(placeholder, str(py_file))
            if locator is not None:
                return Path(locator.get_cache_path())
    return None


def _key() -> str:
    parts = [sys.version, os.environ.get("NUMBA_CACHE_DIR", "")]
    for dist in ("numba", "llvmlite", "librosa"):
        try:
            parts.append(f"{dist}={importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            parts.append(f"{dist}=none")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def cache_state() -> CacheState:
    """Where librosa's numba cache is, and whether this machine's warm-up finished there:
    the marker is there and so are the cache files of ``beat.py`` (a cache cleared by hand
    since is not taken for ready)."""
    librosa_dir = _librosa_dir()
    if librosa_dir is None:
        return CacheState(None, (), None, True)
    dirs: list[Path] = []
    for source in _numba_sources(librosa_dir):
        folder = _cache_dir_for(source)
        if folder is not None and folder not in dirs:
            dirs.append(folder)
    beat = _cache_dir_for(librosa_dir / "beat.py")
    main = beat if beat is not None else (dirs[0] if dirs else None)
    if main is None:  # nowhere to cache: numba compiles in memory, nothing shared to damage
        return CacheState(librosa_dir, (), None, True)
    if main in dirs:
        dirs.remove(main)
    dirs.insert(0, main)
    marker = main / f"{MARKER_PREFIX}{_key()}"
    ready = marker.is_file() and any(main.glob("*beat.*.nbi"))  # beat.* (@jit), guf-beat.* (@guvectorize)
    return CacheState(librosa_dir, tuple(dirs), marker, ready)


def clear_cache(state: CacheState | None = None) -> int:
    """Remove librosa's numba cache files (``*.nbi``/``*.nbc`` named after librosa's
    modules) and the studio's marker; returns how many files went. Only librosa's files:
    another package's cache beside them is left alone."""
    state = state or cache_state()
    if state.librosa_dir is None:
        return 0
    stems = {p.stem for p in _numba_sources(state.librosa_dir)}
    removed = 0
    for folder in state.cache_dirs:
        for path in list(folder.glob("*.nb[ic]")) + list(folder.glob(f"{MARKER_PREFIX}*")):
            module = path.name.removeprefix("guf-").split(".", 1)[0]  # guf-: a @guvectorize function's files
            if path.name.startswith(MARKER_PREFIX) or module in stems:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed += 1
    return removed


def _warm_here() -> None:
    """Compile (or load) every librosa numba function the studio's extraction uses, in
    this process: every module that holds one (eager signatures compile at import), the
    feature vector with every group (HPSS, istft, beat tracking, onsets, tempogram,
    chroma, contrast, tonnetz), MFCCs, a mel spectrogram and peak picking. (The feature
    vector's module is imported by name: it imports this one.)"""
    os.environ[WARMING_ENV] = "1"
    import importlib

    import librosa
    import numpy as np

    audio_features = importlib.import_module(f"{__package__}.audio_features")

    for source in _numba_sources(Path(librosa.__file__).resolve().parent):
        rel = source.relative_to(Path(librosa.__file__).resolve().parent.parent).with_suffix("")
        importlib.import_module(".".join(rel.parts))  # eager @guvectorize signatures compile at import
    rng = np.random.default_rng(0)
    y = (0.1 * rng.standard_normal(22050 * 3)).astype(np.float32)
    audio_features.extract(y, 22050, groups=list(audio_features.GROUPS))
    librosa.feature.mfcc(y=y, sr=22050, n_mfcc=13)
    librosa.feature.melspectrogram(y=y, sr=16000, n_fft=512, hop_length=256, n_mels=96)
    librosa.util.peak_pick(np.abs(y[:2000]), pre_max=3, post_max=3, pre_avg=3, post_avg=5, delta=0.1, wait=10)


def _run_child(timeout: float) -> tuple[int, str]:
    """Run :func:`_warm_here` in a child process: (its exit status, the end of its output)."""
    package_parent = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ)
    env[WARMING_ENV] = "1"
    env["PYTHONPATH"] = package_parent + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    code = "from gtzan_core.numba_cache import _warm_here; _warm_here()"
    try:
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return -999, f"no answer in {timeout:.0f} s"
    tail = (done.stderr or done.stdout or "").strip().splitlines()
    return done.returncode, tail[-1] if tail else ""


def describe_status(rc: int, tail: str) -> str:
    if rc == -999:
        return tail
    if rc < 0:
        return f"died with signal {-rc}"
    return f"exited with status {rc}" + (f" ({tail[:160]})" if tail else "")


def check_in_child(timeout: float = WARM_TIMEOUT) -> tuple[bool, str]:
    """Load (or compile) librosa's numba functions in a child process and say how it went:
    (True, '') or (False, what happened); a damaged cache kills the child, never the caller.
    The child runs under the lock beside the cache: on a fresh cache it compiles, and never
    beside another process's warm-up."""
    from .locks import file_lock

    main = cache_state().main_dir
    with contextlib.ExitStack() as held:
        if main is not None:
            with contextlib.suppress(OSError):
                held.enter_context(file_lock(main / LOCK_NAME))
        rc, tail = _run_child(timeout)
    return rc == 0, "" if rc == 0 else describe_status(rc, tail)


def ensure_ready(timeout: float = WARM_TIMEOUT) -> None:
    """Make sure librosa's numba cache is whole before this process runs librosa's numba
    code (see the module's docstring): once per process, a marker check when the cache is
    known good. Raises :class:`NumbaCacheError` (one line) when it cannot be made whole."""
    global _done
    if _done or os.environ.get(WARMING_ENV):
        return
    with _guard:
        if not _done:
            state = cache_state()
            if not state.ready:
                _warm_under_lock(state, timeout)
            _done = True


def _warm_under_lock(state: CacheState, timeout: float) -> None:
    from .locks import file_lock

    assert state.main_dir is not None
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(file_lock(state.main_dir / LOCK_NAME))
        except OSError:  # a cache folder we cannot write a lock into: numba cannot cache there either
            return
        state = cache_state()  # another process may have warmed it while this one waited
        if state.ready:
            return
        rc, tail = _run_child(timeout)
        if rc != 0:
            # a damaged cache (or a compile that died): start again from a clean one
            clear_cache(state)
            rc, tail = _run_child(timeout)
        if rc != 0:
            raise NumbaCacheError(
                f"librosa's numba cache in {state.main_dir} is damaged and could not be rebuilt (the warm-up "
                f"{describe_status(rc, tail)}); clear it with `{CLEAR_COMMAND}`")
        if state.marker is not None:
            with contextlib.suppress(OSError):
                state.marker.write_text("the studio's warm-up of librosa's numba functions finished here\n")


def rebuild(timeout: float = WARM_TIMEOUT) -> int:
    """Clear librosa's numba cache and warm it again (``doctor --fix-numba``), under the
    lock beside it; returns how many cache files were removed."""
    from .locks import file_lock

    state = cache_state()
    if state.main_dir is None:
        return 0
    with file_lock(state.main_dir / LOCK_NAME):
        removed = clear_cache(state)
    _warm_under_lock(cache_state(), timeout)
    return removed


def librosa_module():
    """librosa, once its numba cache is known to be whole (:func:`ensure_ready`): the one
    way the studio imports librosa."""
    ensure_ready()
    import librosa

    return librosa
