"""Helpers shared by the benchmarks (run them from the repository root: python bench/X.py)."""

from __future__ import annotations

import contextlib
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def machine() -> str:
    import torch

    dev = f"cuda {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "no GPU"
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {dev}, "
            f"torch {torch.__version__}, python {platform.python_version()}")


def sync() -> None:
    """Wait for queued GPU work, so a wall-clock time covers it (no-op without CUDA)."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def timed(fn, repeats: int = 3, warmup: int = 0) -> tuple[float, list[float]]:
    """Median wall time of ``fn()`` over ``repeats`` runs (after ``warmup`` runs),
    GPU work included (synchronised before and after each run)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def synth_tracks(folder: Path, n: int, seconds: float = 30.0, seed: int = 0) -> Path:
    """``n`` synthetic tracks in GTZAN layout (cycling through the genres); reused if present."""
    from gtzan_core import GENRES
    from gtzan_core.data.synth import synth_track
    import soundfile as sf

    root = folder / "genres_original"
    for k in range(n):
        g = GENRES[k % len(GENRES)]
        path = root / g / f"{g}.{k // len(GENRES):05d}.wav"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, synth_track(g, seconds, seed, k), 22050, subtype="PCM_16")
    return folder


@contextlib.contextmanager
def shared_server(data_dir: Path, env: dict):
    """The studio's server as a shared instance runs it (deploy/start.sh: no source-file watcher,
    upload limit, XSRF, passive OpenMP threads) on a free local port, with its data under
    ``data_dir``; yields ``(process, url)`` once ``/_stcore/health`` answers, stops it after."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(["bash", str(ROOT / "deploy" / "start.sh")], cwd=ROOT,
                              env={**env, "PYTHON": sys.executable, "PORT": str(port),
                                   "GTZAN_STUDIO_ADDRESS": "127.0.0.1", "GTZAN_STUDIO_DATA_DIR": str(data_dir)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, server)
        yield server, url
    finally:
        stop_server(server)


def wait_until_healthy(url: str, server: subprocess.Popen, seconds: float = 60) -> None:
    """Return once Streamlit's ``/_stcore/health`` at ``url`` answers ok; raise if ``server`` exits or time runs out."""
    deadline = time.time() + seconds
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                return
        except OSError:
            if server.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"the server did not start (exit code {server.poll()})") from None
            time.sleep(0.3)


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(20)
    except subprocess.TimeoutExpired:
        server.kill()


def cpu_seconds(server_pid: int) -> dict:
    """CPU time (user + system, seconds) so far of the server process, of the Chromium
    processes (with the children they have reaped), and of this harness (this process and
    Playwright's driver), from /proc. Call it while the browser is still open."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {"server": 0.0, "browsers": 0.0, "harness": sum(os.times()[:2])}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # gone meanwhile
            continue
        comm, fields = text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 2:].split()
        own, reaped = (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick
        if int(stat.parent.name) == server_pid:
            out["server"] += own
        elif comm.startswith("chrom"):
            out["browsers"] += own + reaped
        elif comm == "node" and int(fields[1]) == os.getpid():  # Playwright's driver, our child
            out["harness"] += own
    return out


def cold_and_warm(ds, work: Path, repeats: int, workers: int | None = None, **request):
    """``load_features(ds, **request)`` timed from a cold cache (a fresh folder under ``work``
    each run, ``workers`` threads) and from a warm one (``work/warmup``, filled first: the
    warm-up of imports and FFT plans too). Returns (cold median, cold runs, warm median, the
    last cold run's features)."""
    import tempfile

    from gtzan_core.feature_cache import load_features

    load_features(ds, cache_dir=work / "warmup", **request)
    cold = []

    def ours():
        cold.append(load_features(ds, cache_dir=Path(tempfile.mkdtemp(dir=work)), workers=workers, **request))

    t_cold, all_cold = timed(ours, repeats)
    t_warm, _ = timed(lambda: load_features(ds, cache_dir=work / "warmup", **request), repeats)
    return t_cold, all_cold, t_warm, cold[-1]
