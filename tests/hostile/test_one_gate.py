"""Issue 41, item 2: one gate for every job. Resuming a study used to skip every
classroom limit (trials of 364 epochs under a 30-epoch cap), a visitor who had not signed
in could resume the admin's owner-less studies, and a restarted queue took over whatever
was queued. Now every path that queues work passes the same preflight
(:func:`gtzan_core.jobs.preflight.job_gate`): jobs per visitor, epochs, storage."""

from __future__ import annotations

import threading

import pytest

from gtzan_core.errors import StudioError
from gtzan_core.hparams import make_config
from gtzan_core.jobs import JobManager, JobSpec
from gtzan_core.runs import RunStore
from gtzan_core.runs.record import RunRecord
from gtzan_core.search.study import SearchFailed, SearchRequest, create_or_resume, open_study, run_search
from tests.helpers import bounded, copy_shipped_starters, wait_until

SPACE = {"lr": {"type": "loguniform", "low": 1e-4, "high": 1e-2}, "epochs": {"type": "int", "low": 2, "high": 3}}


def stopped_study(store: RunStore, owner: str | None, name: str, space: dict) -> None:
    """A study as one stopped before a trial ran (its thread's server restarted)."""
    study = create_or_resume(store, SearchRequest("mlp", name, trials=1, space=space, owner=owner))
    study.set_user_attr("state", "stopped")
    study.set_user_attr("budget", {"trials": 1, "minutes": None})


def study_runs(store: RunStore, name: str) -> list:
    return [r for r in store.list() if (r.get("study") or {}).get("label") == name]


def a_big_run(store: RunStore, owner: str, mb: int = 2) -> None:
    """A finished run of ``owner`` taking ``mb`` MB of the run store."""
    store.path("big-run").mkdir(parents=True)
    store.write_record("big-run", RunRecord({
        "run_id": "big-run", "created": 1.0, "status": "finished", "model": "mlp", "owner": owner}))
    (store.path("big-run") / "model.pt").write_bytes(b"\0" * (mb << 20))


def signed_in(demo_app, name: str, passcode: str):
    """The Train page of a visitor who claims ``name`` with ``passcode``."""
    at = demo_app("train", timeout=120)
    at.query_params["who"] = name  # pre-fills the name; the passcode signs in
    at.run()
    at.sidebar.text_input(key="passcode-input").input(passcode)
    at.sidebar.button(key="name-sign-in").click().run()
    assert f"Signed in as **{name}**" in " ".join(c.value for c in at.sidebar.caption)
    return at


def ended_driver(name: str) -> None:
    from gtzan_core.webapp.search import driving

    wait_until(lambda: not driving("alice", name), timeout=120, what="the resumed study's driver to end")


# -- through the pages -------------------------------------------------------------------------------------------


@pytest.mark.heavy
def test_a_resume_on_the_train_page_passes_the_epochs_limit(classroom, demo_app, monkeypatch):
    monkeypatch.setenv("GTZAN_STUDIO_MAX_EPOCHS", "30")
    store = RunStore()
    stopped_study(store, "alice", "long", {"lr": SPACE["lr"], "epochs": {"type": "int", "low": 40, "high": 100}})
    at = signed_in(demo_app, "alice", "alice-secret")
    assert not at.exception, [e.value for e in at.exception]
    at.button(key="search-resume-long").click().run()
    ended_driver("long")
    at.run()
    errors = " ".join(e.value for e in at.error)
    assert "epochs start at 40, over this instance's limit of 30" in errors
    assert study_runs(store, "long") == []  # nothing queued past the limit


@pytest.mark.heavy
def test_a_resume_on_the_train_page_passes_the_jobs_per_visitor_limit(classroom, demo_app, monkeypatch):
    from gtzan_core.jobs import queue

    monkeypatch.setenv("GTZAN_STUDIO_MAX_JOBS", "1")
    release = threading.Event()
    monkeypatch.setattr(queue, "execute_job", lambda *a, **k: release.wait(120))  # alice's job stays running
    store = RunStore()
    queued_then_handed_back(store, [spec("alice")])  # the page's queue takes it over: alice has 1 job of 1
    stopped_study(store, "alice", "busy", SPACE)
    try:
        at = signed_in(demo_app, "alice", "alice-secret")
        assert not at.exception, [e.value for e in at.exception]
        at.button(key="search-resume-busy").click().run()
        assert not at.exception, [e.value for e in at.exception]
        errors = " ".join(e.value for e in at.error)
        assert "the limit on this shared instance is 1 at a time" in errors, errors
        from gtzan_core.webapp.search import driving

        assert not driving("alice", "busy")  # refused at the click: no driver started
        assert study_runs(store, "busy") == []
        assert at.button(key="search-resume-busy")  # still stopped, still resumable once a job ends
    finally:
        release.set()


