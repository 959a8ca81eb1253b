"""Shared fixtures: every test runs with its own studio home and run store, so the
suite never reads or writes the user's cache or checkpoints."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gtzan_core import GENRES
from gtzan_core.data.synth import synth_track
from gtzan_core.numba_cache import ensure_ready, librosa_module
from gtzan_core.starter import STARTERS, shipped_dir

os.environ.setdefault("OMP_NUM_THREADS", "2")
# librosa's numba cache is whole before any test compiles into it: the controller does this
# before its workers start, and each worker finds it done (or waits on the lock beside the
# cache); see gtzan_core.numba_cache for why processes must never compile it together.
ensure_ready()

#: Debian's Chromium, which the browser tests drive (never a browser Playwright downloads).
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

#: Real material beside the checkout (read there, never copied into the repository).
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
#: Where the real musicnn weights are for the tests that use them: `.ci/run` fetches them
#: there (`python -m gtzan_core weights --fetch musicnn`, the default studio home's).
REAL_WEIGHTS = Path(os.environ.get("GTZAN_STUDIO_TEST_WEIGHTS", "~/.cache/gtzan-studio/weights")).expanduser()


#: What the repository ships in a starter's folder (the run store's own files beside them,
#: such as its lock or a checkpoint's hash memo, are the user's, and git ignores them).
SHIPPED_FILES = ("record.json", "model.pt", "MODEL_CARD.md")


def copy_shipped_starters(store_root: Path) -> Path:
    """The shipped starters, as the repository tracks them, copied into ``store_root``: the
    tests read them here, never from the checkout's checkpoints/, where the user's own runs
    (and the user's notes on the starters) live beside them."""
    for spec in STARTERS.values():
        src = shipped_dir() / spec.run_id
        if not (src / "record.json").is_file():
            continue
        (store_root / spec.run_id).mkdir(parents=True, exist_ok=True)
        for name in SHIPPED_FILES:
            if (src / name).is_file():
                shutil.copy2(src / name, store_root / spec.run_id / name)
    return store_root


def train_tiny_mlp(dataset, features, root: Path):
    """One tiny MLP run (1 epoch, many segments a track) on ``dataset`` in a store at
    ``root``, its job naming the dataset's folder (as the Train page's do); its record."""
    from gtzan_core.hparams import make_config
    from gtzan_core.jobs import JobSpec, train
    from gtzan_core.runs import RunStore

    config = make_config("mlp", epochs=1, device="cpu")
    return train(config, features, RunStore(root), dataset_info=dataset.run_info(),
                 spec=JobSpec(config, str(dataset.root)))


@pytest.fixture
def shipped_store(tmp_path, monkeypatch):
    """A run store holding the shipped starters and nothing else, as a fresh clone's
    checkpoints/ does (GTZAN_STUDIO_RUNS points at it)."""
    from gtzan_core.runs import RunStore

    root = copy_shipped_starters(tmp_path / "fresh-clone-checkpoints")
    monkeypatch.setenv("GTZAN_STUDIO_RUNS", str(root))
    return RunStore(root)


@pytest.fixture(autouse=True)
def studio_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("studio-home")
    monkeypatch.setenv("GTZAN_STUDIO_HOME", str(home))
    monkeypatch.setenv("GTZAN_STUDIO_RUNS", str(home / "runs"))
    monkeypatch.delenv("GTZAN_STUDIO_WEIGHTS", raising=False)  # a fresh home has no musicnn weights
    return home


def real_musicnn_weights() -> Path | None:
    """The folder holding the real musicnn weights, or None."""
    return REAL_WEIGHTS if (REAL_WEIGHTS / "musicnn-0.1.0" / "MSD_musicnn" / ".index").is_file() else None


@pytest.fixture
def musicnn_weights(monkeypatch) -> Path:
    """The real musicnn weights for this test (skipped with the command that fetches them)."""
    folder = real_musicnn_weights()
    if folder is None:
        pytest.skip(f"no real musicnn weights in {REAL_WEIGHTS} (fetch them: GTZAN_STUDIO_WEIGHTS={REAL_WEIGHTS} "
                    "python -m gtzan_core weights --fetch musicnn)")
    monkeypatch.setenv("GTZAN_STUDIO_WEIGHTS", str(folder))
    return folder


def write_clip(path: Path, genre: str = "rock", seconds: float = 6.5, sr: int = 22050, index: int = 0,
               channels: int = 1, **kw) -> Path:
    """A short synthetic clip of ``genre`` written with soundfile (format from the suffix)."""
    librosa = librosa_module()
    y = synth_track(genre, seconds, seed=1, index=index)
    if sr != 22050:
        y = librosa.resample(y, orig_sr=22050, target_sr=sr)
    if channels > 1:
        y = np.stack([y * (0.5 + 0.5 * c / channels) for c in range(channels)], axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = {".mp3": "MP3", ".ogg": "OGG", ".au": "AU", ".flac": "FLAC", ".wav": "WAV"}[path.suffix.lower()]
    if fmt == "OGG":
        kw.setdefault("subtype", "VORBIS")
    sf.write(path, y, sr, format=fmt, **kw)
    return path


def make_gtzan(root: Path, layout: str = "kaggle", per_genre: int = 2, seconds: float = 6.5,
               genres=GENRES, images: bool = False) -> Path:
    """A tiny GTZAN-layout folder: ``kaggle`` (genres_original + optional images_original),
    ``original`` (genres/*.au) or ``flat`` (genre folders directly in root)."""
    import cv2

    audio_dir = {"kaggle": root / "genres_original", "original": root / "genres", "flat": root}[layout]
    ext = ".au" if layout == "original" else ".wav"
    for g in genres:
        for i in range(per_genre):
            write_clip(audio_dir / g / f"{g}.{i:05d}{ext}", g, seconds, index=i)
            if images:
                img = np.zeros((288, 432, 3), np.uint8)
                img[:, :, 2] = 200  # BGR: red
                (root / "images_original" / g).mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(root / "images_original" / g / f"{g}{i:05d}.png"), img)
    return root


@pytest.fixture
def gtzan_dir(tmp_path) -> Path:
    return make_gtzan(tmp_path / "gtzan")


@pytest.fixture(scope="session")
def tiny_demo_set(tmp_path_factory):
    """A tiny synthetic demo set (4 tracks x 10 genres, 6.2 s = 2 segments each)."""
    from gtzan_core.data import discover_dataset
    from gtzan_core.data.synth import generate_demo

    base = tmp_path_factory.mktemp("tiny")
    return discover_dataset(generate_demo(base / "demo", per_genre=4, seconds=6.2, seed=11))


@pytest.fixture(scope="session")
def tiny_features_for(tiny_demo_set, tmp_path_factory):
    """``tiny_features_for(model)``: the tiny demo set's features at ``model``'s image size."""
    from gtzan_core.feature_cache import image_params_for, load_features

    cache = tmp_path_factory.mktemp("tiny-features")
    loaded = {}

    def get(model: str | None = None):
        image = image_params_for(model)
        if image not in loaded:
            loaded[image] = load_features(tiny_demo_set, image=image, cache_dir=cache)
        return loaded[image]

    return get


@pytest.fixture(scope="session")
def tiny_features(tiny_features_for):
    """The tiny demo set's features for the MFCC models and VGG19 (224² images)."""
    return tiny_features_for(None)


@pytest.fixture(autouse=True)
def offline_weights(monkeypatch, tmp_path_factory):
    """No network in tests: never try to download ImageNet weights; empty hub cache."""
    monkeypatch.setenv("GTZAN_STUDIO_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch-home")))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_health(url: str, proc: subprocess.Popen, seconds: float) -> bool:
    """True once ``url``'s Streamlit health endpoint answers ok; False when ``proc`` exits or time runs out."""
    deadline = time.time() + seconds
    while time.time() < deadline and proc.poll() is None:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                return True
        except OSError:
            time.sleep(0.3)
    return False


