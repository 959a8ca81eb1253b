"""Knowledge distillation (gtzan_core/distillation.py): a teacher run's soft targets on the
training split only, recorded in the run; teachers on another dataset, another label set or
another split refused; the loss itself."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch

from gtzan_core import GENRES
from gtzan_core.errors import ConfigError
from gtzan_core.hparams import make_config
from gtzan_core.jobs import JobSpec, train
from gtzan_core.runs import RunStore
from gtzan_core.training.loop import Distill


def _train(dataset, features, store, model="mlp", **overrides):
    config = make_config(model, recipe="studio", epochs=1, device="cpu", **overrides)
    return train(config, features, store, dataset_info=dataset.run_info(), spec=JobSpec(config, str(dataset.root)))


@pytest.fixture(scope="module")
def teacher_store(tiny_demo_set, tiny_features, tmp_path_factory):
    """A store holding one finished MLP run (seed 0) on the tiny demo set: the teacher."""
    store = RunStore(tmp_path_factory.mktemp("teacher-runs"))
    record = _train(tiny_demo_set, tiny_features, store, seed=0)
    assert record["status"] == "finished"
    return store, record["run_id"]


def _split_tracks(features, model: str, seed: int) -> dict[str, set[str]]:
    """The student's split, drawn independently of the trainer: each part's track ids."""
    from gtzan_core.models import get_spec
    from gtzan_core.splits import split_for

    kind = get_spec(model).kind
    fs = features.for_kind(kind.name)
    _, sample_track = kind.samples(fs)
    split = split_for(fs.tracks, sample_track, kind.name, "track", seed, 0.15, 0.15, True)
    ids = fs.tracks["track_id"].to_numpy().astype(str)
    return {part: set(ids[np.unique(np.asarray(sample_track)[getattr(split, part)])])
            for part in ("train", "val", "test")}


@pytest.mark.heavy
def test_the_teacher_predicts_the_training_clips_only_and_the_run_records_it(tiny_demo_set, tiny_features,
                                                                              teacher_store, monkeypatch):
    from gtzan_core.distillation import RunTeacher

    store, teacher = teacher_store
    seen: list[tuple[str, int]] = []
    real_predict = RunTeacher.predict

    def recording_predict(self, clips, x, batch=64):
        seen.extend(clips)
        return real_predict(self, clips, x, batch)

    monkeypatch.setattr(RunTeacher, "predict", recording_predict)
    record = _train(tiny_demo_set, tiny_features, store, model="cnn", seed=0, teacher=teacher, kd_temperature=3.0,
                    kd_alpha=0.7)
    assert record["status"] == "finished", record.get("error")
    parts = _split_tracks(tiny_features, "cnn", 0)
    asked = {track for track, _ in seen}
    assert asked == parts["train"]  # every training track, and nothing else
    assert not asked & (parts["val"] | parts["test"])
    assert len(seen) == 2 * len(parts["train"])  # the teacher's own samples (two MFCC segments a track)
    d = record["distillation"]
    assert d["teacher"] == teacher and d["teacher_model"] == "mlp" and d["temperature"] == 3.0 and d["alpha"] == 0.7
    assert d["train_tracks"] == len(parts["train"])
    assert d["teacher_checkpoint_sha256"] == hashlib.sha256(store.checkpoint_path(teacher).read_bytes()).hexdigest()
    assert record["recipe_changes"]["teacher"] == teacher and record["config"]["teacher"] == teacher

    # computed once per teacher and training tracks: a second student on the same split asks nothing
    seen.clear()
    again = _train(tiny_demo_set, tiny_features, store, model="mlp", seed=0, teacher=teacher)
    assert again["status"] == "finished" and seen == []


@pytest.mark.heavy
def test_a_teacher_that_saw_the_students_test_tracks_is_refused(tiny_demo_set, tiny_features, teacher_store):
    store, teacher = teacher_store
    seed = next(s for s in range(1, 20) if _split_tracks(tiny_features, "cnn", s)["test"]
                & set(store.read(teacher)["split"]["seen_tracks"]))
    with pytest.raises(ConfigError, match=r"teacher .* trained or was chosen on \d+ of this run's test tracks"):
        _train(tiny_demo_set, tiny_features, store, model="cnn", seed=seed, teacher=teacher)
    (failed,) = [r for r in store.list() if r["status"] == "failed" and r["config"]["seed"] == seed]
    assert "test tracks" in failed["error"]


def test_a_teacher_on_another_dataset_or_label_set_is_refused(teacher_store, tmp_path):
    import shutil

    from gtzan_core.distillation import check_teacher

    store, teacher = teacher_store
    fingerprint = store.read(teacher)["dataset"]["fingerprint"]
    assert check_teacher(store, teacher, fingerprint)["run_id"] == teacher
    with pytest.raises(ConfigError, match="trained on another dataset") as err:
        check_teacher(store, teacher, "0123456789abcdef")
    assert "\n" not in str(err.value)
    # the same run, its record naming another label set (a copy in another store)
    other = RunStore(tmp_path / "runs")
    shutil.copytree(store.root / teacher, other.root / teacher)
    path = other.root / teacher / "record.json"
    data = json.loads(path.read_text())
    data["classes"] = list(GENRES[:5])
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="another label set"):
        check_teacher(other, teacher, fingerprint)
    with pytest.raises(ConfigError, match="no run 'nope'"):
        check_teacher(store, "nope")


def test_the_cli_refuses_a_teacher_on_another_dataset(teacher_store, gtzan_dir, capsys):
    from gtzan_core.cli import main

    store, teacher = teacher_store
    code = main(["train", "cnn", "--data", str(gtzan_dir), "--epochs", "1", "--device", "cpu", "--runs",
                 str(store.root), "--teacher", teacher, "--allow-weak-split"])
    assert code != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "trained on another dataset" in err[0]


def test_distillation_knobs_are_checked_and_recorded_as_changes():
    config = make_config("cnn", recipe="studio", teacher="run-1", kd_temperature=2.0)
    assert config.recipe_changes() == {"teacher": "run-1", "kd_temperature": 2.0, "kd_alpha": 0.5}
    assert "kd_alpha" not in make_config("cnn", recipe="studio", kd_alpha=0.9).recipe_changes()  # no teacher
    with pytest.raises(ConfigError, match="kd-alpha must be between 0 and 1"):
        make_config("cnn", teacher="run-1", kd_alpha=1.5)
    with pytest.raises(ConfigError, match="cannot learn from a teacher"):
        make_config("musicnn", teacher="run-1")  # a head on a frozen backbone
    make_config("ast", teacher="run-1")  # the Transformer can


def test_the_distillation_loss():
    torch.manual_seed(0)
    logits, teacher_logits = torch.randn(6, 10), torch.randn(6, 10)
    y = torch.randint(0, 10, (6,))
    ce = torch.nn.functional.cross_entropy(logits, y)
    idx = torch.arange(6)
    table = torch.log_softmax(teacher_logits, 1)
    assert Distill(table, 4.0, 0.0).loss(logits, idx, ce) == pytest.approx(ce.item())  # alpha 0: the labels alone
    same = Distill(torch.log_softmax(logits, 1), 3.0, 1.0).loss(logits, idx, ce)
    assert same.item() == pytest.approx(0.0, abs=1e-5)  # the student already says what the teacher says
    t = 2.0
    kd = torch.nn.functional.kl_div(torch.log_softmax(logits / t, 1), torch.softmax(table / t, 1),
                                    reduction="batchmean")
    got = Distill(table, t, 0.25).loss(logits, idx, ce)
    assert got.item() == pytest.approx(0.25 * t * t * kd.item() + 0.75 * ce.item(), rel=1e-5)
    # under mixup the teacher's two distributions mix as the inputs did
    perm = torch.tensor([1, 0, 3, 2, 5, 4])
    mixed = 0.3 * torch.softmax(table / t, 1) + 0.7 * torch.softmax(table / t, 1)[perm]
    kd_mixed = torch.nn.functional.kl_div(torch.log_softmax(logits / t, 1), mixed, reduction="batchmean")
    got = Distill(table, t, 1.0).loss(logits, idx, ce, perm, 0.3)
    assert got.item() == pytest.approx(t * t * kd_mixed.item(), rel=1e-5)


@pytest.mark.heavy
def test_the_train_form_trains_a_distilled_cnn(demo_app):
    from gtzan_core.data import open_dataset
    from gtzan_core.feature_cache import feature_request, load_features
    from tests.helpers import ended, wait_until

    at = demo_app("train")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    store = RunStore()
    ds = open_dataset(None)  # the app's demo set
    teacher = _train(ds, load_features(ds, **feature_request("mlp")), store, seed=0)["run_id"]
    at.multiselect(key="train-models").set_value(["cnn"]).run()
    assert not at.exception, [e.value for e in at.exception]
    box = at.selectbox(key="te-cnn-paper")
    assert box.options[0] == "none" and any(teacher in o for o in box.options)  # (labels name the run)
    box.set_value(teacher)
    at.number_input(key="ep-cnn-paper").set_value(1)
    at.number_input(key="kt-cnn-paper").set_value(2.0)
    at.checkbox[0].check()  # the small demo set's split is weak
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    student = next(r for r in store.list() if r["model"] == "cnn")
    wait_until(ended(store, student["run_id"]), timeout=120, what="the job to end")
    record = store.read(student["run_id"])
    assert record["status"] == "finished", record.get("error")
    assert record["distillation"]["teacher"] == teacher and record["distillation"]["temperature"] == 2.0
    assert record["recipe_changes"] == {"teacher": teacher, "epochs": 1, "kd_temperature": 2.0, "kd_alpha": 0.5}


@pytest.mark.heavy
def test_the_distill_study_writes_its_table_and_the_reproduction_page_draws_it(musicnn_weights, tiny_demo_set,
                                                                             tmp_path, capsys, demo_app):
    from gtzan_core.cli import main
    from gtzan_core.reproduction.result_files import results_dir

    runs, result = tmp_path / "runs", results_dir() / "distill-tiny.json"
    assert main(["distill", "--data", str(tiny_demo_set.root), "--seeds", "1", "--students", "mlp", "--epochs", "1",
                 "--kd-temperature", "2", "--runs", str(runs), "--result", str(result)]) == 0
    doc = json.loads(result.read_text())
    assert doc["kind"] == "distillation" and doc["seeds"] == [0] and doc["runs_done"] == doc["runs_planned"] == 3
    assert doc["command"].startswith("python -m gtzan_core distill --data ") and "--kd-temperature 2" in doc["command"]
    assert [(r["model"], r["condition"]) for r in doc["rows"]] == [
        ("musicnn", "teacher"), ("mlp", "without teacher"), ("mlp", "with teacher")]
    without, with_ = doc["rows"][1], doc["rows"][2]
    assert with_["gain"] == pytest.approx(with_["track_accuracy"] - without["track_accuracy"])
    store = RunStore(runs)
    by_role = {(r["model"], r["distill_study"]["condition"]): r for r in store.list()}
    teacher = by_role[("musicnn", "teacher")]
    assert by_role[("mlp", "with teacher")]["distillation"]["teacher"] == teacher["run_id"]
    assert "distillation" not in by_role[("mlp", "without teacher")]
    assert {r["config"]["seed"] for r in by_role.values()} == {0}  # seed-matched: the teacher's split is theirs

    at = demo_app("reproduction")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Does a teacher help?" in h.value for h in at.header)
    assert any("temperature 2" in c.value for c in at.caption)


def test_the_study_checks_its_given_teachers_and_epoch_caps(teacher_store):
    from gtzan_core.reproduction.distill_study import _given_teachers, epoch_caps

    store, teacher = teacher_store
    with pytest.raises(ConfigError, match="one run per seed"):
        _given_teachers(store, [teacher], 2)
    with pytest.raises(ConfigError, match="not a finished musicnn run with seed 0"):
        _given_teachers(store, [teacher], 1)  # an MLP run
    assert epoch_caps(["5", "ast=3"], ("cnn", "ast")) == {"cnn": 5, "ast": 3}
    with pytest.raises(ConfigError, match="STUDENT=N"):
        epoch_caps(["lstm=3"], ("cnn", "ast"))
