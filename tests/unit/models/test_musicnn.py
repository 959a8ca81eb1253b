"""musicnn: the TF1 checkpoint reader, the torch port, its input and its weights.

The fast tests write their own checkpoints (a small writer of the tensor-bundle
format is below) and fake wheels; nothing touches the network. The real tests use
the weights fetched from the musicnn 0.1.0 wheel, found through
``$GTZAN_STUDIO_TEST_WEIGHTS`` (default ``~/.cache/gtzan-studio/weights``), and the
real GTZAN clips in ``shared/data/gtzan-real``; each skips with its reason when they
are absent.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gtzan_core.errors import AudioError, CheckpointError, DiskFullError, DownloadError
from gtzan_core.mel_patches import MusicnnParams, log_mel, log_mel_reference, mel_patches
from gtzan_core.models import musicnn
from gtzan_core.models.musicnn import (
    MSD_TAGS,
    TAGS,
    Musicnn,
    fetch_musicnn,
    load_musicnn,
    missing_weights_message,
    musicnn_checkpoint,
    state_dict_from_tf,
    weights_dir,
)
from gtzan_core.models.tf_checkpoint import (
    crc32c,
    list_tf_checkpoint,
    read_tf_checkpoint,
)
from tests.helpers import DATA_FILE, SHARED_DATA, fake_wheel, random_musicnn, tf_tensors, write_checkpoint
from tests.helpers.models import entry_proto

REAL = SHARED_DATA / "gtzan-real"
@pytest.fixture(scope="module")
def fake_model() -> Musicnn:
    return random_musicnn()


@pytest.fixture
def fake_checkpoint(tmp_path, fake_model) -> Path:
    """A musicnn checkpoint folder, dot-files as in the wheel, from ``fake_model``."""
    folder = tmp_path / "MSD_musicnn"
    folder.mkdir()
    write_checkpoint(f"{folder}{os.sep}", tf_tensors(fake_model))
    return folder


# ---------------------------------------------------------------------------
# The reader
# ---------------------------------------------------------------------------


def test_crc32c_matches_known_values():
    # RFC 3720 B.4 and the usual check value
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(bytes(32)) == 0x8A9136AA
    assert crc32c(b"\xff" * 32) == 0x62A8AB43
    assert crc32c(bytes(range(32))) == 0x46DD794E
    # the vectorised path (lanes of 256 bytes) against a plain bytewise CRC
    data = np.random.default_rng(0).integers(0, 256, 256 * 40 + 77, dtype=np.uint8).tobytes()
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    crc = 0xFFFFFFFF
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    assert crc32c(data) == crc ^ 0xFFFFFFFF


def test_reader_returns_every_tensor_bit_for_bit(tmp_path):
    rng = np.random.default_rng(1)
    tensors = {
        "conv/kernel": rng.standard_normal((7, 38, 1, 5)).astype(np.float32),
        "a/bias": rng.standard_normal(5).astype(np.float32),
        "global_step": np.array(123456789012, dtype=np.int64),
        "half": rng.standard_normal((3, 4)).astype(np.float16),
        "double": rng.standard_normal(9),
        "flags": np.array([True, False, True]),
        "counts": np.arange(-5, 5, dtype=np.int32),
        "empty": np.zeros((0, 3), np.float32),
        "nan_and_inf": np.array([np.nan, np.inf, -np.inf, -0.0], np.float32),
    }
    tensors.update({f"layer_{i}/w": rng.standard_normal(3).astype(np.float32) for i in range(20)})  # several blocks
    write_checkpoint(tmp_path / "model.ckpt", tensors)
    got = read_tf_checkpoint(tmp_path / "model.ckpt")
    assert set(got) == set(tensors)
    for name, want in tensors.items():
        assert got[name].dtype == want.dtype and got[name].shape == want.shape, name
        assert got[name].tobytes() == want.tobytes(), name
        assert got[name].flags.writeable
    assert list_tf_checkpoint(tmp_path / "model.ckpt")["conv/kernel"] == (np.dtype("float32"), (7, 38, 1, 5))
    only = read_tf_checkpoint(tmp_path / "model.ckpt", names=["global_step"])
    assert list(only) == ["global_step"] and only["global_step"] == 123456789012


def test_a_folder_prefix_means_the_dot_files_inside(fake_checkpoint):
    assert (fake_checkpoint / ".index").is_file() and (fake_checkpoint / DATA_FILE).is_file()
    assert "conv2d/kernel" in list_tf_checkpoint(fake_checkpoint)
    assert "conv2d/kernel" in list_tf_checkpoint(f"{fake_checkpoint}/")


def test_truncated_data_is_refused(fake_checkpoint):
    data = fake_checkpoint / DATA_FILE
    data.write_bytes(data.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match=r"\.data-00000-of-00001: truncated") as exc:
        read_tf_checkpoint(fake_checkpoint)
    assert "\n" not in str(exc.value)
    with pytest.raises(CheckpointError, match="truncated"):
        load_musicnn(fake_checkpoint)


def test_damaged_data_fails_its_checksum(fake_checkpoint):
    data = fake_checkpoint / DATA_FILE
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0x10
    data.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="fails its checksum"):
        read_tf_checkpoint(fake_checkpoint)


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[:20] + bytes([b[20] ^ 0xFF]) + b[21:], "fails its checksum"),
    (lambda b: b[:-10], "no table magic number"),
    (lambda b: b[:30], "too short"),
    (lambda b: bytes(np.random.default_rng(2).integers(0, 256, 500, dtype=np.uint8)), "no table magic number"),
    (lambda b: b"", "too short"),
])
def test_damaged_index_is_refused(fake_checkpoint, damage, message):
    index = fake_checkpoint / ".index"
    index.write_bytes(damage(index.read_bytes()))
    with pytest.raises(CheckpointError, match=message) as exc:
        list_tf_checkpoint(fake_checkpoint)
    assert str(index) in str(exc.value)


def test_missing_files_are_named(tmp_path, fake_checkpoint):
    with pytest.raises(CheckpointError, match=r"no such checkpoint index"):
        read_tf_checkpoint(tmp_path / "nothing")
    (fake_checkpoint / DATA_FILE).unlink()
    with pytest.raises(CheckpointError, match=r"\.data-00000-of-00001: no such checkpoint data file"):
        read_tf_checkpoint(fake_checkpoint)


def test_a_huge_or_inconsistent_tensor_is_refused_before_any_allocation(tmp_path):
    small = {"w": np.ones(4, np.float32)}
    huge_shape = (1 << 40, 1 << 20)  # 2^60 floats: 4 EiB
    write_checkpoint(tmp_path / "huge", small, entries={
        "w": entry_proto(1, huge_shape, 0, 4 << 60, None)})
    assert list_tf_checkpoint(tmp_path / "huge")["w"][1] == huge_shape  # the index alone is fine...
    with pytest.raises(CheckpointError, match=r"needs bytes 0-4611686018427387904, the file has 16"):
        read_tf_checkpoint(tmp_path / "huge")  # ...but the data file cannot hold it
    write_checkpoint(tmp_path / "liar", small, entries={"w": entry_proto(1, huge_shape, 0, 16, None)})
    with pytest.raises(CheckpointError, match=r"'w' of shape \(1099511627776, 1048576\) \(float32\) needs "
                                              r"4611686018427387904 bytes but its entry claims 16"):
        list_tf_checkpoint(tmp_path / "liar")
    write_checkpoint(tmp_path / "negative", small, entries={"w": entry_proto(1, (-1, 4), 0, 16, None)})
    with pytest.raises(CheckpointError, match="absurd shape"):
        list_tf_checkpoint(tmp_path / "negative")
    write_checkpoint(tmp_path / "string", small, entries={"w": entry_proto(7, (1,), 0, 16, None)})
    with pytest.raises(CheckpointError, match="dtype 7, which this reader does not support"):
        list_tf_checkpoint(tmp_path / "string")


# ---------------------------------------------------------------------------
# The port: mapping, loading, refusing other networks
# ---------------------------------------------------------------------------


def test_mapping_round_trips_and_the_loaded_module_equals_the_original(fake_checkpoint, fake_model):
    state = state_dict_from_tf(tf_tensors(fake_model))
    assert set(state) == set(fake_model.state_dict())
    loaded = load_musicnn(fake_checkpoint)
    assert not loaded.training
    for key, value in fake_model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    x = torch.randn(2, 187, 96)
    with torch.no_grad():
        assert torch.equal(loaded(x), fake_model(x))
        assert loaded.embedding(x).shape == (2, 200) and loaded(x).shape == (2, 50)
        assert torch.equal(loaded.tags(loaded.embedding(x)), loaded(x))  # the 200-d boundary


def test_a_checkpoint_of_another_network_is_refused(tmp_path, fake_model):
    vgg = {"1CNN/kernel": np.zeros((3, 3, 1, 128), np.float32), "1CNN/bias": np.zeros(128, np.float32)}
    write_checkpoint(tmp_path / "vgg", vgg)
    with pytest.raises(CheckpointError, match=r"vgg\.index: not a musicnn checkpoint: no variable "
                                              r"'batch_normalization/gamma' \(64 of 64 missing\)"):
        load_musicnn(tmp_path / "vgg")

    wider = tf_tensors(fake_model)
    wider["conv2d/kernel"] = np.zeros((7, 38, 1, 128), np.float32)
    write_checkpoint(tmp_path / "wider", wider)
    with pytest.raises(CheckpointError, match=r"wider\.index: not a musicnn checkpoint: 'conv2d/kernel' is "
                                              r"float32 \(7, 38, 1, 128\), the network has float \(7, 38, 1, 204\)"):
        load_musicnn(tmp_path / "wider")

    bigger = {**tf_tensors(fake_model), "dense_2/kernel": np.zeros((50, 10), np.float32)}
    write_checkpoint(tmp_path / "bigger", bigger)
    with pytest.raises(CheckpointError, match=r"unexpected variable 'dense_2/kernel'"):
        load_musicnn(tmp_path / "bigger")
    assert isinstance(load_musicnn(tmp_path / "bigger", strict=False), Musicnn)


def test_the_model_refuses_a_wrong_input_shape():
    with pytest.raises(ValueError, match=r"\(batch, time, 96\)"):
        Musicnn().eval()(torch.zeros(1, 187, 128))


# ---------------------------------------------------------------------------
# The input: log-mel and patches
# ---------------------------------------------------------------------------


def synthetic(seconds: float, sr: int = 16000, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    chirp = np.sin(2 * np.pi * (200 + 800 * t) * t)
    noise = np.random.default_rng(seed).standard_normal(len(t))
    return (0.6 * chirp + 0.05 * noise).astype(np.float32)


def test_log_mel_equals_librosa():
    y = synthetic(4.0)
    ours, ref = log_mel(y), log_mel_reference(y)
    assert ours.dtype == np.float32 and ours.shape == ref.shape == (1 + len(y) // 256, 96)
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=5e-5)


def test_loud_audio_stays_finite():
    """The release's float16 cast overflows on loud clips; float32 does not."""
    y = np.clip(synthetic(3.5) * 4, -1, 1)
    assert np.isfinite(log_mel(y)).all() and np.isfinite(log_mel_reference(y)).all()


