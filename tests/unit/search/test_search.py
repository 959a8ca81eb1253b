"""Hyperparameter search on the job queue: every trial a queued run naming its study,
pruned trials end ``pruned``, the test set read once (the best trial's, after the
study), the paper protocol refused, owners' studies apart, and a study whose server was
killed mid-trial resumes where it was."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from gtzan_core.errors import ConfigError
from gtzan_core.jobs import JobManager, JobSpec, preflight
from gtzan_core.runs import RunStore
from gtzan_core.search.space import default_space, narrow
from gtzan_core.search.study import SearchRequest, create_or_resume, open_study, run_search
from tests.helpers import ROOT, wait_until

SMALL = {"lr": {"type": "loguniform", "low": 1e-4, "high": 1e-2}, "epochs": {"type": "int", "low": 3, "high": 4}}


def study_runs(store, label):
    return sorted((r for r in store.list() if (r.get("study") or {}).get("label") == label),
                  key=lambda r: r["study"]["trial"])


@pytest.fixture(autouse=True)
def small_demo_set(monkeypatch):
    """The demo set a job opens before its features are swapped for the tiny ones: small."""
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_PER_GENRE", "1")
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_SECONDS", "3.1")


@pytest.fixture
def manager(tiny_features):
    m = JobManager(RunStore(), feature_loader=lambda ds, progress=None: tiny_features, slots=2)
    yield m
    m.shutdown()


@pytest.mark.heavy
def test_trials_run_through_the_queue_choose_on_validation_and_test_once(manager, tiny_features, monkeypatch):
    from gtzan_core.training import trainer

    reads = []
    real = trainer.test_evaluation

    def counted_test(config, features, model, device=None):
        reads.append(config)
        return real(config, features, model, device)

    monkeypatch.setattr(trainer, "test_evaluation", counted_test)
    store = manager.store
    summary = run_search(SearchRequest("mlp", "s1", trials=4, space=SMALL, parallel=2), store, manager,
                         feature_loader=lambda ds: tiny_features)
    runs = study_runs(store, "s1")
    assert summary["state"] == "done" and summary["counted"] == 4 == len(runs)
    assert [r["study"]["trial"] for r in runs] == [0, 1, 2, 3]
    assert {r["status"] for r in runs} <= {"finished", "pruned"}
    for r, t in zip(runs, summary["trials"], strict=True):  # each run is its trial, with its values
        assert r["run_id"] == t["run_id"] and r["config"]["lr"] == t["params"]["lr"]
        assert r["config"]["evaluate_test"] is False and r["job"]["extra"]["study"]["name"] == "local/s1"
    # chosen on validation: the best is the highest validation accuracy of the model each kept
    finished = [t for t in summary["trials"] if t["state"] == "complete"]
    best = max(finished, key=lambda t: t["value"])
    assert summary["tested"]["run_id"] == best["run_id"] == summary["best"]["run_id"]
    kept = store.read(best["run_id"])
    assert best["value"] == kept["history"][kept["best_epoch"] - 1]["val_acc"]
    # ... and the test set read once, for the best trial alone, after the study
    assert len(reads) == 1 and reads[0].lr == best["params"]["lr"]
    assert [r["run_id"] for r in store.list() if r.get("evaluation")] == [best["run_id"]]
    assert all(r.get("test_evaluated") is False and "val_evaluation" in r
               for r in runs if r["run_id"] != best["run_id"] and r["status"] == "finished")
    assert summary["tested"]["test_acc"] == kept["evaluation"]["track"]["accuracy"]
    # a study that has read its test set is not searched further
    with pytest.raises(ConfigError, match="read the test set"):
        run_search(SearchRequest("mlp", "s1", trials=8, space=SMALL), store, manager)


@pytest.mark.heavy
def test_a_trial_below_the_median_is_pruned_never_failed(manager, tiny_features):
    store = manager.store
    request = SearchRequest("mlp", "prune", trials=2, space={"lr": {"type": "loguniform", "low": 1e-5, "high": 1e-2},
                                                            "epochs": {"type": "int", "low": 4, "high": 4}},
                            parallel=1, pruner={"n_startup_trials": 1, "n_warmup_steps": 0})
    study = create_or_resume(store, request)
    study.enqueue_trial({"lr": 1e-2, "epochs": 4})  # learns
    study.enqueue_trial({"lr": 1e-5, "epochs": 4})  # barely moves: below the first trial's curve
    summary = run_search(request, store, manager, feature_loader=lambda ds: tiny_features)
    first, second = study_runs(store, "prune")
    assert first["status"] == "finished"
    assert second["status"] == "pruned" and second["pruned"].startswith("pruned after epoch 1")
    assert "error" not in second and second["phase"] == "done" and second["epochs_run"] == 1
    assert [t["state"] for t in summary["trials"]] == ["complete", "pruned"]
    # pruned is an end of its own on the pages and the leaderboard, never "failed"
    from gtzan_core.leaderboard import leaderboard

    board = leaderboard(store, include_paper=False)
    assert board.set_index("run_id").loc[second["run_id"], "status"] == "pruned"


def test_the_paper_protocol_is_refused_with_its_reason(manager):
    with pytest.raises(ConfigError, match="^a search cannot use the paper protocol: it early-stops"):
        run_search(SearchRequest("cnn", "p", trials=2, protocol="paper"), manager.store, manager)
    from gtzan_core.hparams import make_config

    trial = JobSpec(make_config("cnn", protocol="paper"), extra={"study": {"name": "x"}})
    with pytest.raises(ConfigError, match="paper protocol"):
        preflight([trial])
    preflight([JobSpec(make_config("cnn", protocol="paper"))])  # a plain job under it is fine
    out = subprocess.run([sys.executable, "-m", "gtzan_core", "search", "cnn", "--protocol", "paper"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "paper protocol" in out.stderr


def test_spaces_are_declared_for_every_model_and_narrowed_within_bounds():
    from gtzan_core.models import MODELS

    no_space = {"logreg", "svm"}  # (their fit chooses C on validation itself)
    for model in MODELS:
        if model in no_space:
            with pytest.raises(ConfigError, match=f"declares no search space for '{model}'"):
                default_space(model)
            continue
        space = default_space(model)
        assert {"lr", "epochs"} <= set(space)
        assert space["lr"]["type"] == "loguniform"
        if MODELS[model].fit is None:  # (a gradient-trained network: its batch size and weight decay too)
            assert {"batch_size", "weight_decay"} <= set(space)
    base = default_space("cnn")
    assert narrow(base, {"lr": {"type": "loguniform", "low": 1e-4, "high": 1e-3}})["lr"]["high"] == 1e-3
    with pytest.raises(ConfigError, match="goes beyond its bounds"):
        narrow(base, {"lr": {"type": "loguniform", "low": 1e-6, "high": 1e-3}})
    with pytest.raises(ConfigError, match="not among the allowed choices"):
        narrow(base, {"batch_size": {"type": "categorical", "choices": [7]}})
    with pytest.raises(ConfigError, match="not in this model's search space"):
        narrow(base, {"dropout": {"type": "uniform", "low": 0, "high": 0.3}})  # (the CNN's dropout is fixed)
    with pytest.raises(ConfigError, match="not a searchable setting"):
        narrow(base, {"seed": {"type": "int", "low": 0, "high": 3}})
    with pytest.raises(ConfigError, match="which CNN does not take"):
        default_space("cnn", {"search_spaces": {"cnn": {"dropout": {"type": "uniform", "low": 0, "high": 0.3}}}})
    assert {"depth", "width", "dropout"} <= set(default_space("ast"))


def test_the_transformers_space_searches_the_knobs_its_recipe_names():
    """Its warm-up, mixup and masks are searched beside its optimiser and architecture; the
    values a trial draws become the run's settings, recorded as changes to its recipe."""
    import optuna

    from gtzan_core.hparams import make_config, model_defaults
    from gtzan_core.search.space import distributions

    space = default_space("ast")
    recipe = model_defaults("ast", "studio")
    for knob in ("warmup_epochs", "mixup", "time_mask", "freq_mask", "weight_decay", "dropout", "depth", "lr"):
        assert knob in space, knob
        if knob in recipe and space[knob]["type"] != "categorical":  # the recipe's own value can be drawn
            assert space[knob]["low"] <= recipe[knob] <= space[knob]["high"], knob
    assert space["mixup"]["low"] == space["time_mask"]["low"] == space["freq_mask"]["low"] == 0  # (0: off)
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3)).ask(distributions(space))
    config = make_config("ast", "studio", **trial.params)
    for knob in ("mixup", "time_mask", "freq_mask", "warmup_epochs"):
        assert getattr(config, knob) == trial.params[knob]
    assert config.recipe_changes()["time_mask"] == trial.params["time_mask"]
    with pytest.raises(ConfigError, match="goes beyond its bounds"):
        narrow(space, {"time_mask": {"type": "int", "low": 0, "high": 500}})


