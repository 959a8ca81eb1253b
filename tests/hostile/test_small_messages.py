"""Issue 41, item 8: the smaller messages, each naming what the problem really is."""

from __future__ import annotations

import json

import pytest

from gtzan_core.hparams import make_config
from gtzan_core.jobs import JobManager
from gtzan_core.models import MODELS
from gtzan_core.runs import RunStore
from tests.helpers import run, write_table


def tampered_queue(edit) -> tuple[RunStore, str]:
    """A job queued by a server that went away, its record then edited by ``edit(record)``."""
    store = RunStore()
    old = JobManager(store, slots=0)
    rid = old.submit(make_config("mlp", epochs=1, device="cpu"))
    old.shutdown()
    path = store.path(rid) / "record.json"
    record = json.loads(path.read_text())
    edit(record)
    path.write_text(json.dumps(record))
    return store, rid


def test_a_queued_record_whose_job_is_null_fails_saying_so_instead_of_waiting_for_ever():
    store, rid = tampered_queue(lambda r: r.update(job=None))
    new = JobManager(RunStore(store.root), slots=0, resume=True)
    try:
        record = store.read(rid)
        assert record["status"] == "failed", record["status"]
        assert record["error"] == "queued job could not be resumed: the record holds no job (its job field is null)"
    finally:
        new.shutdown()


def test_an_unknown_model_in_a_job_record_is_answered_with_every_model_the_studio_has():
    store, rid = tampered_queue(lambda r: r["job"]["config"].update(model="nope"))
    new = JobManager(RunStore(store.root), slots=0, resume=True)
    try:
        error = store.read(rid)["error"]
        assert "unknown model 'nope'" in error
        assert all(name in error for name in MODELS), error  # the four feature-vector models too
        assert all(name in error for name in ("logreg", "svm", "hgb", "feature_mlp"))
    finally:
        new.shutdown()


@pytest.mark.parametrize("model", ["efficientnet_lite0", "vgg19"])
def test_a_picture_model_on_a_feature_table_is_told_the_table_has_no_audio_and_no_pictures(tmp_path, capsys, model):
    table = write_table(tmp_path / "features.csv", per_genre=4)
    code, out, err = run(capsys, "train", model, "--data", table, "--epochs", "1", "--allow-weak-split")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "this dataset has no audio and no pictures (a feature table" in err
    assert "feature-vector models" in err and "image source" not in err


@pytest.mark.parametrize("text", ["lr: {type: loguniform, low: 1.0e-5\n", "lr:\n  type: int\n\tlow: 1\n",
                                  "a: b: c\n"])
def test_a_yaml_error_in_a_search_space_file_is_one_line_saying_where(tmp_path, capsys, text):
    space = tmp_path / "space.yaml"
    space.write_text(text)
    code, out, err = run(capsys, "search", "mlp", "--space", space, "--trials", "1")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"{space}: not valid YAML (line " in err and "column" in err


def test_a_recipes_file_with_a_yaml_error_is_one_line_too(tmp_path, monkeypatch):
    from gtzan_core.errors import ConfigError
    from gtzan_core.hparams import load_hparams

    bad = tmp_path / "recipes.yaml"
    bad.write_text("recipes:\n  paper: [1, 2\n")
    with pytest.raises(ConfigError) as info:
        load_hparams(bad)
    assert "\n" not in str(info.value) and "not valid YAML (line 3, column 1:" in str(info.value)


@pytest.mark.heavy
def test_evaluating_a_folder_of_junk_prints_a_summary_not_a_line_a_file(tiny_features, tmp_path, capsys):
    from gtzan_core.jobs import train

    store = RunStore(tmp_path / "runs")
    rid = train(make_config("mlp", epochs=1, device="cpu"), tiny_features, store)["run_id"]
    folder = tmp_path / "junk"
    (folder / "rock").mkdir(parents=True)
    for i in range(2_000):
        (folder / "rock" / f"junk{i:05d}.txt").write_text("x")
    for i in range(5):
        (folder / "rock" / f"odd{i}.bin").write_text("x")
    code, out, err = run(capsys, "evaluate", rid, "--data", folder, "--runs", store.root)
    refused_lines = [line for line in out.splitlines() if line.startswith("  refused ")]
    assert len(refused_lines) == 30, len(refused_lines)
    assert "... and 1,975 more files refused (1,970: not an audio file (its extension .txt" in out
    assert "5: not an audio file (its extension .bin" in out and "each in --json" in out
    assert len(out.splitlines()) < 50
    code, out, _ = run(capsys, "evaluate", rid, "--data", folder, "--runs", store.root, "--json")
    assert len(json.loads(out)["runs"][rid]["refused"]) == 2_005  # every one of them, in the JSON