def test_patch_arithmetic_and_repeat_padding():
    p = MusicnnParams()
    assert p.patch_samples == 186 * 256 == 47616 and p.frames(p.patch_samples) == 187

    ten = synthetic(10.0)  # 160000 samples -> 626 frames -> 3 patches (561 frames), 65 dropped
    patches, padded = mel_patches(ten)
    assert patches.shape == (3, 187, 96) and not padded
    np.testing.assert_array_equal(patches.reshape(-1, 96), log_mel(ten)[:561])

    short = synthetic(2.5)  # 40000 samples -> 157 frames: tiled to one patch
    patches, padded = mel_patches(short)
    assert patches.shape == (1, 187, 96) and padded
    np.testing.assert_array_equal(patches[0], log_mel(np.concatenate([short, short[:7616]])))

    exact = synthetic(3.0)[: p.patch_samples]
    assert mel_patches(exact)[1] is False and mel_patches(exact[:-1])[1] is True


def test_a_clip_under_the_minimum_is_refused():
    with pytest.raises(AudioError, match=r"clip is 1\.20 s long; at least 1\.5 s is needed"):
        mel_patches(synthetic(1.2))
    with pytest.raises(AudioError, match=r"at least 2\.5 s"):
        mel_patches(synthetic(2.0), min_seconds=2.5)
    with pytest.raises(AudioError, match="clip is 0.00 s"):
        mel_patches(np.zeros(0, np.float32), min_seconds=0)
    with pytest.raises(AudioError, match="mono"):
        mel_patches(np.zeros((2, 48000), np.float32))


