"""The app's job manager: a queue with one training slot, stop, failures, visibility."""


import pytest

from gtzan_core.hparams import make_config
from gtzan_core.jobs import JobManager
from gtzan_core.models import MODELS
from gtzan_core.runs import RunStore
from gtzan_core.webapp.formatting import job_progress
from tests.helpers import ROOT, wait_until
from gtzan_core.leaderboard import leaderboard


@pytest.fixture
def manager(tiny_features, monkeypatch):
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_PER_GENRE", "1")
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_SECONDS", "3.1")
    m = JobManager(RunStore(), feature_loader=lambda ds, progress=None: tiny_features)
    yield m
    m.shutdown()


def statuses(store, ids):
    return [store.read(i)["status"] for i in ids]


@pytest.mark.heavy
def test_jobs_queue_and_run_one_at_a_time(manager):
    ids = [manager.submit(make_config("mlp", epochs=15, patience=50, device="cpu")) for _ in range(3)]
    seen_queued_while_running = []

    def one_at_a_time_until_all_finished():
        st = statuses(manager.store, ids)
        assert st.count("running") <= 1
        if "running" in st and "queued" in st:
            seen_queued_while_running.append(True)
            waiting = [i for i, s in zip(ids, st) if s == "queued"]
            positions = [manager.queue_position(i) for i in waiting]
            if positions[0] is None:  # picked up by the worker since the records were read
                positions = positions[1:]
            assert positions == list(range(1, len(positions) + 1))
        return all(s == "finished" for s in st)

    wait_until(one_at_a_time_until_all_finished, 120, every=0.02, what="three jobs to finish one at a time")
    assert seen_queued_while_running
    assert statuses(manager.store, ids) == ["finished"] * 3
    assert manager.wait_idle(5)


def test_cancelled_queued_job_never_starts(manager):
    first = manager.submit(make_config("gru", epochs=30, patience=50, device="cpu"))
    second = manager.submit(make_config("mlp", epochs=2, device="cpu"))
    manager.cancel(second)
    assert manager.store.read(second)["status"] == "cancelled"
    manager.cancel(first)
    assert manager.wait_idle(60)
    rec = manager.store.read(second)
    assert rec["status"] == "cancelled" and "never started" in rec["error"] and not rec.get("history")
    assert manager.store.read(first)["status"] == "cancelled"


def test_stopping_a_running_job_keeps_its_best_checkpoint(manager):
    rid = manager.submit(make_config("cnn", epochs=500, patience=500, device="cpu"))
    wait_until(lambda: len(manager.store.read(rid).get("history") or []) >= 2, 60, what="two epochs")
    manager.cancel(rid)
    assert manager.wait_idle(60)
    rec = manager.store.read(rid)
    assert rec["status"] == "cancelled" and rec["epochs_run"] >= 2 and rec["evaluation"]
    assert manager.store.checkpoint_path(rid).is_file()
    prog = job_progress(rec)
    assert prog["epoch"] == rec["epochs_run"] and prog["total"] == 500


def test_a_failing_job_shows_its_error(manager):
    rid = manager.submit(make_config("mlp", protocol="filtered", epochs=2, device="cpu"))
    assert manager.wait_idle(60)
    rec = manager.store.read(rid)
    assert rec["status"] == "failed" and "fault-filtered" in rec["error"]
    # the worker survives a failed job
    ok = manager.submit(make_config("mlp", epochs=1, device="cpu"))
    assert manager.wait_idle(60) and manager.store.read(ok)["status"] == "finished"


def test_jobs_are_visible_to_every_reader(manager):
    rid = manager.submit(make_config("mlp", epochs=1, device="cpu"))
    other_reader = RunStore(manager.store.root)  # e.g. another user's session
    assert rid in [r["run_id"] for r in other_reader.list()]
    manager.wait_idle(60)


