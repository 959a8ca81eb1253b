"""The Train page's Search panel under AppTest: a study started there runs its trials
through the app's queue, is shown live while a trial is held at a known point, and
ends with its charts, its trial table and its best trial tested once."""

from __future__ import annotations

import threading

import pytest
import yaml
from streamlit.testing.v1 import AppTest

from gtzan_core.runs import RunStore, studies
from gtzan_core.search.study import open_study
from tests.helpers import ROOT, wait_until


@pytest.fixture(autouse=True)
def small(monkeypatch, tmp_path):
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_PER_GENRE", "4")
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_SECONDS", "6.2")
    monkeypatch.chdir(ROOT)
    hp = yaml.safe_load((ROOT / "hparams.yaml").read_text())  # the MLP's space, narrowed to short trials
    hp["search_spaces"]["mlp"]["epochs"] = {"type": "int", "low": 2, "high": 3}
    (tmp_path / "hparams.yaml").write_text(yaml.safe_dump(hp))
    monkeypatch.setenv("GTZAN_STUDIO_HPARAMS", str(tmp_path / "hparams.yaml"))


def trial_table(at):
    return next(d.value for d in at.dataframe if "state" in d.value.columns)


def texts(at) -> str:
    return "\n".join(m.value for m in at.markdown) + "\n".join(s.value for s in at.success)


@pytest.mark.heavy
def test_a_study_started_on_the_train_page_is_shown_live(monkeypatch):
    release, held = threading.Event(), threading.Event()
    real_epoch = studies.TrialSink.epoch

    def epoch(self, **fields):  # trial 0 waits after reporting its first epoch, until the test lets it go
        real_epoch(self, **fields)
        if self.study["trial"] == 0 and fields["history"][-1]["epoch"] == 1:
            held.set()
            release.wait(120)

    monkeypatch.setattr(studies.TrialSink, "epoch", epoch)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page("pages/train.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.selectbox(key="search-model").set_value("mlp")
    at.number_input(key="search-amount").set_value(3)
    at.text_input(key="search-name").set_value("page-study")
    at.button(key="search-start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    try:
        assert held.wait(120), "trial 0 never reached its first epoch"
        at.run()
        shown = texts(at)
        assert "page-study" in shown and "running" in shown and "1 running" in shown
        table = trial_table(at)
        assert table["state"].tolist() == ["running"]
        assert at.button(key="search-stop-page-study")  # a running study can be stopped
        assert at.get("plotly_chart")  # the held trial's loss curve, as for any job
    finally:
        release.set()
    store = RunStore()
    wait_until(lambda: open_study(store, None, "page-study").user_attrs.get("tested"), timeout=240,
               what="the study to end and test its best trial")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = texts(at)
    assert "3 trials ended" in shown and "done" in shown and "its one look at the test set" in shown
    specs = "\n".join(c.proto.spec for c in at.get("plotly_chart"))  # Optuna's figures, as drawn
    assert "Optimization History Plot" in specs and "Parallel Coordinate Plot" in specs
    table = trial_table(at)
    assert len(table) == 3 and set(table["state"]) <= {"complete", "pruned"}
    runs = [r for r in store.list() if (r.get("study") or {}).get("label") == "page-study"]
    assert len(runs) == 3 and all(r["job"]["extra"]["study"]["owner"] is None for r in runs)


@pytest.mark.heavy
def test_a_studys_best_trial_is_one_click_from_the_leaderboard_and_compare(tiny_features):
    from gtzan_core.jobs import JobManager
    from gtzan_core.search.study import SearchRequest, run_search

    store = RunStore()
    manager = JobManager(store, feature_loader=lambda ds, progress=None: tiny_features, slots=1)
    try:
        space = {"lr": {"type": "loguniform", "low": 1e-4, "high": 1e-2}, "epochs": {"type": "int", "low": 2,
                                                                                    "high": 3}}
        best = run_search(SearchRequest("mlp", "clicked", trials=2, space=space), store, manager,
                          feature_loader=lambda ds: tiny_features)["tested"]["run_id"]
    finally:
        manager.shutdown()
    for page, key in (("leaderboard", "board-best-clicked"), ("compare", "compare-best-clicked")):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        at.switch_page(f"pages/{page}.py")
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        at.button(key=key).click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert at.session_state["compare_ids"] == [best]
        assert at.multiselect[0].value == [best]  # Compare, with the best trial selected