def test_params_key_follows_the_values():
    assert MusicnnParams().key() == MusicnnParams().key()
    assert MusicnnParams().key() != MusicnnParams(patch_frames=128).key()
    assert MusicnnParams().as_dict() == {"sr": 16000, "n_fft": 512, "hop_length": 256, "n_mels": 96,
                                         "patch_frames": 187}


# ---------------------------------------------------------------------------
# Where the weights live, and fetching them from a wheel
# ---------------------------------------------------------------------------


@pytest.fixture
def weights(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "weights"
    monkeypatch.setenv("GTZAN_STUDIO_WEIGHTS", str(folder))
    return folder


def trust(monkeypatch, wheel: Path) -> None:
    monkeypatch.setitem(musicnn.WHEEL, "sha256", hashlib.sha256(wheel.read_bytes()).hexdigest())


def test_weights_dir_follows_the_environment(monkeypatch, studio_home, tmp_path):
    monkeypatch.delenv("GTZAN_STUDIO_WEIGHTS", raising=False)
    assert weights_dir() == studio_home / "weights"
    monkeypatch.setenv("GTZAN_STUDIO_WEIGHTS", str(tmp_path / "w"))
    assert weights_dir() == tmp_path / "w"


def test_fetch_refuses_a_wheel_with_the_wrong_checksum(tmp_path, weights, fake_model):
    wheel = fake_wheel(tmp_path / "musicnn-0.1.0-py3-none-any.whl", fake_model)
    with pytest.raises(DownloadError, match=r"sha256 [0-9a-f]{64} is not that of musicnn 0\.1\.0's wheel"):
        fetch_musicnn(wheel=wheel)
    assert musicnn_checkpoint() is None and not any(weights.iterdir())
    with pytest.raises(DownloadError, match="no such file"):
        fetch_musicnn(wheel=tmp_path / "absent.whl")


def test_fetch_installs_only_the_checkpoint_files(tmp_path, weights, fake_model, monkeypatch):
    extra = {"musicnn/MSD_musicnn/../../escape.txt": b"x", "../outside.txt": b"x", "/abs.txt": b"x",
             "musicnn/MSD_musicnn/evil.py": b"x"}
    wheel = fake_wheel(tmp_path / "musicnn-0.1.0-py3-none-any.whl", fake_model, extra)
    trust(monkeypatch, wheel)
    assert musicnn_checkpoint() is None
    folder = fetch_musicnn(wheel=wheel)
    assert folder == weights / "musicnn-0.1.0" / "MSD_musicnn" == musicnn_checkpoint()
    assert musicnn_checkpoint("MTT_musicnn") == weights / "musicnn-0.1.0" / "MTT_musicnn"
    found = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()
                   and ".parts" not in str(p) and p != wheel)
    assert found == sorted(f"weights/musicnn-0.1.0/{n}/{f}" for n in TAGS
                           for f in (".index", DATA_FILE, "config.json"))
    assert torch.equal(load_musicnn(folder).dense.weight, fake_model.dense.weight)
    again = fetch_musicnn(wheel=wheel)  # a second fetch replaces the first, leaving nothing behind
    assert again == folder and sorted(p.name for p in weights.iterdir()) == ["musicnn-0.1.0"]