def test_two_owners_studies_never_mix():
    store = RunStore()
    a = create_or_resume(store, SearchRequest("mlp", "same", owner="alice"))
    a.set_user_attr("note", "alice's")
    b = create_or_resume(store, SearchRequest("cnn", "same", owner="bob"))  # the same name: another study
    assert open_study(store, "alice", "same").user_attrs["note"] == "alice's"
    assert "note" not in open_study(store, "bob", "same").user_attrs
    assert (a.user_attrs["model"], b.user_attrs["model"]) == ("mlp", "cnn")
    with pytest.raises(ConfigError, match="no study 'same' of carol"):
        open_study(store, "carol", "same")
    with pytest.raises(ConfigError, match="searches mlp, not cnn"):
        create_or_resume(store, SearchRequest("cnn", "same", owner="alice"))


HOLD = """
import sys, threading
from pathlib import Path
from gtzan_core.feature_cache import load_features
from gtzan_core.data import discover_dataset
from gtzan_core.jobs import JobManager
from gtzan_core.runs import RunStore, studies
from gtzan_core.search.study import SearchRequest, run_search

marker, data, cache = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
real_epoch = studies.TrialSink.epoch

def epoch(self, **fields):  # trial 1 is held in its epoch 2, after reporting it, until killed
    real_epoch(self, **fields)
    if self.study["trial"] == 1 and fields["history"][-1]["epoch"] == 2:
        marker.write_text(self.run_id)
        threading.Event().wait()

studies.TrialSink.epoch = epoch
fs = load_features(discover_dataset(data), cache_dir=cache)
manager = JobManager(RunStore(), feature_loader=lambda ds, progress=None: fs, slots=1)
run_search(SearchRequest("mlp", "resume", trials=3, space=SPACE, parallel=1), RunStore(), manager)
"""


