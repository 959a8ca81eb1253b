"""The first start builds the demo set once per machine, in the background: page
switches, closed tabs, concurrent visitors and processes neither restart nor
corrupt it, and a build killed half-way is redone by the next start."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from gtzan_core import GENRES
from gtzan_core.data.synth import SYNTH_MARKER, demo_dir, demo_ready, ensure_demo_dataset
from tests.helpers import ROOT


@pytest.fixture
def small_demo(monkeypatch):
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_PER_GENRE", "6")
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_SECONDS", "30")
    monkeypatch.chdir(ROOT)


def complete(path: Path, per_genre: int = 6) -> bool:
    wavs = list((path / "genres_original").rglob("*.wav"))
    return (path / SYNTH_MARKER).is_file() and len(wavs) == per_genre * len(GENRES)


@pytest.mark.heavy
def test_page_switching_visitor_who_leaves_still_gets_one_complete_build(small_demo, monkeypatch):
    """The build is held after its first track (an event, not a hope that the machine is
    slow) while a visitor switches pages; each page that waits for the demo set is left at
    a known point, its first look at the build's progress (not when a short timeout
    expires, which on a cold process came while torch was still importing). Then the
    build is let go and must finish once."""
    import threading
    import time as real_time
    import types

    import streamlit as st

    import gtzan_core.data.synth as synth
    import gtzan_core.webapp as webapp
    import gtzan_core.webapp.resources as resources

    started, release = threading.Event(), threading.Event()
    real_track = synth.synth_track

    def held_track(*args, **kw):
        if started.is_set():
            assert release.wait(120), "the test never let the build go on"
        started.set()
        return real_track(*args, **kw)

    waited = []

    def leave(_seconds):  # the page waits for the build: the visitor leaves right there
        waited.append(demo_ready())
        st.stop()

    monkeypatch.setattr(synth, "synth_track", held_track)
    monkeypatch.setattr(resources, "time", types.SimpleNamespace(sleep=leave))
    assert not demo_ready()
    pages = ["home", "train", "predict", "leaderboard", "home", "compare"]
    left = []
    for name in pages:  # a visitor clicking through the pages, each left while it waited for the build
        before = len(waited)
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.switch_page(f"pages/{name}.py")
        at.run()
        assert not at.exception, (name, at.exception)
        if len(waited) > before:
            left.append(name)
        assert started.wait(60) and not demo_ready()  # the build runs, held after its first track
    assert left == ["home", "train", "home"]  # they wait for the demo set; the others need no dataset
    assert not any(waited)
    release.set()
    # ...and leaves. The server's build goes on by itself.
    job = webapp.demo_job()
    state = job.join(timeout=120)
    assert state["status"] == "done", state
    assert job.runs == 1  # built once, never restarted by the page switches
    assert complete(demo_dir())
    assert not list(demo_dir().parent.glob(".synth-*"))
    monkeypatch.setattr(resources, "time", real_time)  # the visitor stays this time
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page("pages/home.py")
    at.run()
    assert not at.exception
    assert job.runs == 1


@pytest.mark.heavy
def test_two_sessions_at_once_share_one_build(small_demo):
    import gtzan_core.webapp as webapp

    job = webapp.demo_job()
    a, b = job.start(), job.start()  # two sessions asking at the same moment
    assert a["status"] == b["status"] == "running"
    assert job.join(120)["status"] == "done" and job.runs == 1
    assert webapp.demo_job() is job and job.start()["status"] == "done"


def test_two_processes_build_once_and_a_killed_build_is_redone(tmp_path):
    env = {**os.environ, "GTZAN_STUDIO_HOME": str(tmp_path / "home"), "GTZAN_STUDIO_DEMO_PER_GENRE": "3",
           "GTZAN_STUDIO_DEMO_SECONDS": "8"}
    root = tmp_path / "home" / "demo"
    root.mkdir(parents=True)
    dead = root / ".synth-killed"  # what a SIGKILLed builder leaves behind
    (dead / "genres_original" / "blues").mkdir(parents=True)
    (dead / "genres_original" / "blues" / "blues.00000.wav").write_bytes(b"RIFF half")
    code = ("import json; from gtzan_core.data.synth import ensure_demo_dataset\n"
            "calls = []\np = ensure_demo_dataset(progress=lambda d, t, m: calls.append(d))\n"
            "print(json.dumps({'path': str(p), 'built': bool(calls)}))")
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    out = [json.loads(p.communicate(timeout=120)[0].strip().splitlines()[-1]) for p in procs]
    assert out[0]["path"] == out[1]["path"]
    assert sorted(o["built"] for o in out) == [False, True]  # one built, the other waited and found it
    assert complete(Path(out[0]["path"]), per_genre=3)
    assert not dead.exists()


def test_a_set_without_its_marker_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_PER_GENRE", "2")
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_SECONDS", "4")
    half = demo_dir()
    (half / "genres_original" / "rock").mkdir(parents=True)
    assert ensure_demo_dataset() == half and complete(half, per_genre=2)
