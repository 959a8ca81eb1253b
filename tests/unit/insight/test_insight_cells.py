"""Listening to a confusion cell: what a run predicted for each test track is kept beside
its record at evaluation time (and made once for a run recorded before that), a cell
lists exactly the tracks its number counts, each with its media from the run's own
dataset; `evaluate RUN --errors` lists the wrong ones."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from gtzan_core import GENRES
from gtzan_core.cli import main
from gtzan_core.errors import DatasetError
from gtzan_core.insight import cells
from gtzan_core.insight.media import dataset_media, folder_media, read_media
from gtzan_core.runs import RunStore
from tests.helpers import train_tiny_mlp


@pytest.fixture(scope="module")
def trained(tiny_demo_set, tiny_features, tmp_path_factory):
    """A store holding one tiny MLP run (many segments a track) on the tiny demo set."""
    root = tmp_path_factory.mktemp("cells-store")
    return root, train_tiny_mlp(tiny_demo_set, tiny_features, root)["run_id"]


@pytest.fixture
def store(trained, tmp_path):
    root, rid = trained
    shutil.copytree(root, tmp_path / "runs")
    return RunStore(tmp_path / "runs"), rid


def test_a_finished_run_keeps_each_test_tracks_prediction_and_they_make_its_confusion_matrices(store):
    st, rid = store
    record = st.read(rid)
    kept = cells.stored(st, rid)
    assert kept is not None and kept["classes"] == list(GENRES)
    assert len(kept["tracks"]) == record.evaluation.track.n
    assert sum(len(t["segments"]) for t in kept["tracks"]) == record.evaluation.segment.n
    for level in cells.LEVELS:
        assert cells.matches_record(kept, record, level)
    assert "predictions" not in json.dumps(record.to_json())  # beside the record, never in it


def test_every_cell_lists_the_tracks_its_number_counts(store):
    st, rid = store
    kept = cells.stored(st, rid)
    ev = st.read(rid).evaluation
    for level in cells.LEVELS:
        confusion = ev.at(level).confusion
        for i, true in enumerate(GENRES):
            for j, pred in enumerate(GENRES):
                listed = cells.cell_tracks(kept, true, pred, level)
                assert sum(x.in_cell for x in listed) == confusion[i][j], (level, true, pred)
                assert all(x.true == true for x in listed)
                if level == "track":
                    assert all(x.pred == pred for x in listed)
                    assert all(abs(x.p_pred - max(x.probs.values())) < 1e-9 for x in listed)
    wrong = cells.errors(kept)
    assert len(wrong) == sum(ev.track.confusion[i][j] for i in range(10) for j in range(10) if i != j)
    assert not any(x.right for x in wrong)


def test_a_report_row_lists_the_genres_tracks_and_those_taken_for_it(store):
    st, rid = store
    kept = cells.stored(st, rid)
    report = st.read(rid).evaluation.track.report
    for genre in GENRES:
        row = cells.class_tracks(kept, genre)
        mine = [x for x in row if x.true == genre]
        taken = [x for x in row if x.true != genre]
        assert len(mine) == report[genre]["support"]
        assert all(x.pred == genre for x in taken)
        hits = sum(1 for x in mine if x.right)
        assert hits == round(report[genre]["recall"] * report[genre]["support"])


def test_an_unknown_genre_is_one_clear_line(store):
    st, rid = store
    with pytest.raises(Exception, match="'polka' is not a genre"):
        cells.cell_tracks(cells.stored(st, rid), "polka", "rock")


def test_a_run_recorded_before_predictions_were_kept_gets_them_made_once_and_checked(store):
    st, rid = store
    before = cells.stored(st, rid)
    os.remove(st.predictions_path(rid))
    assert cells.stored(st, rid) is None
    said = []
    made = cells.ensure_test_predictions(st, rid, progress=said.append)
    assert said and "making them once" in said[0]
    assert made["recomputed"] and made["matches_record"]
    assert [t["track"] for t in made["tracks"]] == [t["track"] for t in before["tracks"]]
    assert [t["pred"] for t in made["tracks"]] == [t["pred"] for t in before["tracks"]]
    assert cells.stored(st, rid)["recomputed"]  # kept: the next look reads it


def test_a_damaged_predictions_file_reads_as_none_kept(store):
    st, rid = store
    st.predictions_path(rid).write_text("{not json")
    assert cells.stored(st, rid) is None


def test_media_come_from_the_runs_dataset_and_never_from_outside_it(store, tmp_path):
    st, rid = store
    root = st.read(rid).dataset.root
    media = dataset_media(root)
    kept = cells.stored(st, rid)
    for t in kept["tracks"]:
        m = media[t["track"]]
        assert m.audio is not None and m.audio.resolve().is_relative_to(Path(root).resolve())
        assert read_media(m.audio, root)[:4] == b"RIFF"
    assert dataset_media(root, roots=[tmp_path / "elsewhere"]) == {}  # a dataset outside the roots: nothing
    secret = tmp_path / "secret.wav"
    secret.write_bytes(b"RIFF-private")
    with pytest.raises(DatasetError, match="not a file of the dataset"):
        read_media(secret, root)
    with pytest.raises(DatasetError, match="outside the folders"):
        read_media(media[kept["tracks"][0]["track"]].audio, root, roots=[tmp_path / "elsewhere"])
    assert folder_media(root, ["../secret.wav", str(secret)]) == {}


def test_two_runs_disagree_on_the_tracks_one_gets_right():
    a = {"classes": list(GENRES), "tracks": [
        {"track": "x", "true": 0, "pred": 0, "probs": [1] + [0] * 9},
        {"track": "y", "true": 1, "pred": 2, "probs": [0] * 10},
        {"track": "z", "true": 3, "pred": 3, "probs": [0] * 10}]}
    b = {"classes": list(GENRES), "tracks": [
        {"track": "x", "true": 0, "pred": 5, "probs": [0] * 10},
        {"track": "y", "true": 1, "pred": 1, "probs": [0] * 10},
        {"track": "z", "true": 3, "pred": 3, "probs": [0] * 10}]}
    got = cells.disagreements(a, b)
    assert [(d["track"], d["right"]) for d in got] == [("x", "a"), ("y", "b")]
    assert got[0]["b"] == GENRES[5]


def test_the_cli_lists_the_errors_as_text_and_json(store, capsys, monkeypatch):
    st, rid = store
    kept = cells.stored(st, rid)
    wrong = {t["track"] for t in kept["tracks"] if t["true"] != t["pred"]}
    assert main(["evaluate", rid, "--errors", "--json", "--runs", str(st.root)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {e["track"] for e in out["test"]["errors"]} == wrong
    assert out["test"]["tracks"] == len(kept["tracks"])
    assert main(["evaluate", rid, "--errors", "--runs", str(st.root)]) == 0
    text = capsys.readouterr().out
    assert f"{len(wrong)} of {len(kept['tracks'])} test tracks wrong" in text
    for track in wrong:
        assert track in text


def test_a_run_whose_record_names_no_dataset_folder_is_refused_never_read_on_the_demo_set(store):
    """A shipped starter's record names its dataset (GTZAN) but not its folder: its
    predictions are made only on a folder given, never on the demo set in its place."""
    st, rid = store
    os.remove(st.predictions_path(rid))
    record = st.read(rid)
    st.write_record(rid, record.updated(job=None, dataset={**record["dataset"], "label": "GTZAN"}))
    with pytest.raises(Exception, match="its record does not say where its dataset \\(GTZAN\\) is"):
        cells.ensure_test_predictions(st, rid)
    assert cells.stored(st, rid) is None
