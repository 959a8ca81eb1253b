"""Crashes and concurrency: killed workers, torn writes, two processes at once."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest
from streamlit.testing.v1 import AppTest

from gtzan_core.runs import RunStore, lifecycle
from gtzan_core.training import checkpoint_model
from tests.helpers import ROOT, wait_until


def env(**extra):
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **extra}


@pytest.mark.heavy
def test_sigkilled_training_is_failed_with_a_loadable_checkpoint(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gtzan_core", "train", "cnn", "--allow-weak-split", "--epochs", "500", "--patience", "500",
         "--device", "cpu", "--runs", str(runs)],
        cwd=ROOT, env=env(GTZAN_STUDIO_DEMO_PER_GENRE="4", GTZAN_STUDIO_DEMO_SECONDS="6.2"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    store = RunStore(runs)

    def two_epochs():
        recs = store.list()
        return recs and (recs[0].get("epochs_run") or 0) >= 2 and recs[0]

    try:
        rec = wait_until(two_epochs, what="two epochs")  # then killed inside the next one
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert store.read(rec["run_id"])["status"] == "running"  # reading a record changes nothing...
    after = lifecycle.reap(store, store.read(rec["run_id"]))  # ...reaping does
    assert after["status"] == "failed" and after["phase"] == "done" and "process died" in after["error"]
    model = checkpoint_model(store.load_checkpoint(rec["run_id"]))  # the last good checkpoint loads
    assert model is not None and store.load_checkpoint(rec["run_id"])["meta"]["epoch"] >= 1

    # a restarted app shows the right state
    monkeypatch.setenv("GTZAN_STUDIO_RUNS", str(runs))
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page("pages/train.py")
    at.run()
    assert not at.exception
    assert any("process died" in e.value for e in at.error)
    assert any("failed" in m.value for m in at.markdown)


WRITER = textwrap.dedent("""
    import sys, torch
    from gtzan_core.runs import RunStore
    store = RunStore(sys.argv[1]); rid = sys.argv[2]
    state = {"w": torch.randn(4_000_000)}  # 16 MB: writes take a while
    i = int(sys.argv[3])
    while True:
        i += 1
        state["w"][0] = i
        print(f"writing {i}", flush=True)  # the test kills it right after this line, inside the writes
        store.save_checkpoint(rid, state, {"counter": i})
        store.update(rid, counter=i, history=[{"epoch": k, "train_loss": 1.0, "val_loss": 1.0, "train_acc": 0.5,
                                           "val_acc": 0.5} for k in range(i % 50)])
""")


@pytest.mark.heavy
@pytest.mark.parametrize("kill_at", [1, 2, 3])
def test_kill_during_writes_never_leaves_a_torn_file(tmp_path, kill_at):
    """The writer is killed as soon as it says it is writing version ``kill_at + 1``: the
    files hold a whole earlier version (its ``kill_at`` complete writes, or the one being
    written if it finished), never a mix, never a torn file."""
    store = RunStore(tmp_path)
    rid = lifecycle.create(store, {"model": "cnn"})
    import torch

    store.save_checkpoint(rid, {"w": torch.zeros(4_000_000)}, {"counter": 0})
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), rid, "0"], cwd=ROOT, env=env(),
                            stdout=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:  # the writer's own word: it has written kill_at versions whole
            if line.strip() == f"writing {kill_at + 1}":
                break
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    ck = store.load_checkpoint(rid)  # never torn
    assert ck["meta"]["counter"] in (kill_at, kill_at + 1)  # it did write before the kill
    assert ck["state_dict"]["w"][0].item() == ck["meta"]["counter"]  # tensor and meta of one version
    rec = json.loads((tmp_path / rid / "record.json").read_text())  # never torn
    assert rec["run_id"] == rid and rec.get("counter", 0) >= kill_at - 1


SAME_CACHE = textwrap.dedent("""
    import sys
    from gtzan_core.data import discover_dataset
    from gtzan_core.feature_cache import load_features
    fs = load_features(discover_dataset(sys.argv[1]), cache_dir=sys.argv[2])
    print(fs.cache_hit, float(fs.samples("mfcc")[0].sum()), fs.samples("image")[0].shape[0])
""")


@pytest.mark.heavy
def test_two_processes_share_one_feature_cache_build(tmp_path):
    from tests.helpers import make_gtzan

    data = make_gtzan(tmp_path / "data", per_genre=3, seconds=6.5)
    procs = [subprocess.Popen([sys.executable, "-c", SAME_CACHE, str(data), str(tmp_path / "cache")], cwd=ROOT,
                              env=env(), stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=180)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sorted(o[0] for o in outs) == ["False", "True"]  # one built it, the other waited and read it
    assert outs[0][1:] == outs[1][1:]


UPDATER = textwrap.dedent("""
    import sys
    from gtzan_core.runs import RunStore
    store = RunStore(sys.argv[1])
    for i in range(60):
        store.update(sys.argv[2], **{f"{sys.argv[3]}{i}": i})
""")


def test_two_processes_updating_one_run_lose_nothing(tmp_path):
    store = RunStore(tmp_path)
    rid = lifecycle.create(store, {"model": "mlp"})
    procs = [subprocess.Popen([sys.executable, "-c", UPDATER, str(tmp_path), rid, prefix], cwd=ROOT, env=env())
             for prefix in ("a", "b")]
    assert all(p.wait(120) == 0 for p in procs)
    rec = store.read(rid)
    assert all(f"a{i}" in rec and f"b{i}" in rec for i in range(60))


GPU_USER = textwrap.dedent("""
    import sys, time, torch
    from gtzan_core.training import device_slot
    with device_slot(torch.device("cuda:0")):
        start = time.time(); time.sleep(0.6); end = time.time()
    print(start, end)
""")


@pytest.mark.heavy
def test_one_gpu_slot_across_processes(tmp_path, studio_home):
    """The GPU lock (file lock per CUDA device) serialises trainers in different
    processes; exercised on the CPU: the lock itself needs no GPU."""
    procs = [subprocess.Popen([sys.executable, "-c", GPU_USER], cwd=ROOT, env=env(), stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    spans = sorted(tuple(map(float, p.communicate(timeout=120)[0].split())) for p in procs)
    assert spans[0][1] <= spans[1][0]  # no overlap: the second waited for the first


def test_waiting_for_the_gpu_can_be_cancelled(studio_home):
    import threading

    import torch

    from gtzan_core.locks import file_lock
    from gtzan_core.training import device_slot

    cancel = threading.Event()
    waited = []
    with file_lock(studio_home / "locks" / "cuda-0-slot-0.lock"):  # someone else holds the GPU (its one slot)
        threading.Timer(0.3, cancel.set).start()
        with pytest.raises(InterruptedError):
            with device_slot(torch.device("cuda:0"), cancel, on_wait=lambda: waited.append(1)):
                pass
    assert waited == [1]
