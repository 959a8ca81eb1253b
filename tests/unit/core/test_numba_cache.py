"""librosa's numba cache is filled by one process at a time (numba issue 10128, librosa
issue 1998: processes that compile the same cached function at once can leave its index
and data from different processes, and every later process dies with signal 11).

The heavy tests start studio processes on a never-compiled cache of their own
(``NUMBA_CACHE_DIR`` in a temporary folder: numba's first cache locator), so they never
touch the cache of the environment the suite runs in."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gtzan_core import numba_cache
from tests.helpers import ROOT

#: A studio process that reaches librosa's numba code: the feature vector computes tempo
#: (beat_track -> localmax), onsets (peak_pick) and HPSS.
EXTRACT = ("import numpy as np; from gtzan_core import audio_features as a; "
           "y = (0.1 * np.random.default_rng(1).standard_normal(22050 * 3)).astype(np.float32); "
           "v = a.extract(y, 22050); assert v['tempo'] > 0; print('ok')")


def test_no_module_of_the_library_imports_librosa_but_the_cache_keeper():
    offenders = []
    for path in (ROOT / "gtzan_core").rglob("*.py"):
        if path.name == "numba_cache.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            if any(n == "librosa" or n.startswith("librosa.") for n in names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, f"import librosa through gtzan_core.numba_cache.librosa_module: {offenders}"


def _env(cache: Path, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != numba_cache.WARMING_ENV}
    env.update(NUMBA_CACHE_DIR=str(cache), GTZAN_STUDIO_HOME=str(home), PYTHONPATH=str(ROOT),
               OMP_NUM_THREADS="1", GTZAN_STUDIO_OFFLINE="1")
    return env


def _start(code: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(procs: list[subprocess.Popen], timeout: float = 900) -> list[tuple[int, str]]:
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=timeout)
        out.append((p.returncode, (stdout + stderr)[-600:]))
    return out


@pytest.mark.heavy
def test_processes_started_together_on_a_never_compiled_cache_all_finish_and_damage_is_repaired(tmp_path):
    cache = tmp_path / "numba-cache"
    env = _env(cache, tmp_path / "home")
    results = _finish([_start(EXTRACT, env) for _ in range(4)])
    assert all(rc == 0 for rc, _ in results), results  # no signal 11, no failure
    # the cache serves the next process (it finds the marker and the files, and compiles nothing)
    assert any(cache.rglob("guf-beat.*.nbi")) and any(cache.rglob(f"{numba_cache.MARKER_PREFIX}*"))
    ready = subprocess.run([sys.executable, "-c", "from gtzan_core.numba_cache import cache_state as s; "
                            "print(s().ready)"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert ready.stdout.strip() == "True", ready  # later processes trust it at the cost of a marker check
    [(rc, out)] = _finish([_start(EXTRACT, env)])
    assert rc == 0 and out.strip().endswith("ok"), out

    # damage it as the race does: data files that do not belong to their index
    damaged = list(cache.rglob("*.nbc"))
    assert damaged
    for path in damaged:
        path.write_bytes(b"\x80\x04 not the data this index describes")
    for marker in cache.rglob(f"{numba_cache.MARKER_PREFIX}*"):
        marker.unlink()  # as a cache damaged before the studio kept one
    # the doctor checks it in a child process: it reports, it does not die
    doctor = subprocess.run([sys.executable, "-m", "gtzan_core", "doctor"], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=900)
    line = next(ln for ln in doctor.stdout.splitlines() if "numba" in ln)
    assert "damaged" in line and "doctor --fix-numba" in line, doctor.stdout
    assert doctor.returncode == 1
    # the next studio process finds it, clears librosa's files and rebuilds them
    [(rc, out)] = _finish([_start(EXTRACT, env)])
    assert rc == 0 and out.strip().endswith("ok"), out
    doctor = subprocess.run([sys.executable, "-m", "gtzan_core", "doctor"], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=900)
    assert "damaged" not in next(ln for ln in doctor.stdout.splitlines() if "numba" in ln), doctor.stdout


def test_clearing_removes_librosas_cache_files_alone(tmp_path, monkeypatch):
    monkeypatch.setattr(numba_cache, "_cache_dir_for", lambda source: tmp_path)
    state = numba_cache.cache_state()
    (tmp_path / "beat.__beat_tracker-42.py311.nbi").write_bytes(b"i")
    (tmp_path / "beat.__beat_tracker-42.py311.1.nbc").write_bytes(b"c")
    (tmp_path / "guf-utils._localmax-1035.py311.nbi").write_bytes(b"g")
    (tmp_path / "someone_else.f-1.py311.nbi").write_bytes(b"theirs")
    (tmp_path / f"{numba_cache.MARKER_PREFIX}abc").write_text("x")
    assert numba_cache.clear_cache(state) == 4
    assert [p.name for p in tmp_path.iterdir()] == ["someone_else.f-1.py311.nbi"]


def test_a_ready_cache_needs_its_marker_and_its_files(tmp_path, monkeypatch):
    monkeypatch.setattr(numba_cache, "_cache_dir_for", lambda source: tmp_path)
    assert not numba_cache.cache_state().ready
    numba_cache.cache_state().marker.write_text("done")
    assert not numba_cache.cache_state().ready  # a marker over a cache cleared by hand
    (tmp_path / "guf-beat.__beat_track_dp-558.py311.nbi").write_bytes(b"i")  # a @guvectorize function's index
    assert numba_cache.cache_state().ready
