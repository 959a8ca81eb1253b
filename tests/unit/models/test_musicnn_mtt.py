"""musicnn's MagnaTagATune network (``MTT_musicnn``, from the same fetched wheel as the MSD
one) as a backbone a run can use: the ``musicnn_mtt`` model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gtzan_core.errors import ConfigError
from gtzan_core.hparams import make_config
from gtzan_core.inference import clear_model_cache, predict
from gtzan_core.models import MODELS, build_model, check_weights, describe_models
from gtzan_core.models.musicnn import MTT_TAGS, load_musicnn
from gtzan_core.models.weights import backbone_weights
from gtzan_core.runs import RunStore
from tests.helpers import write_clip


def test_the_mtt_model_is_registered_with_its_own_weights_and_shapes():
    spec = MODELS["musicnn_mtt"]
    assert spec.input_kind == "musicnn" and spec.frozen_backbone and spec.family == "pretrained"
    assert backbone_weights("musicnn_mtt").file == "MTT_musicnn" != backbone_weights("musicnn").file
    assert backbone_weights("musicnn_mtt").folder == backbone_weights("musicnn").folder  # one wheel
    model, status = build_model("musicnn_mtt", pretrained=False)
    assert not status.pretrained
    with torch.no_grad():
        assert model(torch.randn(2, 187, 96)).shape == (2, 10)
    row = {r["name"]: r for r in describe_models()}["musicnn_mtt"]
    assert row["weights_file"] == "MTT_musicnn" and row["trainable_params"] == 2010
    assert row["input_shape"] == [187, 96]


def test_without_the_weights_a_run_is_refused_naming_the_fetch(monkeypatch, tmp_path):
    monkeypatch.setenv("GTZAN_STUDIO_WEIGHTS", str(tmp_path / "none"))
    with pytest.raises(ConfigError, match=r"musicnn \(MTT\): .*MTT.*python -m gtzan_core weights --fetch musicnn"):
        check_weights("musicnn_mtt")


def test_the_real_mtt_backbone_is_the_wheels_mtt_network(musicnn_weights):
    model, status = build_model("musicnn_mtt")
    assert status.pretrained and status.file == "MTT_musicnn"
    mtt = load_musicnn(musicnn_weights / "musicnn-0.1.0" / "MTT_musicnn")
    msd, _ = build_model("musicnn")
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(value, mtt.state_dict()[key]), key
    assert not torch.equal(model.backbone.dense.weight, msd.backbone.dense.weight)
    assert len(MTT_TAGS) == mtt.tags.out_features == 50


@pytest.mark.heavy
def test_a_run_on_the_mtt_backbone_trains_and_predicts(musicnn_weights, tiny_demo_set, tmp_path):
    from gtzan_core.feature_cache import feature_request, load_features
    from gtzan_core.jobs import train

    fs = load_features(tiny_demo_set, cache_dir=tmp_path / "features", **feature_request("musicnn_mtt"))
    store = RunStore(tmp_path / "runs")
    record = train(make_config("musicnn_mtt", recipe="studio", epochs=2, device="cpu"), fs, store)
    assert record["status"] == "finished" and record["model"] == "musicnn_mtt"
    assert record["weights"]["file"] == "MTT_musicnn"
    clear_model_cache()  # the head-only checkpoint is read back onto the MTT backbone
    clip = write_clip(tmp_path / "clip.wav", "metal", 7.0)
    result = predict(clip, [record["run_id"]], store).results[record["run_id"]]
    assert result.segment_probs.shape == (2, 10) and np.isclose(result.probs.sum(), 1.0)