@pytest.mark.heavy
def test_a_study_resumes_after_its_server_is_killed_mid_trial(tiny_demo_set, tmp_path):
    from gtzan_core.feature_cache import load_features

    cache = tmp_path / "cache"
    fs = load_features(tiny_demo_set, cache_dir=cache)
    marker = tmp_path / "held"
    proc = subprocess.Popen([sys.executable, "-c", HOLD.replace("SPACE", repr(SMALL)), str(marker),
                             str(tiny_demo_set.root), str(cache)], cwd=ROOT, env=os.environ.copy())
    try:
        held = wait_until(lambda: marker.is_file() and marker.read_text(), timeout=300,
                          what="trial 1 to be held in its epoch 2")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    store = RunStore()
    record = store.read(held)
    assert (record["status"], record["epochs_run"], record["study"]["trial"]) == ("running", 2, 1)
    before = open_study(store, None, "resume")
    assert [t.state.name for t in before.trials] == ["COMPLETE", "RUNNING"]
    first_value = before.trials[0].value

    manager = JobManager(store, feature_loader=lambda ds, progress=None: fs, slots=1, resume=True)
    try:
        summary = run_search(SearchRequest("mlp", "resume", trials=3, space=SMALL), store, manager,
                             feature_loader=lambda ds: fs)
    finally:
        manager.shutdown()
    assert store.read(held)["status"] == "failed" and "died" in store.read(held)["error"]
    states = [t["state"] for t in summary["trials"]]
    assert states[:2] == ["complete", "fail"] and summary["counted"] == 3
    retry = [t for t in summary["trials"] if t["retry_of"] == 1]
    assert len(retry) == 1 and retry[0]["params"] == summary["trials"][1]["params"]
    assert retry[0]["state"] in ("complete", "pruned")
    assert summary["trials"][0]["value"] == first_value  # what ended before the kill is kept as it was
    assert summary["state"] == "done" and summary["tested"] is not None


@pytest.mark.heavy
def test_trials_respect_the_owners_quota_of_jobs_at_once(manager, tiny_features, monkeypatch):
    """On a classroom instance allowing one job at a time, a study asking for two trials at
    once on a two-slot queue runs them one after the other (each submitted once the owner's
    previous job has left the queue)."""
    from gtzan_core.classroom import load_settings

    monkeypatch.setenv("GTZAN_STUDIO_MODE", "classroom")
    monkeypatch.setenv("GTZAN_STUDIO_MAX_JOBS", "1")
    store, conf = manager.store, load_settings()

    def check(spec):
        preflight([spec], settings=conf, store=store, admin=False, active=manager.active_count("alice"))

    summary = run_search(SearchRequest("mlp", "quota", trials=3, space=SMALL, parallel=2, owner="alice"), store,
                         manager, check=check, feature_loader=lambda ds: tiny_features)
    runs = sorted(study_runs(store, "quota"), key=lambda r: r["created"])
    assert summary["counted"] == 3 == len(runs) and all(r["owner"] == "alice" for r in runs)
    for before, after in zip(runs, runs[1:]):
        assert after["created"] >= before["finished"]  # never two of alice's trials at once


@pytest.mark.heavy
def test_the_search_command_prints_each_trial_and_the_one_test(tiny_demo_set, tmp_path, capsys):
    import json

    from gtzan_core.cli import main

    space = tmp_path / "space.yaml"
    space.write_text("search_spaces:\n  mlp:\n    lr: {type: loguniform, low: 1.0e-4, high: 1.0e-2}\n"
                     "    epochs: {type: int, low: 2, high: 3}\n")
    args = ["search", "mlp", "--data", str(tiny_demo_set.root), "--trials", "2", "--space", str(space),
            "--study", "cli", "--device", "cpu", "--allow-weak-split"]
    assert main(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out[:2]] == ["trial 0", "trial 1"]
    assert out[-2].startswith("study cli: 2 trials") and "its one look at the test set: accuracy" in out[-1]
    assert main(["search", "mlp", "--study", "cli", "--trials", "3", "--json"]) == 2  # tested: not searched further
    assert "read the test set" in capsys.readouterr().err
    summary = open_study(RunStore(), None, "cli").user_attrs["tested"]
    assert json.loads(json.dumps(summary))["run_id"] in out[-1]
