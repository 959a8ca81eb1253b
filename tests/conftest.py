"""The suite's fixtures, all in this one place: every test runs with its own studio home and
run store, so the suite never reads or writes the user's cache or checkpoints. Tools that are
not fixtures live in ``tests/helpers/``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gtzan_core.numba_cache import ensure_ready
from tests.helpers import REAL_WEIGHTS, ROOT, copy_shipped_starters, make_gtzan, real_musicnn_weights

os.environ.setdefault("OMP_NUM_THREADS", "2")
# librosa's numba cache is whole before any test compiles into it: the controller does this
# before its workers start, and each worker finds it done (or waits on the lock beside the
# cache); see gtzan_core.numba_cache for why processes must never compile it together.
ensure_ready()


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


@pytest.fixture
def musicnn_weights(monkeypatch) -> Path:
    """The real musicnn weights for this test (skipped with the command that fetches them)."""
    folder = real_musicnn_weights()
    if folder is None:
        pytest.skip(f"no real musicnn weights in {REAL_WEIGHTS} (fetch them: GTZAN_STUDIO_WEIGHTS={REAL_WEIGHTS} "
                    "python -m gtzan_core weights --fetch musicnn)")
    monkeypatch.setenv("GTZAN_STUDIO_WEIGHTS", str(folder))
    return folder


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
    from gtzan_core.feature_cache import load_features
    from gtzan_core.models import image_params_for

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


@pytest.fixture
def demo_app(monkeypatch):
    """The app from the checkout (``app.py`` and ``pages/``) under ``AppTest``, on a small
    demo set (4 tracks a genre, 6.2 s): ``demo_app("train")`` is the app opened on that page
    (not run yet), ``demo_app()`` the app as it starts; ``timeout``: AppTest's, in seconds."""
    from streamlit.testing.v1 import AppTest

    root = ROOT
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
