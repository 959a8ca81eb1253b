"""musicnn's VGG baselines (``MSD_vgg``, ``MTT_vgg``, the same wheel as musicnn's networks) as
backbones a run can use: the port against the release's layers computed here from the
checkpoint's own TensorFlow variables, the fetch that extracts them, the two models, and the
real weights on real clips where present (skipping cleanly, naming the fetch)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gtzan_core.errors import CheckpointError, ConfigError, DownloadError
from gtzan_core.hparams import make_config
from gtzan_core.models import MODELS, build_model, check_weights, describe_models, musicnn
from gtzan_core.models.musicnn import MSD_TAGS, MTT_TAGS, fetch_musicnn
from gtzan_core.models.musicnn_vgg import MusicnnVgg, load_vgg
from gtzan_core.models.weights import backbone_weights
from tests.helpers import DATA_FILE, REAL_WEIGHTS, SHARED_DATA, fake_wheel, random_musicnn, write_checkpoint

REAL_CLIPS = SHARED_DATA / "gtzan-real" / "genres_original"


def vgg_tf_tensors(seed: int = 0, adam: bool = True) -> dict[str, np.ndarray]:
    """The variables ``models.vgg`` (128 filters) saves, random, named and shaped as in the wheel."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for k, channels in enumerate((1, 128, 128, 128, 128, 128)):
        tf = "batch_normalization" if k == 0 else f"batch_normalization_{k}"
        out[f"{tf}/gamma"] = rng.uniform(0.5, 1.5, channels)
        out[f"{tf}/beta"] = rng.normal(0, 0.1, channels)
        out[f"{tf}/moving_mean"] = rng.normal(0, 0.5, channels)
        out[f"{tf}/moving_variance"] = rng.uniform(0.5, 2.0, channels)
    for i in range(5):
        fan_in = 9 * (1 if i == 0 else 128)  # (He's scale: activations of the order of 1 through the five layers)
        out[f"{i + 1}CNN/kernel"] = rng.normal(0, np.sqrt(2 / fan_in), (3, 3, 1 if i == 0 else 128, 128))  # HWIO
        out[f"{i + 1}CNN/bias"] = rng.normal(0, 0.05, 128)
    out["dense/kernel"] = rng.normal(0, 0.1, (256, 50))
    out["dense/bias"] = rng.normal(0, 0.1, 50)
    out = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}
    if adam:
        for name in [n for n in out if n.endswith("kernel")]:
            out[name + "/Adam"] = np.zeros_like(out[name])
        out["beta1_power"] = np.array(0.9, np.float32)
    return out


def release_vgg(tensors: dict[str, np.ndarray], x: torch.Tensor) -> torch.Tensor:
    """The release's ``models.vgg`` in inference, written from its TensorFlow code and the
    variables as stored (NHWC, HWIO kernels, TF batch norm), not from the studio's mapping:
    the tag logits of (batch, 187, 96) patches."""
    t = {k: torch.from_numpy(v) for k, v in tensors.items()}

    def bn(z, name):  # z: NHWC; TF: gamma * (z - mean) / sqrt(var + 1e-3) + beta
        return t[f"{name}/gamma"] * (z - t[f"{name}/moving_mean"]) / torch.sqrt(t[f"{name}/moving_variance"] + 1e-3) \
            + t[f"{name}/beta"]

    def conv_same(z, name):  # NHWC, 3x3, stride 1, "same"
        out = F.conv2d(z.permute(0, 3, 1, 2), t[f"{name}/kernel"].permute(3, 2, 0, 1), t[f"{name}/bias"], padding=1)
        return out.permute(0, 2, 3, 1)

    def pool(z, size, stride):  # NHWC, "valid"
        return F.max_pool2d(z.permute(0, 3, 1, 2), size, stride).permute(0, 2, 3, 1)

    z = bn(x.unsqueeze(3), "batch_normalization")
    # pool1 [4, 1] strides [2, 2]; pool2-4 [2, 2] strides [2, 2]; pool5 [4, 4] strides [4, 4]
    for i, (size, stride) in enumerate([((4, 1), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)),
                                        ((4, 4), (4, 4))]):
        z = pool(bn(torch.relu(conv_same(z, f"{i + 1}CNN")), f"batch_normalization_{i + 1}"), size, stride)
    flat = z.reshape(len(z), -1)  # tf.layers.flatten of (B, 2, 1, 128)
    return flat @ t["dense/kernel"] + t["dense/bias"]


