"""A job is one object (JobSpec), serialised and parsed in one place each, and checked
before anything is queued by one preflight."""

import ast

import pytest
from hypothesis import given, settings, strategies as st

from gtzan_core.classroom import QuotaExceeded, load_settings
from gtzan_core.errors import ConfigError, DatasetError
from gtzan_core.hparams import make_config
from gtzan_core.jobs import JobManager, JobSpec, preflight
from gtzan_core.models import MODELS
from gtzan_core.runs import RunStore
from gtzan_core.splits import WeakSplitError
from tests.helpers import ROOT


@settings(max_examples=40, deadline=None)
@given(model=st.sampled_from(sorted(MODELS)), seed=st.integers(0, 10_000), epochs=st.integers(1, 500),
       protocol=st.sampled_from(["track", "paper", "filtered"]), source=st.sampled_from(["auto", "render"]),
       data=st.one_of(st.none(), st.text(min_size=1, max_size=30)), owner=st.one_of(st.none(), st.text(max_size=12)),
       extra=st.dictionaries(st.text(max_size=8), st.integers(), max_size=3))
def test_a_spec_survives_its_one_serialisation(model, seed, epochs, protocol, source, data, owner, extra):
    spec = JobSpec(make_config(model, seed=seed, epochs=epochs, protocol=protocol), data, source, extra, owner)
    assert JobSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize("data, problem", [
    ([], "a job must be a mapping, not list"),
    (None, "the record holds no job (its job field is null)"),
    ({"data_path": None}, "a job needs its model configuration"),
    ({"config": {"model": "nope"}}, "unknown model 'nope'"),
    ({"config": {"model": "mlp", "wings": 2}}, "not one this studio knows"),
    ({"config": {"model": "mlp"}, "image_source": "sideways"}, "image source 'sideways' is not one of"),
    ({"config": {"model": "mlp"}, "data_path": 3}, "a job's data path must be text, not int"),
    ({"config": {"model": "mlp"}, "extra": []}, "a job's extra fields must be a mapping"),
    ({"config": {"model": "mlp"}, "colour": "red"}, "a job has unknown fields: colour"),
    ({"config": {"model": "mlp", "epochs": 0}}, "epochs must be between 1 and 10000"),
])
def test_a_job_that_is_not_one_is_refused_naming_what_is_wrong(data, problem):
    with pytest.raises(ConfigError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        JobSpec.from_dict(data)


def test_a_queued_record_of_the_older_layout_still_gives_its_job():
    """Before JobSpec a queued run's ``job`` held the data path, the image source and the
    extra fields; the configuration and the owner sat beside it in the record."""
    config = make_config("gru", epochs=3, seed=7)
    record = {"run_id": "r", "status": "queued", "owner": "alice", "config": config.as_dict(),
              "dataset": {"label": "synthetic demo", "root": None},
              "job": {"data_path": None, "image_source": "render", "extra": {"reproduction": {"id": "x"}}}}
    spec = JobSpec.from_record(record)
    assert spec == JobSpec(config, None, "render", {"reproduction": {"id": "x"}}, "alice", "synthetic demo")


def test_the_queue_records_the_spec_and_a_new_manager_resumes_exactly_it(tmp_path):
    store = RunStore(tmp_path / "runs")
    spec = JobSpec(make_config("mlp", epochs=2, seed=3, device="cpu"), None, "auto", {"note": 1}, "bob", "demo")
    held = JobManager(store, slots=0)  # queues, never starts
    run_id = held.submit(spec)
    assert store.read(run_id)["job"] == spec.to_dict()
    held.shutdown()
    taker = JobManager(store, slots=0, resume=True)
    try:
        assert taker.resumed == [run_id]
        assert taker._jobs[run_id].spec == spec
    finally:
        taker.shutdown()


def test_a_job_is_serialised_and_parsed_in_one_place_only():
    """No module builds a job's dict or a TrainConfig from one by hand: JobSpec.to_dict and
    JobSpec.from_dict are the only two (the queue, the Ray executor and its workers use them)."""
    offenders = []
    for path in sorted((ROOT / "gtzan_core").rglob("*.py")):
        if path.relative_to(ROOT).as_posix() in ("gtzan_core/jobs/job.py", "gtzan_core/hparams.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "TrainConfig" and any(
                    k.arg is None for k in node.keywords):
                offenders.append(f"{path.name}:{node.lineno}: TrainConfig(**...)")
            if isinstance(node, ast.Dict):
                keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
                if {"config", "image_source"} <= keys or {"data_path", "image_source"} <= keys:
                    offenders.append(f"{path.name}:{node.lineno}: a job's dict")
    assert offenders == []


def test_preflight_refuses_missing_weights_limits_and_weak_splits(tiny_demo_set, tmp_path, monkeypatch):
    from gtzan_core.data import open_dataset

    ok = JobSpec(make_config("mlp", epochs=5), owner="alice")
    assert preflight([ok]) == []
    classroom = load_settings({"GTZAN_STUDIO_MODE": "classroom", "GTZAN_STUDIO_MAX_JOBS": "2",
                               "GTZAN_STUDIO_MAX_EPOCHS": "10"})
    with pytest.raises(QuotaExceeded, match="the limit on this shared instance is 2 at a time"):
        preflight([ok, ok], settings=classroom, active=1)
    with pytest.raises(QuotaExceeded, match="20 epochs asked; the limit on this shared instance is 10"):
        preflight([JobSpec(make_config("mlp", epochs=20), owner="alice")], settings=classroom)
    assert preflight([ok, ok], settings=classroom, active=1, admin=True) == []
    ds = open_dataset(str(tiny_demo_set.root))
    with pytest.raises(DatasetError, match="fault-filtered split needs real GTZAN track ids"):
        preflight([JobSpec(make_config("mlp", protocol="filtered"))], dataset=ds)
    monkeypatch.setattr("gtzan_core.splits.planned_split_problems", lambda *a: ["test has 1 rock track"])
    with pytest.raises(WeakSplitError, match="test has 1 rock track. Pass --force."):
        preflight([ok], dataset=ds, how_to_force="Pass --force.")
    assert preflight([ok], dataset=ds, force_weak=True) == ["MLP: test has 1 rock track"]
