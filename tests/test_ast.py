"""The spectrogram Transformer (AST): the model, its recipe knobs, training, prediction,
attention rollout (and the sanity checks it is held to) and ONNX export."""

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from gtzan_core import GENRES
from gtzan_core.errors import ConfigError
from gtzan_core.hparams import make_config, model_defaults
from gtzan_core.models import MODELS, build_model, count_parameters, describe_models

META = {"model": "ast", "musicnn_params": None}


def test_registered_with_citation_licence_and_parameter_count():
    spec = MODELS["ast"]
    assert spec.family == "transformer" and spec.input_kind == "musicnn" and "2104.01778" in spec.citation
    row = next(r for r in describe_models() if r["name"] == "ast")
    model, _ = build_model("ast")
    assert row["trainable_params"] == count_parameters(model) == row["total_params"]
    assert row["input_shape"] == [187, 96] and row["licence"]


def test_forward_shapes_attention_and_options():
    torch.manual_seed(0)
    model, weights = build_model("ast", depth=2, width=32, dropout=0.0)
    assert not weights.pretrained and len(model.blocks) == 2 and model.grid == (6, 12)
    x = torch.randn(3, 187, 96)
    model.eval()
    logits = model(x)
    logits2, attention = model(x, return_attention=True)
    assert logits.shape == (3, 10) and len(attention) == 2
    assert attention[0].shape == (3, 4, 73, 73)  # 4 heads; the class token + 6 x 12 patches
    assert torch.allclose(attention[0].sum(-1), torch.ones(3, 4, 73), atol=1e-5)
    # the explicit softmax (kept for rollout) is the same attention as scaled_dot_product_attention
    assert torch.allclose(logits, logits2, atol=1e-5)
    with pytest.raises(ConfigError, match="multiple of heads"):
        build_model("ast", width=30)


def test_short_and_long_clips_give_the_model_its_patches(tmp_path):
    from gtzan_core.explain.inputs import model_input
    from gtzan_core.mel_patches import MusicnnParams

    meta = {"model": "ast", "musicnn_params": MusicnnParams().as_dict()}
    model, _ = build_model("ast")
    model.eval()
    rng = np.random.default_rng(0)
    short = model_input(0.1 * rng.standard_normal(int(2.0 * 22050)).astype(np.float32), meta, "musicnn")
    long = model_input(0.1 * rng.standard_normal(int(31.0 * 22050)).astype(np.float32), meta, "musicnn")
    assert short.x.shape == (1, 187, 96)  # a 2 s clip repeat-padded to one patch, as for musicnn
    assert long.x.shape == (10, 187, 96)
    with torch.no_grad():
        assert model(short.x).shape == (1, 10) and model(long.x).shape == (10, 10)


def test_recipe_knobs_are_named_and_recorded_as_changes():
    d = model_defaults("ast", "paper")
    assert d["optimizer"] == "adamw" and d["schedule"] == "cosine" and d["warmup_epochs"] > 0
    assert d["time_mask"] > 0 and d["freq_mask"] > 0 and d["mixup"] > 0 and d["weight_decay"] > 0
    assert model_defaults("ast", "studio") == d
    assert make_config("ast").recipe_changes() == {}
    ablation = make_config("ast", time_mask=0, freq_mask=0, mixup=0.0, width=32)
    assert ablation.recipe_changes() == {"time_mask": 0, "freq_mask": 0, "mixup": 0.0, "width": 32}
    assert ablation.model_options() == {"depth": d["depth"], "width": 32, "dropout": d["dropout"]}
    # the paper's models keep their recipes: Adam, constant lr, no masks, no mixup, no change recorded
    for name in ("mlp", "cnn", "lstm", "gru", "vgg19", "resnext", "squeezenet", "musicnn", "efficientnet_lite0"):
        for recipe in ("paper", "studio"):
            c = make_config(name, recipe=recipe)
            assert (c.optimizer, c.schedule, c.warmup_epochs, c.time_mask, c.freq_mask, c.mixup) == \
                ("adam", "constant", 0, 0, 0, 0.0)
            assert c.recipe_changes() == {}
    # a knob set on another model is a recorded change even though its recipe does not name it
    assert make_config("cnn", recipe="studio", mixup=0.4).recipe_changes() == {"mixup": 0.4}
    with pytest.raises(ConfigError, match="no depth"):
        make_config("cnn", depth=3)
    with pytest.raises(ConfigError, match="no time and frequency axes"):
        make_config("squeezenet", time_mask=10)
    with pytest.raises(ConfigError, match="frozen backbone"):
        make_config("musicnn", freq_mask=10)
    with pytest.raises(ConfigError, match="optimizer"):
        make_config("ast", optimizer="sgd")