@pytest.mark.slow
def test_every_model_trains_through_the_manager_onto_the_leaderboard(tiny_demo_set, musicnn_weights):
    """Every registered model, each on its own input kind (MFCCs, pictures, musicnn's
    patches, feature vectors) extracted by the queue itself from one small demo folder."""
    manager = JobManager(RunStore())
    try:
        ids = [manager.submit(make_config(name, epochs=2, device="cpu"), data_path=str(tiny_demo_set.root))
               for name in MODELS]
        assert manager.wait_idle(1800)
        failed = {r["model"]: r.get("error") for r in map(manager.store.read, ids) if r["status"] != "finished"}
        assert failed == {}
        board = leaderboard(manager.store, include_paper=False)
        assert set(board.model) == set(MODELS) and board.track_acc.notna().all()
    finally:
        manager.shutdown()



def _queue_three(store, slots=0):
    """Three jobs queued by a manager that starts none of them (no worker slot)."""
    m = JobManager(store, slots=slots)
    ids = [m.submit(make_config(model, epochs=1, device="cpu")) for model in ("mlp", "gru", "cnn")]
    return m, ids


@pytest.mark.heavy
def test_queue_survives_a_shutdown_and_resumes_in_order(tiny_features):
    store = RunStore()
    old, ids = _queue_three(store)
    assert statuses(store, ids) == ["queued"] * 3
    old.shutdown()  # a redeploy: the server goes away with three jobs waiting
    assert statuses(store, ids) == ["queued"] * 3  # not failed
    new = JobManager(store, feature_loader=lambda ds, progress=None: tiny_features, resume=True)
    try:
        assert new.resumed == ids
        assert new.wait_idle(120)
        records = [store.read(i) for i in ids]
        assert [r["status"] for r in records] == ["finished"] * 3
        starts = [r["started"] for r in records]
        assert starts == sorted(starts)  # in the order they were submitted
        assert all(r["queue_owner"]["manager"] == new.owner["manager"] for r in records)
        assert JobManager(store, slots=0, resume=True).resumed == []  # nothing left to take
    finally:
        new.shutdown()


@pytest.mark.heavy
def test_jobs_queued_by_a_killed_server_are_resumed_and_a_live_servers_are_not(tiny_features, tmp_path):
    import os
    import subprocess
    import sys

    store = RunStore()
    code = ("import os, json; from gtzan_core.jobs import JobManager; from gtzan_core.hparams import make_config\n"
            "m = JobManager(slots=0)\n"
            "ids = [m.submit(make_config(x, epochs=1, device='cpu')) for x in ('lstm', 'mlp')]\n"
            "print(json.dumps(ids), flush=True); os._exit(9)  # killed: no shutdown")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "GTZAN_STUDIO_RUNS": str(store.root)},
                         capture_output=True, text=True, timeout=120, cwd=str(ROOT))
    import json

    dead_ids = json.loads(out.stdout.strip().splitlines()[-1])
    assert statuses(store, dead_ids) == ["queued", "queued"]
    alive, live_ids = _queue_three(store)  # a live server in this process holds these
    new = JobManager(store, feature_loader=lambda ds, progress=None: tiny_features, resume=True)
    try:
        assert new.resumed == dead_ids
        assert new.wait_idle(120)
        assert statuses(store, dead_ids) == ["finished", "finished"]
        assert statuses(store, live_ids) == ["queued"] * 3
        with pytest.raises(Exception, match="not managed by this server"):
            new.cancel(live_ids[0])
    finally:
        new.shutdown()
        alive.shutdown()


def test_an_orphaned_queued_job_can_be_stopped(tmp_path):
    store = RunStore()
    old, ids = _queue_three(store)
    old.shutdown()
    JobManager(store, slots=0).cancel(ids[1])
    assert statuses(store, ids) == ["queued", "cancelled", "queued"]


def test_training_threads_can_run_at_a_lower_priority(monkeypatch):
    import os
    import threading

    from gtzan_core.jobs import lower_priority

    seen = {}

    def worker():
        tid = threading.get_native_id()
        before = os.getpriority(os.PRIO_PROCESS, tid)
        lower_priority()
        seen["delta"] = os.getpriority(os.PRIO_PROCESS, tid) - before

    for nice, expected in (("0", 0), ("5", 5)):
        monkeypatch.setenv("GTZAN_STUDIO_TRAIN_NICE", nice)
        t = threading.Thread(target=worker)
        t.start()
        t.join()
        assert seen["delta"] == expected  # the worker thread only (the test's own thread is untouched)
