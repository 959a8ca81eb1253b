"""`train` under torchrun: DistributedDataParallel on the CPU with gloo, 2 processes."""

import json
import os
import subprocess
import sys

import pytest

from tests.helpers import ROOT


@pytest.mark.heavy
@pytest.mark.distributed
def test_train_under_torchrun_with_two_cpu_processes(studio_home, tmp_path):
    env = {**os.environ, "GTZAN_STUDIO_DEMO_PER_GENRE": "4", "GTZAN_STUDIO_DEMO_SECONDS": "6.2",
           "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    runs = tmp_path / "runs"
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         "-m", "gtzan_core", "train", "mlp", "--epochs", "3", "--device", "cpu", "--runs", str(runs),
         "--allow-weak-split"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("test segment accuracy") == 1  # rank 0 reports, once
    records = [json.loads(p.read_text()) for p in runs.glob("*/record.json")]
    assert len(records) == 1  # only rank 0 writes to the run store
    rec = records[0]
    assert rec["world_size"] == 2
    assert rec["status"] == "finished" and rec["epochs_run"] == 3 and (runs / rec["run_id"] / "model.pt").is_file()