def test_fetch_refuses_oversized_missing_or_broken_members(tmp_path, weights, fake_model, monkeypatch):
    wheel = fake_wheel(tmp_path / "musicnn-0.1.0-py3-none-any.whl", fake_model)
    trust(monkeypatch, wheel)
    monkeypatch.setitem(musicnn.CHECKPOINT_FILES, DATA_FILE, 1000)
    with pytest.raises(DownloadError, match=r"musicnn/MSD_musicnn/\.data-00000-of-00001 claims \d+ bytes, "
                                            r"more than the 1000"):
        fetch_musicnn(wheel=wheel)
    monkeypatch.setitem(musicnn.CHECKPOINT_FILES, DATA_FILE, 64 << 20)

    partial = fake_wheel(tmp_path / "partial.whl", fake_model, skip={"MTT_musicnn/.index"})
    trust(monkeypatch, partial)
    with pytest.raises(DownloadError, match=r"the wheel has no musicnn/MTT_musicnn/\.index"):
        fetch_musicnn(wheel=partial)

    broken = tmp_path / "broken.whl"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    trust(monkeypatch, broken)
    with pytest.raises(DownloadError, match="not a readable wheel"):
        fetch_musicnn(wheel=broken)

    other = fake_wheel(tmp_path / "other.whl", fake_model, skip={"MSD_musicnn/" + DATA_FILE},
                       extra={"musicnn/MSD_musicnn/" + DATA_FILE: b"\x00" * 64})
    trust(monkeypatch, other)
    with pytest.raises(DownloadError, match=r"other\.whl: its checkpoint does not load: "
                                            r"MSD_musicnn/\.data-00000-of-00001: truncated"):
        fetch_musicnn(wheel=other)
    assert musicnn_checkpoint() is None and list(weights.iterdir()) == []  # no temporary folder left


