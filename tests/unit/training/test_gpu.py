"""Every GPU path on a real CUDA device: ``python -m pytest -m gpu``.

Skipped cleanly without CUDA, and left out of the default suite (``-m 'not slow and
not gpu'`` in pyproject.toml). Each test states the tolerance it allows: bf16
autocast (8 mantissa bits) for trained models, float32 for feature extraction.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from gtzan_core.feature_cache import load_features
from gtzan_core.models import image_params_for
from gtzan_core.hparams import make_config
from gtzan_core.models import MODELS
from gtzan_core.runs import RunStore
from tests.helpers import ROOT, wait_until

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")]


@pytest.fixture(scope="module")
def gpu_demo(tmp_path_factory):
    """A small synthetic set (6 tracks x 10 genres, 30 s) for the GPU runs."""
    from gtzan_core.data import discover_dataset
    from gtzan_core.data.synth import generate_demo

    return discover_dataset(generate_demo(tmp_path_factory.mktemp("gpu") / "demo", per_genre=6, seed=2))


@pytest.mark.parametrize("model", list(MODELS))
def test_two_epochs_on_cuda_then_same_prediction_on_cpu(model, gpu_demo, tmp_path):
    from gtzan_core.inference import clear_model_cache, predict
    from gtzan_core.jobs import train

    fs = load_features(gpu_demo, image=image_params_for(model), cache_dir=tmp_path / "features")
    store = RunStore(tmp_path / "runs")
    # studio recipe (lr 1e-3 everywhere but VGG19) so two epochs visibly lower the training loss
    record = train(make_config(model, recipe="studio", epochs=2, patience=5, device="cuda", protocol="track"),
                   fs, store)
    assert record["status"] == "finished" and record["device"].startswith("cuda")
    losses = [h["train_loss"] for h in record["history"]]
    assert all(np.isfinite(losses)) and all(np.isfinite([h["val_loss"] for h in record["history"]]))
    assert losses[1] < losses[0], losses
    assert record["mixed_precision"] == (None if model in ("lstm", "gru") else "bf16")
    clip = gpu_demo.tracks.audio_path[0]
    clear_model_cache()
    on_gpu = predict(clip, [record["run_id"]], store, device="cuda").results[record["run_id"]].probs
    clear_model_cache()
    on_cpu = predict(clip, [record["run_id"]], store, device="cpu").results[record["run_id"]].probs
    np.testing.assert_allclose(on_gpu, on_cpu, atol=2e-2)  # inference runs in fp32 on both


def test_gpu_features_equal_cpu_features():
    from gtzan_core.data.synth import synth_track
    from gtzan_core.features import MFCCParams, mfcc_segments, render_spectrogram_image

    y = synth_track("jazz", 30.0, seed=3, index=1)
    cpu = mfcc_segments(y, 22050, MFCCParams(), device="cpu")
    gpu = mfcc_segments(y, 22050, MFCCParams(), device="cuda")
    np.testing.assert_allclose(gpu, cpu, atol=5e-3, rtol=1e-4)  # the CPU tests' tolerance vs librosa
    img = render_spectrogram_image(y)
    assert img.shape == (288, 432, 3)


def test_gpu_feature_cache_matches_cpu(gpu_demo, tmp_path):
    cpu = load_features(gpu_demo, cache_dir=tmp_path / "cpu", device="cpu")
    gpu = load_features(gpu_demo, cache_dir=tmp_path / "gpu", device="cuda")
    np.testing.assert_allclose(gpu.samples("mfcc")[0], cpu.samples("mfcc")[0], atol=5e-3, rtol=1e-4)
    assert np.abs(gpu.samples("image")[0].astype(int) - cpu.samples("image")[0].astype(int)).max() <= 2  # 8-bit colour steps


@pytest.mark.parametrize("nproc", [1, 2])
def test_torchrun_with_nccl(nproc, tmp_path):
    if torch.cuda.device_count() < nproc:
        pytest.skip(f"{nproc} GPUs needed, {torch.cuda.device_count()} here")
    env = {**os.environ, "GTZAN_STUDIO_DEMO_PER_GENRE": "4", "GTZAN_STUDIO_DEMO_SECONDS": "6.2",
           "PYTHONPATH": str(ROOT), "GTZAN_STUDIO_HOME": str(tmp_path / "home")}
    runs = tmp_path / "runs"
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
                           "-m", "gtzan_core", "train", "cnn", "--epochs", "3", "--device", "cuda", "--runs", str(runs)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (rec,) = [json.loads(p.read_text()) for p in runs.glob("*/record.json")]
    assert rec["status"] == "finished" and rec["device"].startswith("cuda")
    assert rec.get("world_size", 1) == nproc


def test_job_releases_gpu_memory(gpu_demo, tmp_path):
    from gtzan_core.jobs import JobManager

    torch.cuda.synchronize()
    start = torch.cuda.memory_allocated()
    manager = JobManager(RunStore(tmp_path / "runs"),
                         feature_loader=lambda ds, progress=None: load_features(ds, cache_dir=tmp_path / "f"))
    rid = manager.submit(make_config("cnn", epochs=2, device="cuda"), str(gpu_demo.root))
    assert manager.wait_idle(300)
    assert manager.store.read(rid)["status"] == "finished"
    from gtzan_core.inference import clear_model_cache

    clear_model_cache()
    torch.cuda.synchronize()
    assert torch.cuda.memory_allocated() == start


TRAINER = textwrap.dedent("""
    import sys, time
    from gtzan_core.data import discover_dataset
    from gtzan_core.feature_cache import load_features
    from gtzan_core.hparams import make_config
    from gtzan_core.runs import RunStore
    from gtzan_core.jobs import train
    fs = load_features(discover_dataset(sys.argv[1]))
    rec = train(make_config("cnn", epochs=3, patience=10, device="cuda"), fs, RunStore(sys.argv[2]))
    print(rec["started"], rec["finished"])
""")


def test_two_trainers_in_two_processes_take_the_gpu_in_turn(gpu_demo, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GTZAN_STUDIO_HOME": str(tmp_path / "home")}
    load_features(gpu_demo)  # warm the cache the subprocesses share (same home)
    procs = [subprocess.Popen([sys.executable, "-c", TRAINER, str(gpu_demo.root), str(tmp_path / f"runs{k}")],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True) for k in range(2)]
    spans = sorted(tuple(map(float, p.communicate(timeout=600)[0].split()[-2:])) for p in procs)
    assert spans[0][1] <= spans[1][0] + 0.5  # the second started training after the first finished


def test_train_page_job_manager_on_cuda(demo_app):
    at = demo_app("train", timeout=120)
    at.run()
    at.multiselect[0].set_value(["cnn"])
    at.selectbox[0].set_value("cuda")
    at.number_input(key="ep-cnn-paper").set_value(2)
    at.button[0].click().run()
    assert not at.exception
    store = RunStore()
    wait_until(lambda: store.list()[0]["status"] not in ("queued", "running"), 300, every=0.5,
               what="the CUDA job to end")
    record = store.list()[0]
    assert record["status"] == "finished" and record["device"].startswith("cuda")
    assert record["mixed_precision"] == "bf16"
