"""A transfer study tested on a folder besides its split (``transfer --test-data``): the
folder's tracks leave the training data by track id before any split, a folder that holds
every training track is refused, each finished run is scored on the folder's clips and the
result file says so; on the real material where present (the 37 full clips against the
excerpts, skipping cleanly)."""

import json
from pathlib import Path

import pytest

from gtzan_core import GENRES
from gtzan_core.data import discover_dataset
from gtzan_core.errors import ConfigError, DatasetError
from gtzan_core.reproduction.transfer import leave_out_test_tracks, read_test_folder
from tests.helpers import SHARED_DATA, run, write_clip

REAL = SHARED_DATA / "gtzan-real"


def touch(path: Path) -> Path:
    """A small file of its own bytes (never read as audio here; identical files would be one track)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(path.name.encode())
    return path


def small_dataset(root: Path, per_genre: int = 3) -> Path:
    """A GTZAN-layout folder of small files (discovered without reading the audio)."""
    for g in GENRES:
        for i in range(per_genre):
            touch(root / "genres_original" / g / f"{g}.{i:05d}.wav")
    return root


def test_the_test_folders_tracks_leave_the_training_data_by_track_id(tmp_path):
    ds = discover_dataset(small_dataset(tmp_path / "train"), check_audio=False)
    test = tmp_path / "clips"
    touch(test / "blues" / "blues.00001.au")  # the same track in another format: still the same track
    touch(test / "rock" / "rock.00002.mp3")
    touch(test / "jazz" / "jazz.00054.wav")  # a track the training data does not hold
    touch(test / "podcasts" / "rock.00000.wav")  # no GTZAN genre: not a test track
    found, ids = read_test_folder(test)
    assert ids == {"blues.00001", "rock.00002", "jazz.00054"}
    smaller, left_out = leave_out_test_tracks(ds, ids, found.name)
    assert left_out == ["blues.00001", "rock.00002"]
    assert len(smaller.tracks) == len(ds.tracks) - 2
    assert not set(smaller.tracks["track_id"]) & ids
    assert "rock.00000" in set(smaller.tracks["track_id"])  # only the ids of the genre folders
    assert smaller.fingerprint != ds.fingerprint  # its features are cached apart from the whole set's
    assert any("2 track(s) left out" in w and "clips" in w for w in smaller.warnings)
    assert len(ds.tracks) == 30  # the dataset itself is untouched
    same, none = leave_out_test_tracks(ds, {"metal.00099"}, "other")
    assert same is ds and none == []


def test_a_test_folder_holding_every_training_track_is_refused(tmp_path):
    data = small_dataset(tmp_path / "train", per_genre=1)
    ds = discover_dataset(data, check_audio=False)
    found, ids = read_test_folder(data)
    with pytest.raises(ConfigError, match=r"every track of the training data \(10\) is in the test folder .*nothing "
                                          r"is left to train on"):
        leave_out_test_tracks(ds, ids, found.name)


def test_a_test_folder_without_genre_folders_is_refused(tmp_path):
    touch(tmp_path / "songs" / "speech" / "a.wav")
    with pytest.raises(DatasetError, match="no file in a folder named after a GTZAN genre"):
        read_test_folder(tmp_path / "songs")
    with pytest.raises(DatasetError, match="no such folder"):
        read_test_folder(tmp_path / "absent")


def test_the_command_refuses_a_test_folder_that_is_the_training_data(gtzan_dir, tmp_path, capsys):
    code, _, err = run(capsys, "transfer", "--data", gtzan_dir, "--test-data", gtzan_dir, "--models", "mlp",
                       "--seeds", "1", "--runs", tmp_path / "runs")
    assert code != 0 and "nothing is left to train on" in err and not (tmp_path / "runs").exists()


@pytest.mark.heavy
def test_a_study_tested_on_a_folder_scores_each_run_there_and_never_trains_on_its_tracks(tmp_path, capsys,
                                                                                          monkeypatch):
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_PER_GENRE", "4")
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_SECONDS", "6.2")
    test = tmp_path / "clips"
    for k, g in enumerate(GENRES[:4]):
        write_clip(test / g / f"{g}.{k:05d}.wav", g, 7.0, index=k)  # demo tracks' ids: left out of training
    write_clip(test / "metal" / "metal.00042.wav", "metal", 7.0)
    out, runs = tmp_path / "clips.json", tmp_path / "runs"
    code, stdout, err = run(capsys, "transfer", "--test-data", test, "--models", "mlp", "--seeds", "2", "--epochs",
                            "1", "--device", "cpu", "--allow-weak-split", "--json", "--result", out, "--runs", runs)
    assert code == 0, err
    assert "left out of training: 4 track(s)" in err
    doc = json.loads(out.read_text())
    assert doc["test_data"]["left_out"] == ["blues.00000", "classical.00001", "country.00002", "disco.00003"]
    assert doc["test_data"]["files"] == 5 and doc["dataset"]["tracks"] == 36
    assert f"--test-data {test}" in doc["command"]
    (row,) = doc["rows"]
    assert row["test_data_seeds"] == 2 and row["test_data_clips"] == [5] and row["test_data_dropped"] == 0
    assert 0 <= row["test_data_accuracy"] <= 1 and row["test_data_accuracy_sd"] == row["test_data_accuracy_sd"]
    from gtzan_core.runs import RunStore

    store = RunStore(runs)
    records = [r for r in store.list() if (r.get("transfer") or {}).get("id") == doc["study"]]
    assert len(records) == 2
    for r in records:
        assert not set(r["split"]["seen_tracks"]) & set(doc["test_data"]["left_out"])
        (ev,) = r["external_evaluations"].values()
        assert ev["n_scored"] == 5
    accuracies = sorted(next(iter(r["external_evaluations"].values()))["accuracy"] for r in records)
    assert row["test_data_accuracy"] == pytest.approx(sum(accuracies) / 2)


@pytest.mark.skipif(not (REAL / "excerpts").is_dir() or not (REAL / "genres_original").is_dir(),
                    reason="no real excerpts or full clips in ../shared")
def test_real_full_clips_leave_their_25_tracks_out_of_the_excerpts():
    ds = discover_dataset(REAL / "excerpts", check_audio=False)
    found, ids = read_test_folder(REAL / "genres_original")
    assert len(found.files) == len(ids) == 37
    smaller, left_out = leave_out_test_tracks(ds, ids, found.name)
    assert len(left_out) == 25 and len(smaller.tracks) == len(ds.tracks) - 25
    never_seen = ids - set(left_out)
    assert {t for t in never_seen if t.endswith(".00000")} == {f"{g}.00000" for g in GENRES}
    assert never_seen - {f"{g}.00000" for g in GENRES} == {"blues.00099", "jazz.00054"}
