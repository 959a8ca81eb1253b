"""A run recorded by an earlier studio still loads, shows on the Leaderboard and predicts
as it did: tests/data/record_afc16e8_gru was trained (a GRU, 2 epochs on a tiny synthetic
demo set) and its prediction of a synthetic clip written by the studio at commit
afc16e8, before the job spec, the typed lifecycle and the record checks."""

import json
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf
from streamlit.testing.v1 import AppTest

from gtzan_core.data.synth import synth_track
from gtzan_core.inference import predict
from gtzan_core.leaderboard import leaderboard
from gtzan_core.runs import RunRecord, RunStore
from tests.helpers import ROOT, TEST_DATA

OLD = TEST_DATA / "record_afc16e8_gru"


def old_store(tmp_path: Path) -> tuple[RunStore, dict]:
    expected = json.loads((OLD / "expected.json").read_text())
    run = tmp_path / "runs" / expected["run_id"]
    run.mkdir(parents=True)
    for name in ("record.json", "model.pt"):
        shutil.copy(OLD / name, run / name)
    return RunStore(tmp_path / "runs"), expected


def test_an_old_record_loads_typed_and_is_not_damaged(tmp_path):
    store, expected = old_store(tmp_path)
    assert store.damaged() == []
    record = RunRecord(store.read(expected["run_id"]))
    assert (record.model, record.status, record.title) == ("gru", "finished", "GRU")
    assert record.metrics("segment")["n"] > 0 and len(record.history) == 2


def test_an_old_record_shows_on_the_leaderboard_and_predicts_as_it_did(tmp_path):
    store, expected = old_store(tmp_path)
    board = leaderboard(store, include_paper=False)
    assert board.run_id.tolist() == [expected["run_id"]]
    clip = expected["clip"]
    sf.write(tmp_path / "clip.wav", synth_track(clip["genre"], clip["seconds"], seed=clip["seed"]), 22050)
    result = predict(tmp_path / "clip.wav", [expected["run_id"]], store).results[expected["run_id"]]
    assert result.top == expected["top"]
    np.testing.assert_allclose(result.probs, expected["probs"], atol=1e-5)


def test_an_old_record_shows_on_the_leaderboard_page(tmp_path, monkeypatch):
    store, expected = old_store(tmp_path)
    monkeypatch.setenv("GTZAN_STUDIO_RUNS", str(store.root))
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.switch_page("pages/leaderboard.py")
    at.run()
    assert not at.exception
    shown = " ".join(str(df.value.to_dict()) for df in at.dataframe)
    assert expected["run_id"] in shown


def test_the_typed_view_reads_attributes_and_migrates_the_older_job_layout():
    from gtzan_core.runs import RECORD_VERSION, RunRecord, migrate

    old = json.loads((OLD / "record.json").read_text())
    typed = RunRecord(old)
    assert typed.version == RECORD_VERSION and "record_version" not in old  # the file's dict is left alone
    ev = typed.evaluation
    assert ev.at("track").accuracy == old["evaluation"]["track"]["accuracy"]
    assert ev.at("segment").confusion == old["evaluation"]["segment"]["confusion"]
    assert typed.split.unit == old["split"]["unit"] and typed.split.test == old["split"]["test"]
    queued = {"run_id": "q", "status": "queued", "owner": "ann", "config": old["config"],
              "dataset": {"label": "synthetic demo"}, "job": {"data_path": None, "image_source": "auto", "extra": {}}}
    job = migrate(queued)["job"]
    assert (job["config"], job["owner"], job["dataset_label"]) == (old["config"], "ann", "synthetic demo")
