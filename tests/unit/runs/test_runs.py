import os
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from gtzan_core.errors import CheckpointError
from gtzan_core.evaluation import evaluate
from gtzan_core.leaderboard import leaderboard
from gtzan_core.runs import RunStore, lifecycle, load_checkpoint_file

from gtzan_core.runs.trash import move_to_trash


def test_round_trip_list_and_delete(tmp_path):
    store = RunStore(tmp_path)
    rid = lifecycle.create(store, {"model": "cnn", "protocol": "track"})
    assert store.read(rid)["status"] == "queued" and store.read(rid)["phase"] == "queued"
    lifecycle.start(store, rid, "training")
    lifecycle.finish(store, rid, evaluation=evaluate(np.eye(10)[[0, 1, 1, 3]], np.array([0, 1, 2, 3])))
    store.save_checkpoint(rid, {"w": torch.ones(2)}, {"model": "cnn"})
    assert store.load_checkpoint(rid)["state_dict"]["w"].tolist() == [1.0, 1.0]
    assert [r["run_id"] for r in store.list()] == [rid]
    board = leaderboard(store)
    assert board.iloc[0]["run_id"] == rid or board.iloc[0]["status"] == "reference"
    assert {"paper:cnn", rid} <= set(board.run_id)
    move_to_trash(store, rid)
    assert store.list() == [] and not (tmp_path / rid).exists()


def test_dead_process_marks_run_failed_when_reaped_never_when_read(tmp_path):
    store = RunStore(tmp_path)
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    rid = lifecycle.create(store, {"model": "mlp"})
    lifecycle.start(store, rid, "training", pid=proc.pid)
    assert store.read(rid)["status"] == "running"  # reading changes nothing
    record = lifecycle.reap(store, store.read(rid))
    assert record["status"] == "failed" and record["phase"] == "done" and "process died" in record["error"]
    assert store.read(rid)["status"] == "failed"  # persisted
    assert [r["status"] for r in lifecycle.reap_dead(store)] == ["failed"]


def test_stale_heartbeat_marks_run_failed(tmp_path):
    store = RunStore(tmp_path)
    rid = lifecycle.create(store, {"model": "mlp"})
    rec = store.read(rid).updated(status="running", host="another-host", heartbeat=time.time() - 7200)
    store.write_record(rid, rec)
    assert lifecycle.reap_dead(store)[0]["status"] == "failed"


def test_running_run_of_this_process_stays_running(tmp_path):
    store = RunStore(tmp_path)
    rid = lifecycle.create(store, {"model": "mlp"})
    lifecycle.start(store, rid)
    assert lifecycle.reap(store, store.read(rid))["status"] == "running"
    with pytest.raises(CheckpointError, match="stop it before deleting"):
        move_to_trash(store, rid)


def test_only_the_lifecycle_writes_a_runs_life(tmp_path):
    store = RunStore(tmp_path)
    rid = lifecycle.create(store, {"model": "mlp"})
    for field in ("status", "phase", "finished", "error"):
        with pytest.raises(ValueError, match="written by runs.lifecycle alone"):
            store.update(rid, **{field: "x"})
    with pytest.raises(ValueError, match="unknown phase"):
        lifecycle.set_phase(store, rid, "sleeping")
    ended = lifecycle.cancel(store, rid, "stopped while queued; never started")
    assert (ended["status"], ended["phase"], ended["error"]) == ("cancelled", "done",
                                                                 "stopped while queued; never started")
    assert ended["finished"] >= ended["created"]


@pytest.mark.parametrize("bad", ["../etc", "a/b", "", ".hidden", "x" * 200])
def test_run_ids_cannot_escape_the_store(tmp_path, bad):
    with pytest.raises(CheckpointError, match="invalid run id"):
        RunStore(tmp_path).path(bad)


class Exploit:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ.get('EXPLOIT_MARKER', '/tmp/gtzan-exploit')}",))


def test_pickled_code_in_a_checkpoint_is_never_run(tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    monkeypatch.setenv("EXPLOIT_MARKER", str(marker))
    path = tmp_path / "model.pt"
    torch.save({"format": 1, "meta": {}, "state_dict": {}, "payload": Exploit()}, path)
    with pytest.raises(CheckpointError, match=r"refused to load: it holds a pickled object \(posix.system\)"):
        load_checkpoint_file(path)
    assert not marker.exists()


def test_non_checkpoints_are_clear_errors(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(os.urandom(256))
    with pytest.raises(CheckpointError, match=r"junk.pt is not a checkpoint \(not a PyTorch file\)"):
        load_checkpoint_file(junk)
    truncated = tmp_path / "trunc.pt"
    torch.save({"format": 1, "meta": {}, "state_dict": {"w": torch.zeros(1000)}}, truncated)
    whole = truncated.read_bytes()
    truncated.write_bytes(whole[:-300])
    with pytest.raises(CheckpointError, match=r"trunc.pt is truncated or damaged \(\d+ bytes, its zip directory"):
        load_checkpoint_file(truncated)
    # a middle part lost, the zip's end kept: a zip by its look, not to torch
    (tmp_path / "holed.pt").write_bytes(whole[:len(whole) // 3] + whole[-400:])
    with pytest.raises(CheckpointError, match=r"holed.pt is truncated or damaged \(RuntimeError: "):
        load_checkpoint_file(tmp_path / "holed.pt")
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"empty.pt is truncated or damaged \(it is empty\)"):
        load_checkpoint_file(tmp_path / "empty.pt")
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(CheckpointError, match="not a GTZAN Studio checkpoint"):
        load_checkpoint_file(other)
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_checkpoint_file(tmp_path / "missing.pt")


def test_leaderboard_labels_leaky_runs_and_sorts_best_first(tmp_path):
    store = RunStore(tmp_path)
    from gtzan_core.splits import protocol_info

    for acc, protocol in ((0.5, "track"), (0.9, "paper"), (0.7, "track")):
        rid = lifecycle.create(store, {"model": "cnn", "protocol": protocol, **protocol_info(protocol, "mfcc")})
        scores = {**evaluate(np.eye(10)[[0]], np.array([0]))["segment"], "accuracy": acc, "macro_f1": acc}
        lifecycle.start(store, rid, "training")
        lifecycle.finish(store, rid, evaluation={"segment": scores, "track": scores})
    board = leaderboard(store, include_paper=False)
    assert board.track_acc.tolist() == [0.9, 0.7, 0.5]
    assert board.protocol.tolist() == ["paper · leaky 70:30 segment split, early-stopped on test", "track", "track"]
