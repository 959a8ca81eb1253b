"""The Ray executor on a real local Ray cluster (``ray start --head`` on loopback, 2 CPUs).

Marked ``ray``: run with ``pytest -m ray`` (``.ci/run`` does, after installing
``requirements-cluster.txt``). The jobs run in Ray worker processes and write the
run store themselves; the tests wait for states in the store (an epoch logged, a
record ended), never for a length of time. Jobs that must still be running when
the test acts are given a million epochs: they cannot end on their own first."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from gtzan_core.hparams import make_config
from gtzan_core.jobs import JobManager
from gtzan_core.knobs import bounds
from gtzan_core.runs import RunStore, load_checkpoint_file
from tests.helpers import ROOT, free_port, wait_until

BOUNDS = bounds()

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -r requirements-cluster.txt)")
pytestmark = pytest.mark.ray
#: epochs (and patience) of a job that must still be running when the test acts: the most the
#: declared bounds allow (a job of more is refused before it is queued)
FOREVER = int(BOUNDS["epochs"].high)


@pytest.fixture(scope="module")
def ray_cluster():
    """A one-node Ray cluster with 2 CPUs, started as a class's server would start its head;
    yields its address, with this process connected to it as the app would be."""
    port = free_port()
    temp = tempfile.mkdtemp(prefix="gtzan-ray-", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    # Loopback only, so no token authentication: explicit, because Ray turns it on for a cluster
    # started where a token file exists (~/.ray/auth_token, written by any earlier local ray.init)
    # and this process would then need the token too. A real cluster keeps it on (deploy/README.md).
    saved_auth = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    ray_bin = Path(sys.executable).with_name("ray")
    log_path = Path(temp) / "head.log"  # a file, never an unread pipe (a full pipe would block the head)
    with open(log_path, "wb") as log:
        head = subprocess.Popen([str(ray_bin), "start", "--head", "--block", "--node-ip-address=127.0.0.1",
                                 f"--port={port}", "--num-cpus=2", "--num-gpus=0", "--include-dashboard=false",
                                 "--disable-usage-stats", f"--temp-dir={temp}"],
                                env=env, stdout=log, stderr=subprocess.STDOUT)
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                ray.init(address=address, namespace="gtzan-studio", log_to_driver=False, configure_logging=False)
                break
            except ConnectionError:
                if head.poll() is not None or time.time() > deadline:
                    pytest.fail("ray start --head did not come up: " + log_path.read_text(errors="replace")[-2000:])
                time.sleep(0.5)
        yield address
    finally:
        ray.shutdown()
        if saved_auth is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = saved_auth
        head.send_signal(signal.SIGTERM)
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            head.kill()


@pytest.fixture
def executor(ray_cluster):
    from gtzan_core.cluster import RayExecutor

    return RayExecutor(ray_cluster)


def wait_for(predicate, timeout: float = 240.0, what: str = "a state"):
    """Poll the store until ``predicate()`` holds (a state to reach, not a time to wait)."""
    return wait_until(predicate, timeout, every=0.2, what=what)


def mlp(epochs: int = 3, **kw):
    return make_config("mlp", epochs=epochs, device="cpu", **kw)


def test_three_jobs_finish_on_ray_workers_with_histories_and_loadable_checkpoints(executor, tiny_demo_set,
                                                                                  studio_home):
    store = RunStore()
    manager = JobManager(store, executor=executor)
    assert executor.capacity() == 2  # 2 CPUs, 1 CPU a job
    ids = [manager.submit(mlp(3, seed=s), str(tiny_demo_set.root), owner="alice") for s in range(3)]
    assert manager.wait_idle(timeout=300)
    for run_id in ids:
        r = store.read(run_id)
        assert r["status"] == "finished", r.get("error")
        assert len(r["history"]) == 3 and r["evaluation"]["segment"]["accuracy"] >= 0
        ex = r["executor"]
        assert ex["kind"] == "ray" and ex["pid"] != os.getpid() and ex["resources"] == {"num_cpus": 1.0}
        assert ex["dispatched"] <= ex["started"] <= ex["ended"] <= ex["collected"]
        ckpt = load_checkpoint_file(store.path(run_id) / "model.pt")
        assert ckpt["state_dict"]
    manager.shutdown()


def test_stop_cancels_a_running_ray_job_and_keeps_its_checkpoint(executor, tiny_demo_set, studio_home):
    store = RunStore()
    manager = JobManager(store, executor=executor)
    run_id = manager.submit(mlp(FOREVER, patience=FOREVER), str(tiny_demo_set.root), owner="alice")
    wait_for(lambda: len(store.read(run_id).get("history") or []) >= 2, what="two epochs on the worker")
    manager.cancel(run_id, who="alice")
    assert manager.wait_idle(timeout=120)
    r = store.read(run_id)
    assert r["status"] == "cancelled" and r["best_epoch"] >= 1 and len(r["history"]) >= 2
    assert load_checkpoint_file(store.path(run_id) / "model.pt")["state_dict"]
    manager.shutdown()


def test_a_killed_worker_fails_its_job_clearly_and_the_others_finish(executor, tiny_demo_set, studio_home):
    store = RunStore()
    manager = JobManager(store, executor=executor)
    doomed = manager.submit(mlp(FOREVER, patience=FOREVER), str(tiny_demo_set.root), owner="alice")
    others = [manager.submit(mlp(2, seed=s), str(tiny_demo_set.root), owner="bob") for s in range(2)]
    pid = wait_for(lambda: store.read(doomed).get("history") and store.read(doomed)["executor"].get("pid"),
                   what="the long job's first epoch")
    os.kill(int(pid), signal.SIGKILL)
    assert manager.wait_idle(timeout=300)
    r = store.read(doomed)
    assert r["status"] == "failed"
    assert f"the Ray worker running this job died (pid {pid}" in r["error"] and "not retried" in r["error"]
    assert load_checkpoint_file(store.path(doomed) / "model.pt")["state_dict"]  # its best checkpoint is kept
    for run_id in others:
        assert store.read(run_id)["status"] == "finished"
    manager.shutdown()


def test_fair_order_of_two_owners_holds_on_ray(ray_cluster, tiny_demo_set, studio_home):
    from gtzan_core.cluster import RayExecutor

    store = RunStore()
    held = JobManager(store, slots=0)  # queue everything first, then hand it over at once
    names = ["a1", "a2", "a3", "b1", "b2"]
    ids = {held.submit(mlp(1), str(tiny_demo_set.root), owner="alice" if n[0] == "a" else "bob",
                       extra={"label": n}): n for n in names}
    held.shutdown()
    runner = JobManager(store, executor=RayExecutor(ray_cluster, max_jobs=1), resume=True)
    assert sorted(runner.resumed) == sorted(ids)
    assert runner.wait_idle(timeout=300)
    records = sorted((store.read(i) for i in ids), key=lambda r: r["executor"]["dispatched"])
    assert [ids[r["run_id"]] for r in records] == ["a1", "b1", "a2", "b2", "a3"]
    assert all(r["status"] == "finished" for r in records)
    runner.shutdown()


def test_train_page_runs_stops_and_charts_jobs_on_the_ray_executor(ray_cluster, studio_home, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("GTZAN_STUDIO_RAY_ADDRESS", ray_cluster)
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_PER_GENRE", "4")
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_SECONDS", "6.2")
    at = AppTest.from_file(str(ROOT / "pages" / "train.py"), default_timeout=120).run()
    assert not at.exception and not at.error
    assert any("Ray cluster" in c.value for c in at.caption)
    at.multiselect[0].set_value(["mlp"]).run()  # the form now holds MLP's hyperparameters
    at.number_input(key="ep-mlp-paper").set_value(2)
    at.checkbox[0].check()  # the tiny demo set's split is weak: run anyway
    at.button[0].click().run()
    assert not at.exception
    store = RunStore()
    first = store.list()[0]["run_id"]
    wait_for(lambda: store.read(first)["status"] == "finished", what="the page's job to finish")
    at.number_input(key="ep-mlp-paper").set_value(FOREVER)
    at.number_input(key="pa-mlp-paper").set_value(FOREVER)
    at.button[0].click().run()
    second = store.list()[0]["run_id"]
    assert second != first
    wait_for(lambda: store.read(second).get("history"), what="the long job's first epoch")
    at.run()  # its card is live now, with its chart and a Stop button
    assert not at.exception
    assert store.read(second)["executor"]["kind"] == "ray"
    assert at.get("plotly_chart")
    stop = [b for b in at.button if b.label == "Stop"]
    assert len(stop) == 1
    stop[0].click().run()
    wait_for(lambda: store.read(second)["status"] == "cancelled", what="the stopped job to end")
    at.run()
    assert not at.exception
    page_text = " ".join(m.value for m in at.markdown)
    assert f"`{first}` — ✅ finished" in page_text and f"`{second}` — ⏹️ stopped by hand" in page_text


def test_a_gpu_cluster_gives_each_job_a_kth_of_a_gpu_and_room_for_gpus_times_k(executor, monkeypatch):
    """The GPU arithmetic, on a cluster described by a fake resource list (no GPU here)."""
    from gtzan_core.cluster import RayExecutor

    gpu = RayExecutor(executor.address, jobs_per_gpu=3)
    monkeypatch.setattr(gpu, "resources", lambda: {"CPU": 32.0, "GPU": 2.0})
    assert gpu.capacity() == 6
    assert gpu.task_options("auto") == {"num_gpus": 1 / 3, "num_cpus": 1}
    assert gpu.task_options("cpu") == {"num_cpus": 1.0}  # a job pinned to the CPU asks for CPUs only
    capped = RayExecutor(executor.address, jobs_per_gpu=3, max_jobs=4)
    monkeypatch.setattr(capped, "resources", lambda: {"CPU": 32.0, "GPU": 2.0})
    assert capped.capacity() == 4
    cpu = RayExecutor(executor.address, cpus_per_job=4)
    monkeypatch.setattr(cpu, "resources", lambda: {"CPU": 10.0})
    assert cpu.capacity() == 2 and cpu.task_options("auto") == {"num_cpus": 4}


def test_the_task_environment_carries_the_studio_settings_but_no_secret(executor, studio_home, monkeypatch):
    monkeypatch.setenv("GTZAN_STUDIO_ADMIN_PASSWORD", "s3cret")
    monkeypatch.setenv("GTZAN_STUDIO_MAX_JOBS", "3")
    env = executor.runtime_env()["env_vars"]
    assert env["GTZAN_STUDIO_MAX_JOBS"] == "3" and env["GTZAN_STUDIO_HOME"] == str(studio_home)
    assert env["GTZAN_STUDIO_GPU_SLOTS"] == "ray" and str(ROOT) in env["PYTHONPATH"].split(os.pathsep)
    assert "GTZAN_STUDIO_ADMIN_PASSWORD" not in env and "s3cret" not in env.values()


def test_a_search_prunes_a_trial_from_inside_its_ray_worker(executor, tiny_demo_set, studio_home):
    """A study's trials on Ray workers: each worker opens the study's journal in the shared run
    store, reports its epochs there, and the one below the first trial's curve is pruned by
    its own process; the best is tested once, by the driver."""
    from gtzan_core.search.study import SearchRequest, create_or_resume, run_search

    store = RunStore()
    manager = JobManager(store, executor=executor)
    try:
        request = SearchRequest("mlp", "on-ray", str(tiny_demo_set.root), trials=2, parallel=1, device="cpu",
                                space={"lr": {"type": "loguniform", "low": 1e-5, "high": 1e-2},
                                       "epochs": {"type": "int", "low": 4, "high": 4}},
                                pruner={"n_startup_trials": 1, "n_warmup_steps": 0})
        study = create_or_resume(store, request)
        study.enqueue_trial({"lr": 1e-2, "epochs": 4})
        study.enqueue_trial({"lr": 1e-5, "epochs": 4})
        summary = run_search(request, store, manager)
    finally:
        manager.shutdown()
    first, second = (store.read(t["run_id"]) for t in summary["trials"])
    assert (first["status"], second["status"]) == ("finished", "pruned")
    assert second["executor"]["kind"] == "ray" and second["executor"]["pid"] != os.getpid()
    assert summary["tested"]["run_id"] == first["run_id"] and "evaluation" not in second
