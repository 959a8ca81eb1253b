"""musicnn's weights arrive by themselves: the first start fetches them in the
background from the package index (here a local folder of wheels the test writes: no
network), checked by SHA-256, once per machine; offline or with no index the studio
goes on with what is there and says so."""

from __future__ import annotations

import hashlib
import json
import threading
import zipfile
from pathlib import Path

import pytest

import gtzan_core.models.musicnn as musicnn
from gtzan_core.cli import main
from gtzan_core.jobs import weights_preparation
from gtzan_core.models.autofetch import (
    WheelSource,
    ensure_musicnn_weights,
    fetch_needed,
    last_failure,
    start_background_fetch,
    weights_note,
)
from gtzan_core.models.musicnn import musicnn_checkpoint
from tests.helpers import ROOT, fake_wheel, random_musicnn

WHEEL_NAME = "musicnn-0.1.0-py3-none-any.whl"


@pytest.fixture
def online(monkeypatch, tmp_path):
    """An online machine with a fresh weights folder (the suite is offline by default)."""
    monkeypatch.delenv("GTZAN_STUDIO_OFFLINE", raising=False)
    monkeypatch.setenv("GTZAN_STUDIO_WEIGHTS", str(tmp_path / "weights"))
    return tmp_path / "weights"


@pytest.fixture(scope="module")
def index(tmp_path_factory) -> Path:
    """A local package index: a folder holding a wheel laid out like musicnn 0.1.0's
    (its checkpoints from a random network, its metadata as pip reads it)."""
    folder = tmp_path_factory.mktemp("index")
    wheel = fake_wheel(folder / WHEEL_NAME, random_musicnn())
    with zipfile.ZipFile(wheel, "a") as zf:
        zf.writestr("musicnn-0.1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: musicnn\nVersion: 0.1.0\n")
        zf.writestr("musicnn-0.1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                                      "Tag: py3-none-any\n")
        zf.writestr("musicnn-0.1.0.dist-info/RECORD", "")
    return folder


@pytest.fixture
def trusted(index, monkeypatch) -> WheelSource:
    """The local index (pip searches it), its wheel's SHA-256 the one the studio expects."""
    digest = hashlib.sha256((index / WHEEL_NAME).read_bytes()).hexdigest()
    monkeypatch.setitem(musicnn.WHEEL, "sha256", digest)
    return WheelSource(find_links=str(index))


@pytest.fixture
def trusted_wheel(trusted, index) -> WheelSource:
    """The same wheel given as a file (no pip: the fast tests)."""
    return WheelSource(wheel=str(index / WHEEL_NAME))


@pytest.mark.heavy
def test_the_first_start_fetches_in_the_background_once(online, trusted):
    assert musicnn_checkpoint() is None and fetch_needed()
    assert weights_note()[0] == "missing"
    job = weights_preparation(trusted)
    seen = []
    job._progress = (lambda real: lambda d, t, m: (seen.append(m), real(d, t, m)))(job._progress)
    first = job.start()
    assert first["status"] == "running"
    state = job.join(timeout=120)
    assert state["status"] == "done" and state["outcome"] == "fetched", state
    assert "SHA-256" in state["message"] and "musicnn starter answers" in state["message"]
    assert musicnn_checkpoint() == online / "musicnn-0.1.0" / "MSD_musicnn"
    assert any("fetching musicnn" in m for m in seen) and "checking the wheel" in seen  # progress was shown
    assert job.start()["status"] == "done" and job.runs == 1  # once: a later start only reports
    assert not fetch_needed() and weights_note()[0] == "ready"
    again = ensure_musicnn_weights(source=trusted)  # another process, later: nothing fetched again
    assert again["outcome"] == "ready"


def test_a_wheel_that_is_not_musicnns_is_refused(online, index):
    """The wheel has another SHA-256 than musicnn 0.1.0's: nothing is installed, the
    failure is said in one line and remembered (no retry at every start)."""
    result = ensure_musicnn_weights(source=WheelSource(wheel=str(index / WHEEL_NAME)))
    assert result["outcome"] == "failed" and result["path"] is None
    assert "sha256" in result["message"] and "EfficientNet-Lite0 starter" in result["message"]
    assert musicnn_checkpoint() is None and last_failure() is not None
    assert not fetch_needed() and weights_note()[0] == "failed"
    assert start_background_fetch() is None  # a recent failure: the CLI's start does not try again


def test_two_fetches_at_once_fetch_once(online, trusted_wheel, monkeypatch):
    trusted = trusted_wheel
    calls = []
    real = musicnn.fetch_musicnn
    release = threading.Event()

    def counted(**kw):
        calls.append(1)
        assert release.wait(60)
        return real(**kw)

    monkeypatch.setattr(musicnn, "fetch_musicnn", counted)
    results = []
    threads = [threading.Thread(target=lambda: results.append(ensure_musicnn_weights(source=trusted)))
               for _ in range(2)]
    for t in threads:
        t.start()
    for _ in range(200):  # the first holds the lock inside the fetch; the second waits for it
        if calls:
            break
        threading.Event().wait(0.05)
    release.set()
    for t in threads:
        t.join(120)
    assert len(calls) == 1
    assert sorted(r["outcome"] for r in results) == ["fetched", "ready"]
    assert "another process" in next(r["message"] for r in results if r["outcome"] == "ready")


def test_offline_falls_back_to_what_is_there_and_says_so(monkeypatch, tmp_path, trusted):
    monkeypatch.setenv("GTZAN_STUDIO_OFFLINE", "1")
    monkeypatch.setenv("GTZAN_STUDIO_WEIGHTS", str(tmp_path / "weights"))
    result = ensure_musicnn_weights(source=trusted)
    assert result["outcome"] == "offline" and musicnn_checkpoint() is None
    assert "GTZAN_STUDIO_OFFLINE" in result["message"] and "EfficientNet-Lite0 starter" in result["message"]
    assert not (tmp_path / "weights" / ".musicnn-fetch.json").exists()  # nothing tried, nothing remembered
    assert not fetch_needed() and start_background_fetch() is None


@pytest.mark.heavy
def test_an_unreachable_index_is_a_clear_fallback(online):
    dead = WheelSource(index_url="http://127.0.0.1:9/simple", timeout=60)  # a closed port: refused at once
    result = ensure_musicnn_weights(source=dead)
    assert result["outcome"] == "failed" and "EfficientNet-Lite0 starter" in result["message"]
    state = json.loads((online / ".musicnn-fetch.json").read_text())
    assert state["outcome"] == "failed" and "pip could not download" in state["error"]


def test_the_cli_fetch_command_as_the_first_start_runs_it(online, trusted_wheel, capsys):
    assert main(["weights", "--fetch", "musicnn", "--auto", "--wheel", trusted_wheel.wheel]) == 0
    out = capsys.readouterr().out
    assert out.startswith("fetched: ") and musicnn_checkpoint() is not None
    assert main(["weights", "--fetch", "musicnn", "--auto"]) == 0  # once per machine: already here
    assert capsys.readouterr().out.startswith("ready: ")


def test_offline_is_a_documented_setting():
    from gtzan_core import settings

    assert "musicnn" in settings.SETTINGS["GTZAN_STUDIO_OFFLINE"].help
    page = (ROOT / "docs" / "reference" / "settings.md").read_text()
    assert settings.settings_table() in page


@pytest.mark.heavy
def test_the_clis_first_start_fetches_in_a_detached_process(online, index, monkeypatch, capsys):
    """Any CLI command's first start starts the fetch in a process of its own and says so in
    one line. pip is pointed at the local index through its environment (no network); the
    wheel there is not musicnn's real one, so the process ends refusing it by SHA-256, and
    says so in the state file: proof that it ran pip, checked the wheel and kept nothing."""
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(index))
    import gtzan_core.models.autofetch as autofetch

    started = []
    real = autofetch.start_background_fetch
    monkeypatch.setattr(autofetch, "start_background_fetch", lambda: started.append(real()) or started[-1])
    assert main(["models", "--json"]) == 0
    assert "note: fetching musicnn's weights in the background" in capsys.readouterr().err
    (proc,) = started
    assert proc is not None and proc.wait(timeout=180) == 0
    state = json.loads((online / ".musicnn-fetch.json").read_text())
    assert state["outcome"] == "failed" and "sha256" in state["error"]
    assert musicnn_checkpoint() is None
    assert main(["models", "--json"]) == 0  # failed recently: the next start does not try again
    assert "note: fetching" not in capsys.readouterr().err
