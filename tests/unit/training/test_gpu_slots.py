"""K jobs per GPU, every GPU: the allocator, the cross-process slots, and the job
manager spreading jobs over a (faked) device list. No GPU needed: devices are names
here, and the training function is a stand-in that holds each job at a known point."""

import threading

import pytest

from gtzan_core.hparams import make_config
from gtzan_core.jobs import JobManager
from gtzan_core.runs import RunStore, lifecycle
from gtzan_core.training import Outcome
from gtzan_core.training.gpu_slots import DeviceAllocator, gpu_slot, jobs_per_gpu


def test_allocator_spreads_over_devices_and_never_gives_more_than_k_each():
    alloc = DeviceAllocator(["cuda:0", "cuda:1"], per_device=2)
    got = [alloc.acquire() for _ in range(4)]
    assert got[:2] == [("cuda:0", 0), ("cuda:1", 0)]  # the least-busy device first
    assert sorted(got) == [("cuda:0", 0), ("cuda:0", 1), ("cuda:1", 0), ("cuda:1", 1)]  # all distinct
    assert alloc.acquire() is None and alloc.in_use() == {"cuda:0": 2, "cuda:1": 2}
    alloc.release("cuda:1", 0)
    assert alloc.acquire() == ("cuda:1", 0)
    with pytest.raises(ValueError):
        DeviceAllocator(["cuda:0"], per_device=0)


def test_jobs_per_gpu_setting(monkeypatch):
    assert jobs_per_gpu({}) == 1
    assert jobs_per_gpu({"GTZAN_STUDIO_JOBS_PER_GPU": "4"}) == 4
    from gtzan_core.errors import StudioError

    with pytest.raises(StudioError, match="GTZAN_STUDIO_JOBS_PER_GPU"):
        jobs_per_gpu({"GTZAN_STUDIO_JOBS_PER_GPU": "0"})


def test_cross_process_slots_admit_k_holders_then_make_the_next_wait(studio_home):
    """File locks (the same kind another process would take): K holders at once, the
    K+1-th waits until one leaves."""
    waiting, got = threading.Event(), []

    def third():
        with gpu_slot(0, per_device=2, on_wait=waiting.set, poll=0.01) as slot:
            got.append(slot)

    with gpu_slot(0, per_device=2) as a:
        with gpu_slot(0, per_device=2) as b:
            assert {a, b} == {0, 1}
            t = threading.Thread(target=third)
            t.start()
            assert waiting.wait(30)  # all slots taken: it waits
            assert got == []
        t.join(30)  # b left: the third takes its slot
    assert got == [b]
    stop = threading.Event()
    with gpu_slot(3, per_device=1):
        stop.set()
        with pytest.raises(InterruptedError):
            with gpu_slot(3, per_device=1, should_stop=stop.is_set, poll=0.01):
                pass


class HeldTraining:
    """A stand-in for the trainer on its device (``fit_on_device``): records the device each job got, then waits until the
    test lets it finish, so the test sees which jobs run at the same time."""

    def __init__(self):
        self.lock = threading.Lock()
        self.started: list[tuple[str, str]] = []
        self.two_running = threading.Event()
        self.release = threading.Event()

    def __call__(self, config, features, store, run_id, cancel=None, **kw):
        with self.lock:
            self.started.append((run_id, config.device))
            if len(self.started) == 2:
                self.two_running.set()
        lifecycle.set_phase(store, run_id, "training", device=config.device)
        assert self.release.wait(60)
        return Outcome("finished")


@pytest.fixture
def tiny_env(monkeypatch):
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_PER_GENRE", "1")
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_SECONDS", "3.1")


def test_two_jobs_on_a_two_gpu_machine_start_at_once_on_different_devices(tiny_env, tiny_features):
    fake = HeldTraining()
    m = JobManager(RunStore(), feature_loader=lambda ds, progress=None: tiny_features,
                   devices=["cuda:0", "cuda:1"], jobs_per_gpu=1, train_fn=fake)
    try:
        ids = [m.submit(make_config("mlp", epochs=1, device="auto")) for _ in range(3)]
        assert fake.two_running.wait(60)  # both running together...
        devices = dict(fake.started)
        assert sorted(devices.values()) == ["cuda:0", "cuda:1"]  # ...on different GPUs
        assert m.devices_in_use() == {"cuda:0": 1, "cuda:1": 1}
        assert m.store.read(ids[2])["status"] == "queued"  # the third waits: K=1 per GPU, both full
        fake.release.set()
        assert m.wait_idle(60)
        assert [m.store.read(i)["status"] for i in ids] == ["finished"] * 3
        assert m.devices_in_use() == {"cuda:0": 0, "cuda:1": 0}
    finally:
        fake.release.set()
        m.shutdown()


def test_k_jobs_share_one_gpu_and_the_fair_order_holds(tiny_env, tiny_features):
    fake = HeldTraining()
    m = JobManager(RunStore(), slots=0, feature_loader=lambda ds, progress=None: tiny_features,
                   devices=["cuda:0"], jobs_per_gpu=2, train_fn=fake)
    ids = [m.submit(make_config("mlp", epochs=1, device="auto"), owner=o) for o in ("alice", "alice", "bob")]
    order = [m.queue_position(i) for i in ids]
    assert order == [1, 3, 2]  # round-robin across owners, as with one slot
    m.shutdown()
    runner = JobManager(m.store, resume=True, feature_loader=lambda ds, progress=None: tiny_features,
                        devices=["cuda:0"], jobs_per_gpu=2, train_fn=fake)
    try:
        assert fake.two_running.wait(60)
        assert {rid for rid, _ in fake.started} == {ids[0], ids[2]}  # alice's first and bob's, not alice's second
        assert runner.store.read(ids[1])["status"] == "queued"
        assert {d for _, d in fake.started} == {"cuda:0"} and runner.devices_in_use() == {"cuda:0": 2}
        fake.release.set()
        assert runner.wait_idle(60)
    finally:
        fake.release.set()
        runner.shutdown()


def test_a_cpu_only_machine_keeps_one_job_at_a_time(tiny_env, tiny_features):
    m = JobManager(RunStore(), devices=[], feature_loader=lambda ds, progress=None: tiny_features)
    try:
        assert len(m._workers) == 1 and m.devices_in_use() == {}
    finally:
        m.shutdown()