def test_a_failed_fetch_keeps_the_earlier_weights(tmp_path, weights, fake_model, monkeypatch):
    good = fake_wheel(tmp_path / "good.whl", fake_model)
    trust(monkeypatch, good)
    folder = fetch_musicnn(wheel=good)
    bad = fake_wheel(tmp_path / "bad.whl", fake_model, skip={"MSD_musicnn/.index"})
    trust(monkeypatch, bad)
    with pytest.raises(DownloadError):
        fetch_musicnn(wheel=bad)
    assert musicnn_checkpoint() == folder and isinstance(load_musicnn(folder), Musicnn)
    assert sorted(p.name for p in weights.iterdir()) == ["musicnn-0.1.0"]


def test_a_full_disk_during_fetch_is_one_line_and_keeps_nothing_half_written(tmp_path, weights, fake_model,
                                                                             monkeypatch):
    import errno

    wheel = fake_wheel(tmp_path / "good.whl", fake_model)
    trust(monkeypatch, wheel)
    seen = []
    folder = fetch_musicnn(wheel=wheel, progress=lambda done, total, message: seen.append(message))
    assert "checking the wheel" in seen and "extracting" in seen

    def full(*args, **kw):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(musicnn.shutil, "copyfileobj", full)
    with pytest.raises(DiskFullError, match=r"disk full: could not write the musicnn weights into .*weights$"):
        fetch_musicnn(wheel=wheel)
    assert sorted(p.name for p in weights.iterdir()) == ["musicnn-0.1.0"]
    assert isinstance(load_musicnn(folder), Musicnn)


def test_a_failed_pip_download_names_the_manual_command(weights, monkeypatch):
    calls = []

    class Failed:
        returncode, stdout, stderr = 1, "", "ERROR: Could not find a version that satisfies musicnn==0.1.0\n"

    def fake_run(cmd, **kw):
        calls.append(cmd)
        return Failed()

    monkeypatch.setattr(musicnn.subprocess, "run", fake_run)
    with pytest.raises(DownloadError) as exc:
        fetch_musicnn()
    message = str(exc.value)
    assert "\n" not in message and "Could not find a version" in message
    assert "`pip download --no-deps --only-binary=:all: musicnn==0.1.0`" in message
    assert "python -m gtzan_core weights --fetch musicnn --wheel FILE" in message
    assert calls[0][:3] == [sys.executable, "-m", "pip"]
    assert calls[0][3:8] == ["download", "--no-deps", "--only-binary=:all:", "musicnn==0.1.0", "-d"]


def test_an_installed_musicnn_package_is_found_without_importing_it(tmp_path, weights, fake_model, monkeypatch):
    package = tmp_path / "site" / "musicnn"
    (package / "MTT_musicnn").mkdir(parents=True)
    (package / "__init__.py").write_text("raise ImportError('needs TensorFlow')\n")
    write_checkpoint(f"{package / 'MTT_musicnn'}{os.sep}", tf_tensors(fake_model, adam=False))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    importlib.invalidate_caches()
    assert musicnn_checkpoint("MTT_musicnn") == package / "MTT_musicnn"
    assert musicnn_checkpoint("MSD_musicnn") is None
    assert "musicnn" not in sys.modules


