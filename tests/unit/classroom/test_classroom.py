"""A class shares one instance: owners, per-owner limits, a fair queue, admin rights."""


import pytest

from gtzan_core.classroom import (
    PermissionDenied,
    QuotaExceeded,
    Settings,
    check_admin_password,
    check_modify,
    check_submit,
    fair_order,
    load_settings,
)
from gtzan_core.errors import StudioError
from gtzan_core.hparams import make_config
from gtzan_core.jobs import JobManager, train
from gtzan_core.runs import RunStore, lifecycle
from tests.helpers import ended, wait_until
from tests.helpers.classroom import visitor

CLASS = Settings(mode="classroom", max_jobs=2, max_epochs=50, admin_password="s3cret")


def test_settings_from_the_environment():
    assert load_settings({}) == Settings()
    s = load_settings({"GTZAN_STUDIO_MODE": "Classroom", "GTZAN_STUDIO_MAX_JOBS": "3",
                       "GTZAN_STUDIO_MAX_EPOCHS": "40"}, {"admin_password": "pw"})
    assert (s.classroom, s.max_jobs, s.max_epochs, s.admin_password) == (True, 3, 40, "pw")
    with pytest.raises(StudioError, match="choose personal or classroom"):
        load_settings({"GTZAN_STUDIO_MODE": "school"})
    with pytest.raises(StudioError, match="GTZAN_STUDIO_MAX_JOBS='two'"):
        load_settings({"GTZAN_STUDIO_MAX_JOBS": "two"})
    assert check_admin_password(CLASS, "s3cret") and not check_admin_password(CLASS, "guess")
    assert not check_admin_password(Settings(mode="classroom"), "")  # no password set: nobody is admin


def test_who_may_stop_or_delete_and_submit():
    run = {"run_id": "r1", "owner": "alice"}
    check_modify(CLASS, "alice", False, run, "stop")
    check_modify(CLASS, "bob", True, run, "stop")  # the admin
    check_modify(Settings(), "bob", False, run, "stop")  # personal mode: as before
    with pytest.raises(PermissionDenied, match="only your own runs .* belongs to alice"):
        check_modify(CLASS, "bob", False, run, "stop")
    with pytest.raises(PermissionDenied, match="sign in with your name"):
        check_submit(CLASS, None, False, 0, 10)
    check_submit(CLASS, "bob", False, 1, 10)
    with pytest.raises(QuotaExceeded, match="you have 2 job.* limit on this shared instance is 2"):
        check_submit(CLASS, "bob", False, 2, 10)
    with pytest.raises(QuotaExceeded, match="60 epochs asked; the limit .* is 50"):
        check_submit(CLASS, "bob", False, 0, 60)
    check_submit(CLASS, "admin", True, 9, 500)
    check_submit(Settings(), None, False, 9, 500)


def test_fair_order_is_round_robin_across_owners():
    jobs = ["a1", "a2", "a3", "b1", "c1", "b2"]  # submission order; owner = first letter
    assert fair_order(jobs, lambda j: j[0], {}) == ["a1", "b1", "c1", "a2", "b2", "a3"]
    # alice was served just now: bob and carol go first
    assert fair_order(jobs, lambda j: j[0], {"a": 10.0, "b": 5.0}) == ["c1", "b1", "a1", "b2", "a2", "a3"]


@pytest.mark.heavy
def test_queue_starts_jobs_round_robin(tiny_features):
    store = RunStore()
    held = JobManager(store, slots=0)
    ids = {}
    for owner, model in (("alice", "mlp"), ("alice", "mlp"), ("alice", "mlp"), ("bob", "mlp"), ("carol", "mlp")):
        rid = held.submit(make_config(model, epochs=1, device="cpu"), owner=owner)
        ids.setdefault(owner, []).append(rid)
    assert held.active_count("alice") == 3 and held.active_count("bob") == 1
    expected = [ids["alice"][0], ids["bob"][0], ids["carol"][0], ids["alice"][1], ids["alice"][2]]
    assert [held.queue_position(r) for r in expected] == [1, 2, 3, 4, 5]
    held.shutdown()
    runner = JobManager(store, feature_loader=lambda ds, progress=None: tiny_features, resume=True)
    try:
        assert runner.wait_idle(120)
        started = sorted(expected, key=lambda r: store.read(r)["started"])
        assert started == expected
    finally:
        runner.shutdown()