@pytest.mark.heavy
def test_a_resume_on_the_train_page_passes_the_storage_limit(classroom, demo_app, monkeypatch):
    monkeypatch.setenv("GTZAN_STUDIO_MAX_STORAGE_MB", "1")
    store = RunStore()
    a_big_run(store, "alice")
    stopped_study(store, "alice", "full", SPACE)
    at = signed_in(demo_app, "alice", "alice-secret")
    at.button(key="search-resume-full").click().run()  # refused at the click, before any driver starts
    errors = " ".join(e.value for e in at.error)
    ended_driver("full")
    assert "alice uses 2 MB of the run store" in errors and "1 MB per person" in errors
    assert study_runs(store, "full") == []


@pytest.mark.heavy
def test_a_visitor_who_has_not_signed_in_neither_sees_nor_resumes_owner_less_studies(classroom, demo_app):
    store = RunStore()
    stopped_study(store, None, "admins", SPACE)  # made from the CLI or by the admin
    at = demo_app("train", timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not [b for b in at.button if b.key == "search-resume-admins"]
    assert not [s for s in at.selectbox if s.key == "search-shown"]
    assert any("Sign in with your name in the sidebar to search" in i.value for i in at.info)
    assert study_runs(store, "admins") == []


# -- through the API ---------------------------------------------------------------------------------------------


def queued_then_handed_back(store: RunStore, specs: list[JobSpec]) -> list[str]:
    """Jobs queued by a server that then shut down: in the store, waiting for the next one."""
    first = JobManager(store, slots=0)
    ids = [first.submit(spec) for spec in specs]
    first.shutdown()
    return ids


def spec(owner: str | None, epochs: int = 2) -> JobSpec:
    return JobSpec(make_config("mlp", epochs=epochs, device="cpu"), None, "auto", {}, owner)


def test_a_restarted_queue_passes_every_job_it_takes_over_through_the_gate(monkeypatch):
    store = RunStore()
    long_one, bob1, bob2, bob3, carols, admins = queued_then_handed_back(
        store, [spec("alice", 364), spec("bob"), spec("bob"), spec("bob"), spec("carol"), spec(None, 364)])
    a_big_run(store, "carol")
    monkeypatch.setenv("GTZAN_STUDIO_MODE", "classroom")
    monkeypatch.setenv("GTZAN_STUDIO_MAX_EPOCHS", "30")
    monkeypatch.setenv("GTZAN_STUDIO_MAX_JOBS", "2")
    monkeypatch.setenv("GTZAN_STUDIO_MAX_STORAGE_MB", "1")
    second = JobManager(store, slots=0, resume=True)
    try:
        assert set(second.resumed) == {bob1, bob2, admins}  # the admin's owner-less job is exempt
        for run_id, says in ((long_one, "364 epochs asked; the limit on this shared instance is 30"),
                             (bob3, "the limit on this shared instance is 2 at a time"),
                             (carols, "carol uses 2 MB of the run store")):
            record = store.read(run_id)
            assert record["status"] == "failed" and "refused on restart" in record["error"] and says in record["error"]
    finally:
        second.shutdown()


def test_a_searchs_trials_wait_for_the_visitors_jobs_at_once(monkeypatch):
    monkeypatch.setenv("GTZAN_STUDIO_MODE", "classroom")
    monkeypatch.setenv("GTZAN_STUDIO_MAX_JOBS", "1")
    store = RunStore()
    manager = JobManager(store, slots=0)  # alice's job stays queued
    manager.submit(spec("alice"))
    stop = threading.Event()
    driver = threading.Thread(target=lambda: run_search(SearchRequest("mlp", "waits", trials=1, space=SPACE,
                                                                      owner="alice"), store, manager, stop=stop,
                                                        poll=0.05), daemon=True)
    driver.start()
    try:
        def waiting() -> str:
            try:
                return open_study(store, "alice", "waits").user_attrs.get("waiting") or ""
            except StudioError:  # not made yet (or its settings not written yet)
                return ""

        wait_until(lambda: "limit on this shared instance is 1" in waiting(), timeout=60,
                   what="the study to wait for alice's job")
        assert study_runs(store, "waits") == []
    finally:
        stop.set()
        driver.join(60)
        manager.shutdown()


def test_a_searchs_trials_pass_the_storage_limit_and_the_study_says_so(monkeypatch):
    monkeypatch.setenv("GTZAN_STUDIO_MODE", "classroom")
    monkeypatch.setenv("GTZAN_STUDIO_MAX_STORAGE_MB", "1")
    store = RunStore()
    a_big_run(store, "alice")
    manager = JobManager(store, slots=0)  # a trial queued past the limit would wait there: the search bounded
    stop = threading.Event()
    try:
        out, ended = bounded(lambda: run_search(SearchRequest("mlp", "full", trials=1, space=SPACE, owner="alice"),
                                                store, manager, stop=stop, poll=0.05), 60, stop)
    finally:
        manager.shutdown()
    assert ended and isinstance(out.get("error"), SearchFailed), out
    assert "alice uses 2 MB of the run store" in str(out["error"])
    assert study_runs(store, "full") == []
    assert "2 MB" in open_study(store, "alice", "full").user_attrs["error"]


@pytest.mark.heavy
@pytest.mark.parametrize("page,key", [("leaderboard", "board-best-admins"), ("compare", "compare-best-admins")])
def test_owner_less_studies_best_trial_links_are_the_admins_alone(classroom, demo_app, page, key):
    store = RunStore()
    copy_shipped_starters(store.root)  # (both pages draw their links once there are finished runs)
    study = create_or_resume(store, SearchRequest("mlp", "admins", trials=1, space=SPACE, owner=None))
    study.set_user_attr("tested", {"run_id": store.list()[0]["run_id"], "trial": 0, "val_acc": 0.5,
                                   "test_acc": 0.4, "test_segment_acc": 0.4, "when": 1.0})
    at = demo_app(page, timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not [b for b in at.button if b.key == key]  # a visitor who has not signed in: not even to view
    at.sidebar.text_input(key="admin-password").input("s3cret")
    at.sidebar.button(key="admin-sign-in").click().run()
    assert [b for b in at.button if b.key == key]  # the admin's own


# -- the command line: the admin's, but the instance's epochs, memory budget and storage still apply ------------


@pytest.fixture
def class_shell(monkeypatch):
    """A shell on a classroom instance's server (a small demo set)."""
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_PER_GENRE", "4")
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_SECONDS", "6.2")
    monkeypatch.setenv("GTZAN_STUDIO_MODE", "classroom")


CLI_JOBS = {
    "train": ["train", "mlp", "--epochs", "{e}", "--device", "cpu", "--allow-weak-split"],
    "reproduce": ["reproduce", "--models", "mlp", "--paper-only", "--epochs", "{e}", "--device", "cpu",
                  "--allow-weak-split"],
    "search": ["search", "mlp", "--trials", "1", "--allow-weak-split", "--device", "cpu"],
}


@pytest.mark.parametrize("command", list(CLI_JOBS))
def test_every_command_line_entry_point_passes_the_instances_epochs_limit(class_shell, monkeypatch, capsys,
                                                                         command):
    from tests.helpers import run

    monkeypatch.setenv("GTZAN_STUDIO_MAX_EPOCHS", "2")
    code, out, err = run(capsys, *[a.format(e=3) for a in CLI_JOBS[command]])  # (search: its space's epochs)
    assert code == 2 and "epochs asked; the limit on this shared instance is 2 per job" in err, (code, out, err)
    assert [r for r in RunStore().list() if r.get("status") in ("finished", "queued", "running")] == []


@pytest.mark.parametrize("command", list(CLI_JOBS))
def test_every_command_line_entry_point_passes_the_storage_share_of_its_runs(class_shell, monkeypatch, capsys,
                                                                            command):
    from tests.helpers import run

    monkeypatch.setenv("GTZAN_STUDIO_MAX_STORAGE_MB", "1")
    store = RunStore()
    store.path("big-run").mkdir(parents=True)  # an owner-less run (the command line's) of 2 MB
    store.write_record("big-run", RunRecord({"run_id": "big-run", "created": 1.0, "status": "finished",
                                             "model": "mlp"}))
    (store.path("big-run") / "model.pt").write_bytes(b"\0" * (2 << 20))
    code, out, err = run(capsys, *[a.format(e=1) for a in CLI_JOBS[command]])
    assert code == 2 and "uses 2 MB of the run store" in err and "1 MB per person" in err, (code, out, err)
    assert [r["run_id"] for r in RunStore().list()] == ["big-run"]


def test_the_command_lines_jobs_are_exempt_from_the_per_visitor_limits_alone(class_shell, monkeypatch):
    from gtzan_core.jobs.preflight import command_line_gate
    from gtzan_core.training.memory import MemoryBudgetError

    monkeypatch.setenv("GTZAN_STUDIO_MAX_JOBS", "1")
    command_line_gate([spec(None), spec(None), spec(None)], RunStore())  # three at once, no owner: the admin's
    monkeypatch.setenv("GTZAN_STUDIO_MAX_JOB_MB", "1000")
    with pytest.raises(MemoryBudgetError, match="over the memory budget"):
        command_line_gate([spec(None)], RunStore())