def test_unknown_checkpoint_names_and_the_missing_message(weights):
    from gtzan_core.errors import ConfigError

    with pytest.raises(ConfigError, match="MSD_musicnn, MTT_musicnn"):
        musicnn_checkpoint("MSD_vgg")
    message = missing_weights_message()
    assert "\n" not in message and str(weights / "musicnn-0.1.0") in message
    assert "`python -m gtzan_core weights --fetch musicnn`" in message
    assert "`pip download --no-deps musicnn==0.1.0`" in message and "--wheel FILE" in message


# ---------------------------------------------------------------------------
# The real weights and clips
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_weights_dir() -> Path:
    from tests.helpers import REAL_WEIGHTS, real_musicnn_weights

    folder = real_musicnn_weights()
    if folder is None:
        pytest.skip(f"no real musicnn weights in {REAL_WEIGHTS} (set GTZAN_STUDIO_TEST_WEIGHTS, or fetch them there: "
                    f"GTZAN_STUDIO_WEIGHTS={REAL_WEIGHTS} python -m gtzan_core weights --fetch musicnn)")
    return folder


@pytest.fixture
def real_weights(real_weights_dir, monkeypatch) -> Path:
    monkeypatch.setenv("GTZAN_STUDIO_WEIGHTS", str(real_weights_dir))
    checkpoint = musicnn_checkpoint()
    assert checkpoint == real_weights_dir / "musicnn-0.1.0" / "MSD_musicnn"
    return checkpoint


@pytest.fixture(scope="module")
def real_model(real_weights_dir) -> Musicnn:
    return load_musicnn(real_weights_dir / "musicnn-0.1.0" / "MSD_musicnn")


def _reference(model: Musicnn, x: torch.Tensor) -> torch.Tensor:
    """The embedding through the release's layers as they are (no inference shortcut)."""
    model.fast_inference = False
    try:
        with torch.inference_mode():
            return model.embedding(x)
    finally:
        del model.fast_inference


def test_the_inference_path_gives_the_release_layers_numbers():
    # negative batch-norm scales (max over frequency becomes min), dead filters (weights at ~1e-30 and 0,
    # as weight decay left most of the real ones) and live ones side by side
    model = random_musicnn(seed=3)
    with torch.no_grad():
        for i, branch in enumerate((*model.timbral, *model.temporal)):
            branch.bn.weight[::3] *= -1
            branch.conv.weight[1::2] = 1e-30 if i % 2 else 0.0
        model.midend[0].conv.weight[:, :5] = 0.0
    live = [int(b.live().sum()) for b in (*model.timbral, *model.temporal)]
    assert live == [102, 102, 26, 26, 26]  # every other filter dead
    x = torch.randn(3, 187, 96) * 2
    with torch.inference_mode():
        fast = model.embedding(x)
    reference = _reference(model, x)
    torch.testing.assert_close(fast, reference, rtol=1e-4, atol=1e-4)
    # a model in training mode, or with gradients (Grad-CAM), takes the release's layers
    with torch.no_grad():
        model.train()
        trained = model.embedding(x)
    model.eval()
    assert trained.shape == (3, 200) and not torch.allclose(trained, reference)  # batch statistics, dropout


def test_a_network_with_every_filter_dead_or_live_is_still_the_release_layers():
    for value in (0.0, 1.0):
        model = random_musicnn(seed=4)
        if value == 0.0:
            with torch.no_grad():
                for branch in (*model.timbral, *model.temporal):
                    branch.conv.weight.zero_()
        x = torch.randn(2, 187, 96)
        with torch.inference_mode():
            fast = model.embedding(x)
        torch.testing.assert_close(fast, _reference(model, x), rtol=1e-4, atol=1e-4)


def test_real_checkpoint_is_found_and_loads_skipping_optimizer_state(real_weights):
    listing = list_tf_checkpoint(real_weights)
    assert len(listing) == 150 and sum("/Adam" in n for n in listing) == 84
    model = load_musicnn(real_weights)
    trained = [n for n in listing if n + "/Adam" in listing]  # the variables the optimizer updated
    n_params = sum(int(np.prod(listing[n][1])) for n in trained)
    assert sum(p.numel() for p in model.parameters()) == n_params == 787_159  # ~0.79 M, as published