def test_schedule_and_augmentation():
    from gtzan_core.training.recipe import Augment, lr_factor

    config = make_config("ast", epochs=10, warmup_epochs=2)
    factors = [lr_factor(s, 5, config) for s in range(50)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)  # linear warm-up, 10 steps
    assert all(a >= b for a, b in zip(factors[9:], factors[10:], strict=False))  # then a cosine decay
    assert factors[-1] < 0.01
    assert lr_factor(30, 5, make_config("cnn", recipe="studio")) == 1.0  # everyone else: constant

    x = torch.ones(64, 187, 96)
    y = torch.arange(64) % 10
    masked, mixed, lam = Augment(make_config("ast", mixup=0.0, time_mask=30, freq_mask=20), (1, 2))(x, y)
    assert mixed is None and lam == 1.0 and x.min() == 1  # the stored input is left alone
    zero = masked == 0
    frames_out = zero.all(2).sum(1)  # whole frames masked per sample
    bands_out = zero.all(1).sum(1)
    assert frames_out.max() <= 30 and bands_out.max() <= 20 and frames_out.float().mean() > 5
    assert bands_out.float().mean() > 3
    assert ((masked == 0) | (masked == 1)).all()
    mix, other, lam = Augment(make_config("ast", time_mask=0, freq_mask=0, mixup=0.4), (1, 2))(
        torch.arange(64.0)[:, None, None].expand(64, 2, 2), y)
    assert other is not None and 0 < lam < 1 and not torch.equal(mix[:, 0, 0], torch.arange(64.0))


@pytest.mark.heavy
def test_cli_trains_predicts_explains_and_records_its_recipe(tiny_demo_set, tmp_path, capsys):
    from gtzan_core.cli import main
    from gtzan_core.runs import RunStore

    runs = tmp_path / "runs"
    assert main(["train", "ast", "--data", str(tiny_demo_set.root), "--epochs", "2", "--device", "cpu",
                 "--runs", str(runs), "--allow-weak-split", "--mixup", "0", "--width", "32", "--depth", "2"]) == 0
    out = capsys.readouterr().out
    assert "mixup 0" in out and "width 32" in out  # the recipe label names the changes
    store = RunStore(runs)
    (record,) = store.list()
    assert record["status"] == "finished" and record["family"] == "transformer" and record["input_kind"] == "musicnn"
    assert record["recipe_changes"] == {"epochs": 2, "mixup": 0.0, "width": 32, "depth": 2}
    assert record["config"]["optimizer"] == "adamw" and record["config"]["time_mask"] == 36
    assert record["trainable_params"] == count_parameters(build_model("ast", width=32, depth=2)[0])
    clip = tiny_demo_set.tracks["audio_path"][0]
    assert main(["predict", str(clip), "--runs", str(runs), "--json"]) == 0
    pred = json.loads(capsys.readouterr().out)[record["run_id"]]
    assert pred["unit"] == "patch" and pred["segments"] == 2 and pred["top"] in GENRES  # 6.2 s: two patches
    assert sum(pred["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert main(["explain", str(clip), "--run", record["run_id"], "--runs", str(runs), "--json"]) == 0
    ex = json.loads(capsys.readouterr().out)
    assert set(ex["methods"]) == {"occlusion", "segments", "rollout"}  # no Grad-CAM: not a conv model
    assert ex["methods"]["rollout"]["shape"] == [96, 2 * 187]  # mel bands x the two patches' frames