@pytest.fixture
def alices_jobs(classroom, tiny_features):
    """conftest's classroom instance, with alice's finished run and her job held running."""
    store = RunStore()
    done = train(make_config("mlp", epochs=1, device="cpu"), tiny_features, store)["run_id"]
    store.update(done, owner="alice")
    waiting = lifecycle.create(store, {"model": "cnn", "title": "CNN", "protocol": "track", "owner": "alice",
                             # (more epochs than the test lasts: it is still running when the admin stops it)
                             "config": make_config("cnn", epochs=500, patience=500).as_dict(), "history": [],
                             "job": {"data_path": None, "image_source": "auto", "extra": {}}, "queue_owner": None})
    yield store, done, waiting
    # the app's job manager took the orphaned job up: stop it, so no training thread outlives the test
    from gtzan_core.webapp import job_manager

    manager = job_manager()
    for rid in list(manager._jobs):
        manager.cancel(rid)
    assert manager.wait_idle(120)


@pytest.mark.heavy
def test_classroom_non_owner_cannot_stop_or_delete_and_the_admin_can(alices_jobs):
    store, done, waiting = alices_jobs
    at = visitor("train", "bob")
    assert not at.exception
    assert any("by **alice**" in m.value for m in at.markdown)  # bob sees alice's job...
    assert not [b for b in at.button if b.key == f"stop-{waiting}"]  # ...without a Stop button
    assert "Shared classroom instance" in " ".join(c.value for c in at.sidebar.caption)
    at.sidebar.text_input(key="admin-password").input("wrong")
    at.sidebar.button(key="admin-sign-in").click().run()
    assert any("wrong password" in e.value for e in at.sidebar.error)
    assert not [b for b in at.button if b.key == f"stop-{waiting}"]
    at.sidebar.text_input(key="admin-password").input("s3cret")
    at.sidebar.button(key="admin-sign-in").click().run()
    assert "signed in as admin" in " ".join(c.value for c in at.sidebar.caption)
    at.button(key=f"stop-{waiting}").click().run()
    assert not at.exception
    # the app's job manager took the orphaned job up: it stops after a batch
    wait_until(ended(store, waiting), 90, every=0.2, what="the stopped job to end")
    assert store.read(waiting)["status"] == "cancelled"

    lb = visitor("leaderboard", "bob")
    assert "owner" in lb.dataframe[0].value.columns and "alice" in lb.dataframe[0].value.owner.tolist()
    assert done not in lb.selectbox(key="delete-run").options  # not bob's to delete
    assert done in visitor("leaderboard", "alice").selectbox(key="delete-run").options  # alice's own
    at.switch_page("pages/leaderboard.py").run()  # bob, signed in as admin
    at.selectbox(key="delete-run").set_value(done).run()
    at.checkbox(key="delete-confirm").check().run()
    at.button(key="delete").click().run()
    assert not at.exception and not store.path(done).exists()


@pytest.mark.heavy
def test_classroom_limits_jobs_per_owner_and_hides_dataset_choice(alices_jobs, monkeypatch):
    store, _, _ = alices_jobs
    at = visitor("train", "bob")
    at.multiselect[0].set_value(["mlp", "cnn", "lstm"])
    submit = next(b for b in at.button if b.label == "Start training")
    submit.click().run()
    assert any("limit on this shared instance is 2" in e.value for e in at.error)
    assert not [r for r in store.list() if r.get("owner") == "bob"]  # nothing queued
    home = visitor("home", "bob")
    assert not home.exception and not [r for r in home.radio if r.label == "Use"]
    assert any("admin chooses" in c.value for c in home.caption)


def test_upload_limit_reaches_the_predict_uploader(alices_jobs, monkeypatch):
    monkeypatch.setenv("GTZAN_STUDIO_UPLOAD_MB", "7")
    at = visitor("predict", "bob")
    assert at.get("file_uploader")[0].proto.max_upload_size_mb == 7