def stop_process(proc: subprocess.Popen, grace: float = 10) -> None:
    """SIGTERM, then SIGKILL if it has not exited after ``grace`` seconds."""
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()


@contextlib.contextmanager
def headless_chromium(*extra_args: str):
    """Debian's Chromium under Playwright, headless, closed afterwards; the test skips,
    saying why, when Playwright is not installed. ``extra_args``: more command-line
    switches (a fake microphone, say)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                          "--no-first-run", *extra_args])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def demo_app(monkeypatch):
    """The app from the checkout (``app.py`` and ``pages/``) under ``AppTest``, on a small
    demo set (4 tracks a genre, 6.2 s): ``demo_app("train")`` is the app opened on that page
    (not run yet), ``demo_app()`` the app as it starts; ``timeout``: AppTest's, in seconds."""
    from streamlit.testing.v1 import AppTest

    root = Path(__file__).resolve().parents[1]
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_PER_GENRE", "4")
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_SECONDS", "6.2")
    monkeypatch.chdir(root)

    def open_app(page: str | None = None, timeout: float = 60) -> AppTest:
        at = AppTest.from_file(str(root / "app.py"), default_timeout=timeout)
        if page is not None:
            at.switch_page(f"pages/{page}.py")
        return at

    return open_app


@pytest.fixture
def classroom(monkeypatch, demo_app):
    """A classroom instance under AppTest: admin password "s3cret", a small demo set, run
    from the checkout (``app.py`` and ``pages/``)."""
    monkeypatch.setenv("GTZAN_STUDIO_MODE", "classroom")
    monkeypatch.setenv("GTZAN_STUDIO_ADMIN_PASSWORD", "s3cret")
    from gtzan_core.webapp import attempt_limiter

    attempt_limiter.clear()  # the server's record of wrong attempts starts empty (AppTest reuses a session id)
