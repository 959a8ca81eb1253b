"""Issue 41, item 3: searches end and say why. Every flag is checked (trials and
parallelism at least 1, minutes positive) in one place for the CLI, the form and the API;
a study stops when its trials keep failing, naming the first failure; its space is
clipped to the instance's epochs per job (or refused naming the bound) instead of waiting
for ever; two searches of one name are refused by its lock; a trashed trial run does not
break the study's end."""

from __future__ import annotations

import threading

import pytest

from gtzan_core.cli import main
from gtzan_core.errors import ConfigError, StudioError
from gtzan_core.jobs import JobManager
from gtzan_core.runs import RunStore
from gtzan_core.runs.studies import journal_path
from gtzan_core.search.study import SearchFailed, SearchRequest, open_study, run_search
from tests.helpers import bounded, wait_until

SMALL = {"lr": {"type": "loguniform", "low": 1e-4, "high": 1e-2}, "epochs": {"type": "int", "low": 2, "high": 3}}


@pytest.fixture(autouse=True)
def small_demo_set(monkeypatch):
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_PER_GENRE", "1")
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_SECONDS", "3.1")


@pytest.mark.parametrize("flags, says", [
    (["--trials", "-5"], "trials must be a whole number of at least 1"),
    (["--trials", "0"], "trials must be a whole number of at least 1"),
    (["--parallel", "0"], "parallel must be a whole number of at least 1"),
    (["--minutes", "-1"], "minutes must be a positive number"),
    (["--minutes", "nan"], "minutes must be a positive number"),
])
def test_every_search_flag_is_checked_before_a_study_is_made(flags, says, capsys):
    assert main(["search", "mlp", "--study", "bad", *flags]) == 2
    assert says in capsys.readouterr().err
    assert not journal_path(RunStore().root, None).exists()  # no study of 0 trials stored as finished


def test_the_api_and_the_form_share_the_checks():
    for bad in ({"trials": 0}, {"trials": 2.5}, {"parallel": -1}, {"minutes": 0.0}, {"minutes": float("inf")},
                {"max_failures": 0}, {"trials": True}):
        with pytest.raises(ConfigError, match="search: "):
            SearchRequest("mlp", "s", **bad)


@pytest.mark.heavy
def test_a_search_whose_every_trial_fails_stops_naming_the_first_failure(tiny_features):
    def fails(*args, **kwargs):
        raise StudioError("the loss became NaN at epoch 1")

    store = RunStore()
    manager = JobManager(store, feature_loader=lambda ds, progress=None: tiny_features, slots=1, train_fn=fails)
    stop = threading.Event()
    try:
        out, ended = bounded(lambda: run_search(SearchRequest("mlp", "doomed", trials=1, space=SMALL), store,
                                                  manager, stop=stop, poll=0.05), 120, stop)
    finally:
        manager.shutdown()
    assert ended, "the search went on making failed trials"
    err = out.get("error")
    assert isinstance(err, SearchFailed), out
    assert "5 trials in a row failed" in str(err) and "the first: trial 0" in str(err) and "NaN at epoch 1" in str(err)
    study = open_study(store, None, "doomed")
    assert study.user_attrs["state"] == "stopped" and "trial 0" in study.user_attrs["error"]
    runs = [r for r in store.list() if (r.get("study") or {}).get("label") == "doomed"]
    assert len(runs) == 5 and {r["status"] for r in runs} == {"failed"}


@pytest.mark.heavy
def test_a_space_over_the_class_limit_is_clipped_not_waited_on_for_ever(tiny_features, monkeypatch):
    monkeypatch.setenv("GTZAN_STUDIO_MODE", "classroom")
    monkeypatch.setenv("GTZAN_STUDIO_MAX_EPOCHS", "2")
    store = RunStore()
    manager = JobManager(store, feature_loader=lambda ds, progress=None: tiny_features, slots=1)
    stop = threading.Event()
    wide = {"lr": SMALL["lr"], "epochs": {"type": "int", "low": 2, "high": 100}}
    try:
        out, ended = bounded(lambda: run_search(SearchRequest("mlp", "wide", trials=2, space=wide, owner="alice"),
                                                  store, manager, stop=stop, poll=0.05,
                                                  feature_loader=lambda ds: tiny_features), 180, stop)
        assert ended, "the study waited for ever with a space over the instance's limit"
        assert "error" not in out, out
        study = open_study(store, "alice", "wide")
        assert "clipped to 2..2" in study.user_attrs["clipped"]
        runs = [r for r in store.list() if (r.get("study") or {}).get("label") == "wide"]
        assert len(runs) == 2 and all(r["config"]["epochs"] <= 2 for r in runs)
        # a space that starts over the limit is refused, naming the bound
        over = {"lr": SMALL["lr"], "epochs": {"type": "int", "low": 40, "high": 100}}
        with pytest.raises(ConfigError, match="epochs start at 40, over this instance's limit of 2"):
            run_search(SearchRequest("mlp", "over", trials=1, space=over, owner="alice"), store, manager)
    finally:
        manager.shutdown()


def test_two_searches_of_one_name_are_serialised_by_its_lock():
    store = RunStore()
    manager = JobManager(store, slots=0)  # the first search's trial stays queued: it is still searching
    stop = threading.Event()
    first = threading.Thread(target=lambda: run_search(SearchRequest("mlp", "same", trials=1, space=SMALL), store,
                                                       manager, stop=stop, poll=0.05), daemon=True)
    first.start()
    try:
        wait_until(lambda: any((r.get("study") or {}).get("label") == "same" for r in store.list()), timeout=60,
                   what="the first search to queue its trial")
        for model in ("mlp", "hgb"):  # the same study, or another model under that name
            second = threading.Event()
            out, ended = bounded(lambda m=model, s=second: run_search(SearchRequest(m, "same", trials=1), store,
                                                                      manager, stop=s, poll=0.05), 30, second)
            assert ended and isinstance(out.get("error"), ConfigError), out
            assert "study 'same' is being searched already (another search holds its lock)" in str(out["error"])
    finally:
        stop.set()
        first.join(60)
        manager.shutdown()


@pytest.mark.heavy
def test_a_trashed_trial_run_does_not_break_the_studys_end(tiny_features):
    from gtzan_core.runs.trash import move_to_trash

    store = RunStore()
    manager = JobManager(store, feature_loader=lambda ds, progress=None: tiny_features, slots=1)
    trashed: list[str] = []

    def on_change(summary):  # the best trial's run is deleted before the study tests it
        done = [t for t in summary["trials"] if t["state"] == "complete"]
        if len(done) == 2 and not trashed:
            best = max(done, key=lambda t: t["value"])
            move_to_trash(store, best["run_id"], who="someone")
            trashed.append(best["run_id"])

    try:
        summary = run_search(SearchRequest("mlp", "gone", trials=2, space=SMALL, parallel=1), store, manager,
                             on_change=on_change, feature_loader=lambda ds: tiny_features, poll=0.05)
    finally:
        manager.shutdown()
    assert trashed and summary["state"] == "done"
    assert summary["tested"] and summary["tested"]["run_id"] != trashed[0]  # the best of the runs still here