def test_real_statistics_confirm_the_interleaving_and_relu_before_batch_norm(real_weights):
    t = read_tf_checkpoint(real_weights)
    mean, var = t["batch_normalization_9/moving_mean"], t["batch_normalization_9/moving_variance"]

    def max_is_larger(a, b, va, vb):
        live = (va > 1e-4) & (vb > 1e-4)  # dead ReLU channels are constant: max == mean
        return live.sum(), (a[live] >= b[live]).mean()

    live, share = max_is_larger(mean[0::2], mean[1::2], var[0::2], var[1::2])
    assert live > 100 and share == 1.0  # max0, mean0, max1, mean1, ...: the max always the larger
    _, share_blocks = max_is_larger(mean[:753], mean[753:], var[:753], var[753:])
    assert share_blocks < 0.7  # [max..., mean...] would contradict the statistics
    for i in (*range(1, 9), 10):  # after a ReLU, a batch norm only ever saw values >= 0
        assert t[f"batch_normalization_{i}/moving_mean"].min() >= 0, i


CLIPS = {  # clip -> (expected top tag, the probability the reference measured)
    "jazz/jazz.00025.wav": ("jazz", 0.95),
    "hiphop/hiphop.00028.wav": ("Hip-Hop", 0.85),
    "blues/blues.00028.wav": ("blues", 0.86),
}


def clip_tags(model: Musicnn, relative: str) -> dict[str, float]:
    from gtzan_core.audio import load_audio

    path = REAL / "genres_original" / relative
    if not path.is_file():
        pytest.skip(f"real GTZAN clip {path} is absent")
    patches, _ = mel_patches(load_audio(path, sr=16000))
    with torch.no_grad():
        probs = torch.sigmoid(model(torch.from_numpy(patches))).mean(0).numpy()
    ranked = sorted(zip(MSD_TAGS, probs.tolist()), key=lambda kv: -kv[1])
    print(relative, ", ".join(f"{tag} {p:.3f}" for tag, p in ranked[:5]))
    return dict(ranked)


@pytest.mark.parametrize("clip", list(CLIPS))
def test_real_clip_gets_its_genre_as_top_tag(real_model, clip, record_property):
    tag, reference = CLIPS[clip]
    probs = clip_tags(real_model, clip)
    record_property(clip, {t: round(p, 3) for t, p in list(probs.items())[:5]})
    assert next(iter(probs)) == tag
    assert probs[tag] == pytest.approx(reference, abs=0.02)


def test_real_metal_clip_gets_metal_tags(real_model, record_property):
    probs = clip_tags(real_model, "metal/metal.00000.wav")
    record_property("metal.00000", {t: round(p, 3) for t, p in list(probs.items())[:5]})
    top4 = list(probs)[:4]
    assert "metal" in top4 and ("heavy metal" in top4 or "hard rock" in top4)


@pytest.mark.parametrize("name, live", [("MSD_musicnn", [26, 16, 4, 12, 20]), ("MTT_musicnn", [151, 95, 43, 46, 50])])
def test_real_networks_keep_their_numbers_on_the_live_filters_alone(real_weights_dir, name, live):
    model = load_musicnn(real_weights_dir / "musicnn-0.1.0" / name)
    assert [int(b.live().sum()) for b in (*model.timbral, *model.temporal)] == live
    import librosa

    from gtzan_core.data.synth import synth_track

    clips = [synth_track(g, 9.0, seed=2) for g in ("metal", "classical")]
    x = torch.from_numpy(np.concatenate([mel_patches(librosa.resample(c, orig_sr=22050, target_sr=16000))[0]
                                         for c in clips]))
    with torch.inference_mode():
        fast = model.embedding(x)
        tags = model(x)
    torch.testing.assert_close(fast, _reference(model, x), rtol=1e-4, atol=1e-4)
    model.fast_inference = False
    with torch.inference_mode():
        torch.testing.assert_close(tags, model(x), rtol=1e-4, atol=1e-4)
