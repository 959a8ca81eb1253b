"""musicnn's MSD and MagnaTagATune networks side by side under one head (``musicnn_both``),
and the MagnaTagATune tags an explanation of a run on the MTT network lists."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gtzan_core.errors import CheckpointError, ConfigError
from gtzan_core.hparams import make_config
from gtzan_core.inference import clear_model_cache, predict
from gtzan_core.models import MODELS, build_model, check_weights, describe_models
from gtzan_core.models.musicnn import MTT_TAGS, clip_tags, load_musicnn
from gtzan_core.models.weights import (
    WEIGHTS,
    backbone_state_from_file,
    backbone_weights,
    combined_sha256,
    weights_available,
    weights_sha256,
)
from gtzan_core.runs import RunStore
from tests.helpers import write_clip


def test_the_pair_is_registered_with_both_networks_and_one_head_over_400_features():
    spec = MODELS["musicnn_both"]
    assert spec.input_kind == "musicnn" and spec.frozen_backbone and spec.family == "pretrained"
    pair = backbone_weights("musicnn_both")
    assert pair.parts == ("musicnn", "musicnn_mtt") and pair.folder == backbone_weights("musicnn").folder
    model, status = build_model("musicnn_both", pretrained=False)
    assert not status.pretrained
    assert list(model.backbone.nets) == ["musicnn", "musicnn_mtt"]
    model.eval()  # (dropout and batch statistics would make two passes differ)
    x = torch.randn(3, 187, 96)
    with torch.no_grad():
        features = model.backbone(x)
        assert features.shape == (3, 400)
        # the two halves are each network's own embedding of the same patches
        assert torch.allclose(features[:, :200], model.backbone.nets["musicnn"](x))
        assert torch.allclose(features[:, 200:], model.backbone.nets["musicnn_mtt"](x))
        assert model(x).shape == (3, 10)
    assert not any(p.requires_grad for p in model.backbone.parameters())
    row = {r["name"]: r for r in describe_models()}["musicnn_both"]
    assert row["trainable_params"] == 400 * 10 + 10 and row["weights_file"] == "MSD_musicnn+MTT_musicnn"


def test_without_the_weights_the_pair_is_refused_naming_the_fetch(monkeypatch, tmp_path):
    monkeypatch.setenv("GTZAN_STUDIO_WEIGHTS", str(tmp_path / "none"))
    assert not weights_available(backbone_weights("musicnn_both"))
    with pytest.raises(ConfigError, match=r"musicnn \(MSD \+ MTT\): .*python -m gtzan_core weights --fetch musicnn"):
        check_weights("musicnn_both")


def test_the_real_pair_is_the_wheels_two_networks_named_by_their_combined_digest(musicnn_weights):
    model, status = build_model("musicnn_both")
    folder = musicnn_weights / "musicnn-0.1.0"
    msd, mtt = load_musicnn(folder / "MSD_musicnn"), load_musicnn(folder / "MTT_musicnn")
    for name, net in (("musicnn", msd), ("musicnn_mtt", mtt)):
        for key, value in model.backbone.nets[name].state_dict().items():
            assert torch.equal(value, net.state_dict()[key]), (name, key)
    digests = [weights_sha256(folder / f / ".data-00000-of-00001") for f in ("MSD_musicnn", "MTT_musicnn")]
    assert status.pretrained and status.file == "MSD_musicnn+MTT_musicnn"
    assert status.sha256 == combined_sha256(digests) != combined_sha256(digests[::-1])
    # a head-only checkpoint reads both networks back from their files, each in its place
    ref = status.backbone_ref()
    state = backbone_state_from_file("musicnn_both", ref, MODELS["musicnn_both"].weights_reader)
    assert torch.equal(state["backbone.nets.musicnn_mtt.dense.weight"], mtt.dense.weight)
    assert torch.equal(state["backbone.nets.musicnn.dense.weight"], msd.dense.weight)
    assert not any(".tags." in k for k in state)
    with pytest.raises(CheckpointError, match="not the backbone this run was trained on"):
        backbone_state_from_file("musicnn_both", {**ref, "sha256": combined_sha256(digests[::-1])},
                                 MODELS["musicnn_both"].weights_reader)


def test_clip_tags_are_the_mtt_taggers_own_probabilities_highest_first(musicnn_weights):
    patches = np.random.default_rng(0).normal(2.0, 1.0, (2, 187, 96)).astype(np.float32)
    tags = clip_tags(patches, "MTT_musicnn", top=50)
    assert [t for t, _ in tags] != list(MTT_TAGS) and sorted(t for t, _ in tags) == sorted(MTT_TAGS)
    probs = [p for _, p in tags]
    assert probs == sorted(probs, reverse=True) and 0 < probs[-1] <= probs[0] < 1
    net = load_musicnn(musicnn_weights / "musicnn-0.1.0" / "MTT_musicnn")
    with torch.no_grad():
        expected = torch.sigmoid(net(torch.from_numpy(patches))).mean(0)
    assert np.isclose(dict(tags)["guitar"], float(expected[MTT_TAGS.index("guitar")]), atol=1e-5)
    assert len(clip_tags(patches, "MTT_musicnn")) == 5
    with pytest.raises(ValueError, match="log-mel patches"):
        clip_tags(np.zeros((187, 96), np.float32))


def test_without_the_weights_clip_tags_names_the_fetch(monkeypatch, tmp_path):
    monkeypatch.setenv("GTZAN_STUDIO_WEIGHTS", str(tmp_path / "none"))
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)  # no installed musicnn package either
    with pytest.raises(ConfigError, match="weights --fetch musicnn"):
        clip_tags(np.zeros((1, 187, 96), np.float32))


@pytest.mark.heavy
def test_a_run_on_both_networks_trains_predicts_and_explains_with_mtt_tags(musicnn_weights, tiny_demo_set, tmp_path,
                                                                          capsys):
    from gtzan_core.cli import main
    from gtzan_core.explain import explain
    from gtzan_core.feature_cache import feature_request, load_features
    from gtzan_core.jobs import train

    fs = load_features(tiny_demo_set, cache_dir=tmp_path / "features", **feature_request("musicnn_both"))
    store = RunStore(tmp_path / "runs")
    record = train(make_config("musicnn_both", recipe="studio", epochs=2, device="cpu"), fs, store)
    assert record["status"] == "finished" and record["weights"]["file"] == "MSD_musicnn+MTT_musicnn"
    ckpt = store.load_checkpoint(record["run_id"])
    assert set(ckpt["state_dict"]) == {"head.1.weight", "head.1.bias"}  # head only: the networks are the wheel's
    clear_model_cache()
    clip = write_clip(tmp_path / "clip.wav", "metal", 7.0)
    result = predict(clip, [record["run_id"]], store).results[record["run_id"]]
    assert result.segment_probs.shape == (2, 10) and np.isclose(result.probs.sum(), 1.0)

    ex = explain(clip, record["run_id"], store, methods=("segments",))
    assert ex.tag_network == "MTT_musicnn" and len(ex.tags) == 5 and {t for t, _ in ex.tags} <= set(MTT_TAGS)
    assert "MTT_musicnn" in ex.tags_text() and ex.tags[0][0] in ex.tags_text()
    assert main(["explain", str(clip), "--run", record["run_id"], "--runs", str(store.root), "--methods", "segments",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tags"]["network"] == "MTT_musicnn"


def test_an_explanation_of_a_network_without_tags_lists_none(tmp_path, tiny_demo_set):
    from gtzan_core.explain import Explanation

    ex = Explanation("r", "cnn", "mfcc", 0, 0, np.full(10, 0.1), np.zeros((2, 2)))
    assert ex.tags_text() == "" and ex.as_dict()["tags"] is None
    assert MODELS["musicnn"].tag_network is None and MODELS["cnn"].tag_network is None
    assert set(WEIGHTS["musicnn_both"].parts) <= set(WEIGHTS)


def test_the_default_answers_shared_pass_equals_each_network_on_its_own(tmp_path, monkeypatch):
    """One log-mel, one patch tensor, one batched pass of each network (the inference path, live
    filters only) gives the answer that each network computes on its own through the release's layers,
    its own log-mel included; random weights with dead filters, as the released checkpoints have."""
    from gtzan_core.audio import decode_audio
    from gtzan_core.features import MFCCParams
    from gtzan_core.inference import _batched
    from gtzan_core.inputs.base import Clip
    from gtzan_core.inputs.musicnn import KIND
    from gtzan_core.mel_patches import mel_patches
    from gtzan_core.models.musicnn import Musicnn
    from tests.helpers.models import random_musicnn

    model, _ = build_model("musicnn_both", pretrained=False)
    for seed, net in enumerate(model.backbone.nets.values()):
        state = {k: v for k, v in random_musicnn(seed).state_dict().items() if not k.startswith("tags.")}
        net.load_state_dict(state)
        with torch.no_grad():  # most front-end filters dead, as weight decay left the released ones
            for branch in (*net.timbral, *net.temporal):
                dead = torch.rand(branch.conv.out_channels, generator=torch.Generator().manual_seed(seed)) < 0.7
                branch.conv.weight[dead] = 1e-30
    model.eval()
    path = write_clip(tmp_path / "clip.wav", "metal", 10.0)
    decoded = decode_audio(path)
    mfcc = MFCCParams()
    calls = []
    monkeypatch.setattr("gtzan_core.mel_patches.mel_patches", lambda *a, **kw: calls.append(1) or mel_patches(*a, **kw))
    clip = Clip(decoded.at(mfcc.sr), mfcc, decoded)
    inp = KIND.model_input(clip, {"musicnn_params": {}})
    KIND.model_input(clip, {"musicnn_params": {}})  # a second run on the same clip (predict shares the Clip)
    assert len(calls) == 1  # one log-mel a clip
    assert inp.x.shape == (3, 187, 96)
    with torch.inference_mode():
        shared = _batched(model, inp.x, 2, "cpu")  # two batches: the batching is part of the path
    assert all(not net.training and Musicnn.fast_inference for net in model.backbone.nets.values())

    Musicnn.fast_inference = False  # the reference: each network alone, the release's layers, its own log-mel
    try:
        with torch.no_grad():
            embeddings = [net(torch.from_numpy(mel_patches(decode_audio(path).at(16000))[0]))
                          for net in model.backbone.nets.values()]
            reference = torch.softmax(model.head(torch.cat(embeddings, dim=1)), dim=1).numpy()
    finally:
        Musicnn.fast_inference = True
    assert shared.shape == reference.shape == (3, 10)
    np.testing.assert_allclose(shared, reference, atol=1e-5)
    assert np.abs(shared - shared.mean(0)).max() > 1e-4  # three patches, three different answers: not a constant