def write_vgg(folder: Path, tensors: dict[str, np.ndarray]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_checkpoint(f"{folder}{os.sep}", tensors)
    return folder


def test_the_port_gives_the_release_layers_numbers(tmp_path):
    tensors = vgg_tf_tensors()
    model = load_vgg(write_vgg(tmp_path / "MSD_vgg", tensors))
    x = torch.randn(3, 187, 96, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        ours = model(x)
        embedding = model.embedding(x)
    reference = release_vgg(tensors, x)
    assert 0.1 < float(reference.abs().mean()) < 10  # numbers of the order of 1: the tolerance below means something
    torch.testing.assert_close(ours, reference, rtol=1e-4, atol=1e-4)
    assert embedding.shape == (3, 256)


def test_a_checkpoint_of_another_network_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match="not a musicnn VGG checkpoint: no variable"):
        load_vgg(write_vgg(tmp_path / "other", {"dense/kernel": np.zeros((256, 50), np.float32)}))
    extra = {**vgg_tf_tensors(), "6CNN/kernel": np.zeros((3, 3, 128, 128), np.float32)}
    with pytest.raises(CheckpointError, match="unexpected variable '6CNN/kernel'"):
        load_vgg(write_vgg(tmp_path / "bigger", extra))


def test_the_network_refuses_any_input_length_but_its_own():
    with pytest.raises(ValueError, match=r"expects \(batch, 187, 96\) log-mel patches \(3 s"):
        MusicnnVgg().embedding(torch.zeros(1, 200, 96))


def test_the_two_models_are_registered_on_their_own_checkpoints():
    for name, file in (("musicnn_vgg", "MSD_vgg"), ("musicnn_vgg_mtt", "MTT_vgg")):
        spec = MODELS[name]
        assert spec.input_kind == "musicnn" and spec.frozen_backbone and spec.family == "pretrained"
        assert backbone_weights(name).file == file
        assert backbone_weights(name).folder == backbone_weights("musicnn").folder  # one wheel
        model, status = build_model(name, pretrained=False)
        assert not status.pretrained
        with torch.no_grad():
            assert model(torch.randn(2, 187, 96)).shape == (2, 10)
        row = {r["name"]: r for r in describe_models()}[name]
        assert row["weights_file"] == file and row["trainable_params"] == 256 * 10 + 10


def test_without_the_weights_a_run_is_refused_naming_the_fetch(monkeypatch, tmp_path):
    monkeypatch.setenv("GTZAN_STUDIO_WEIGHTS", str(tmp_path / "none"))
    with pytest.raises(ConfigError, match=r"MSD VGG.*python -m gtzan_core weights --fetch musicnn"):
        check_weights("musicnn_vgg")


def _vgg_members(tmp_path: Path, damaged: bool = False) -> dict[str, bytes]:
    members = {}
    for name in ("MSD_vgg", "MTT_vgg"):
        tensors = vgg_tf_tensors(seed=len(name))
        if damaged:
            del tensors["3CNN/kernel"]
        folder = write_vgg(tmp_path / f"{name}.parts", tensors)
        for file in (".index", DATA_FILE):
            members[f"musicnn/{name}/{file}"] = (folder / file).read_bytes()
        members[f"musicnn/{name}/config.json"] = b"{}"
    return members


def test_the_fetch_installs_the_wheels_vgg_checkpoints_and_checks_them(tmp_path, monkeypatch):
    weights = tmp_path / "weights"
    monkeypatch.setenv("GTZAN_STUDIO_WEIGHTS", str(weights))
    wheel = fake_wheel(tmp_path / "musicnn-0.1.0-py3-none-any.whl", random_musicnn(), _vgg_members(tmp_path))
    monkeypatch.setitem(musicnn.WHEEL, "sha256", hashlib.sha256(wheel.read_bytes()).hexdigest())
    fetch_musicnn(wheel=wheel)
    installed = weights / "musicnn-0.1.0"
    assert sorted(p.name for p in installed.iterdir()) == ["MSD_musicnn", "MSD_vgg", "MTT_musicnn", "MTT_vgg"]
    assert sorted(p.name for p in (installed / "MTT_vgg").iterdir()) == [".data-00000-of-00001", ".index",
                                                                        "config.json"]
    check_weights("musicnn_vgg_mtt")  # found where the models look
    expected = load_vgg(write_vgg(tmp_path / "again", vgg_tf_tensors(seed=len("MTT_vgg"))))
    model, status = build_model("musicnn_vgg_mtt")
    assert status.pretrained and status.file == "MTT_vgg"
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(value, expected.state_dict()[key]), key


def test_a_wheel_with_a_broken_vgg_checkpoint_installs_nothing(tmp_path, monkeypatch):
    weights = tmp_path / "weights"
    monkeypatch.setenv("GTZAN_STUDIO_WEIGHTS", str(weights))
    wheel = fake_wheel(tmp_path / "musicnn-0.1.0-py3-none-any.whl", random_musicnn(),
                       _vgg_members(tmp_path, damaged=True))
    monkeypatch.setitem(musicnn.WHEEL, "sha256", hashlib.sha256(wheel.read_bytes()).hexdigest())
    with pytest.raises(DownloadError, match=r"its checkpoint does not load: .*MSD_vgg.*no variable '3CNN/kernel'"):
        fetch_musicnn(wheel=wheel)
    assert not (weights / "musicnn-0.1.0").exists()


# ---------------------------------------------------------------------------
# The real weights on real clips
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_vgg_dir() -> Path:
    folder = REAL_WEIGHTS / "musicnn-0.1.0"
    if not (folder / "MSD_vgg" / ".index").is_file():
        pytest.skip(f"no real musicnn VGG weights in {folder} (fetch the wheel again there: GTZAN_STUDIO_WEIGHTS="
                    f"{REAL_WEIGHTS} python -m gtzan_core weights --fetch musicnn)")
    return folder


def top_tags(model: MusicnnVgg, relative: str, tags: tuple[str, ...]) -> dict[str, float]:
    from gtzan_core.audio import load_audio
    from gtzan_core.mel_patches import mel_patches

    path = REAL_CLIPS / relative
    if not path.is_file():
        pytest.skip(f"real GTZAN clip {path} is absent")
    patches, _ = mel_patches(load_audio(path, sr=16000))
    with torch.inference_mode():
        probs = torch.sigmoid(model(torch.from_numpy(patches))).mean(0).numpy()
    return dict(sorted(zip(tags, probs.tolist(), strict=True), key=lambda kv: -kv[1]))


@pytest.mark.parametrize("network, clip, tag, reference", [
    ("MSD_vgg", "jazz/jazz.00025.wav", "jazz", 0.85),
    ("MSD_vgg", "hiphop/hiphop.00028.wav", "Hip-Hop", 0.31),
    ("MTT_vgg", "classical/classical.00000.wav", "classical", 0.81),
    ("MTT_vgg", "metal/metal.00000.wav", "rock", 0.87),
])
def test_real_vgg_networks_tag_real_clips_sensibly(real_vgg_dir, network, clip, tag, reference):
    probs = top_tags(load_vgg(real_vgg_dir / network), clip, MSD_TAGS if network.startswith("MSD") else MTT_TAGS)
    assert next(iter(probs)) == tag
    assert probs[tag] == pytest.approx(reference, abs=0.02)


@pytest.mark.heavy
def test_a_run_on_the_real_vgg_backbone_trains_and_predicts(real_vgg_dir, tiny_demo_set, tmp_path, monkeypatch):
    from gtzan_core.feature_cache import feature_request, load_features
    from gtzan_core.inference import clear_model_cache, predict
    from gtzan_core.jobs import train
    from gtzan_core.runs import RunStore
    from tests.helpers import write_clip

    monkeypatch.setenv("GTZAN_STUDIO_WEIGHTS", str(real_vgg_dir.parent))
    fs = load_features(tiny_demo_set, cache_dir=tmp_path / "features", **feature_request("musicnn_vgg"))
    store = RunStore(tmp_path / "runs")
    record = train(make_config("musicnn_vgg", recipe="studio", epochs=2, device="cpu"), fs, store)
    assert record["status"] == "finished" and record["weights"]["file"] == "MSD_vgg"
    clear_model_cache()  # the head-only checkpoint is read back onto the VGG backbone
    clip = write_clip(tmp_path / "clip.wav", "metal", 7.0)
    result = predict(clip, [record["run_id"]], store).results[record["run_id"]]
    assert result.segment_probs.shape == (2, 10) and np.isclose(result.probs.sum(), 1.0)
