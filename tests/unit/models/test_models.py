import pytest
import torch

from gtzan_core.errors import ConfigError
from gtzan_core.models import MODELS, build_model, count_parameters, get_spec
from gtzan_core.models.weights import backbone_weights, weights_path

# Trainable parameters per model, those of the paper's code (paper-recipe.md); image
# models: the new head on a frozen backbone (ResNeXt: the paper's ResNeXt-101 32x8d WSL).
EXPECTED_PARAMS = {"mlp": 1_014_218, "cnn": 173_682, "lstm": 58_314, "gru": 44_938,
                   "vgg19": 104_996_106, "resnext": 20_490, "squeezenet": 5_130,
                   # the pretrained family: a new head on the frozen network (200 -> 10, 1280 -> 10)
                   "musicnn": 2_010, "musicnn_mtt": 2_010, "musicnn_both": 4_010, "musicnn_vgg": 2_570,
                   "musicnn_vgg_mtt": 2_570, "efficientnet_lite0": 12_810,
                   # on the 57-feature vector: the paper's MLP layers; the scikit-learn models hold arrays only
                   "feature_mlp": 178_122, "logreg": 0, "svm": 0, "hgb": 0,
                   # the spectrogram Transformer, from scratch: depth 4, width 64, 4 heads, 72 patches + class token
                   "ast": 221_898}
IMAGE_SIZES = {"vgg19": 224, "resnext": 256, "squeezenet": 256, "efficientnet_lite0": 224}


@pytest.mark.parametrize("name", list(MODELS))
def test_output_shape_and_parameter_count(name):
    spec = get_spec(name)
    family_options = {"pretrained": False} if spec.family == "pretrained" else {}  # no weights needed here
    model, status = build_model(name, **family_options)
    kind = spec.input_kind
    assert spec.image_size == IMAGE_SIZES.get(name)
    x = {"mfcc": torch.randn(3, 130, 13), "musicnn": torch.randn(3, 187, 96), "vector": torch.randn(3, 57)}.get(kind)
    if x is None:
        x = torch.randn(3, 3, IMAGE_SIZES[name], IMAGE_SIZES[name])
    assert tuple(x.shape[1:]) == spec.input_shape()
    model.eval()
    with torch.no_grad():
        assert tuple(model(x).shape) == (3, 10)
    assert count_parameters(model) == EXPECTED_PARAMS[name]
    if spec.frozen_backbone:
        assert status.pretrained is False
        assert "random initialisation" in status.source or status.source == "not requested"
        assert all(not p.requires_grad for p in model.backbone.parameters())


def test_unfrozen_backbone_is_trainable():
    model, _ = build_model("squeezenet", frozen=False)
    assert count_parameters(model) == count_parameters(model, trainable_only=False) > 700_000


def test_frozen_backbone_stays_in_eval_mode():
    model, _ = build_model("resnext")
    model.train()
    assert not model.backbone.training and model.head.training


def test_models_json_lists_the_paper_counts_sizes_and_weights(capsys):
    import json

    from gtzan_core.cli import main

    assert main(["models", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert {k: r["trainable_params"] for k, r in rows.items()} == EXPECTED_PARAMS
    assert all(r["citation"] and r["licence"] for r in rows.values())
    assert rows["musicnn"]["family"] == rows["efficientnet_lite0"]["family"] == "pretrained"
    assert "Pons & Serra 2019" in rows["musicnn"]["citation"] and rows["musicnn"]["licence"].startswith("ISC")
    assert "Tan & Le 2019" in rows["efficientnet_lite0"]["citation"]
    assert rows["efficientnet_lite0"]["licence"].startswith("Apache-2.0")
    assert rows["musicnn"]["input_kind"] == "musicnn" and rows["musicnn"]["input_shape"] == [187, 96]
    # no musicnn weights in the test's fresh studio home: said, with the command that fetches them
    assert rows["musicnn"]["weights_available"] is False
    assert "python -m gtzan_core weights --fetch musicnn" in rows["musicnn"]["weights_missing"]
    assert rows["resnext"]["weights_file"] == "ig_resnext101_32x8-c38310e5.pth"
    assert rows["resnext"]["input_shape"] == [3, 256, 256] and rows["vgg19"]["input_shape"] == [3, 224, 224]
    assert rows["squeezenet"]["input_kind"] == "image" and rows["mlp"]["weights"] is None
    assert main(["models", "--json", "--variant", "resnext50_32x4d"]) == 0
    small = {r["name"]: r for r in json.loads(capsys.readouterr().out)}["resnext"]
    assert small["trainable_params"] == 20_490 and small["weights_file"].startswith("resnext50_32x4d-")


def test_weights_files_are_torchvisions():
    """Our ImageNet file names are those of torchvision's weight enums (the hub cache names)."""
    import os

    import torchvision.models as tvm

    for ours, enum in ((backbone_weights("vgg19"), tvm.VGG19_Weights.IMAGENET1K_V1),
                       (backbone_weights("squeezenet"), tvm.SqueezeNet1_1_Weights.IMAGENET1K_V1),
                       (backbone_weights("resnext", "resnext101_32x8d"), tvm.ResNeXt101_32X8D_Weights.IMAGENET1K_V2),
                       (backbone_weights("resnext", "resnext50_32x4d"), tvm.ResNeXt50_32X4D_Weights.IMAGENET1K_V2)):
        assert ours.url == enum.url and ours.file == os.path.basename(enum.url)


def test_vgg19_head_is_the_papers():
    with torch.device("meta"):
        model, _ = build_model("vgg19", pretrained=False)
    linears = [m for m in model.head if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(25088, 4096), (4096, 512), (512, 256), (256, 10)]
    drops = [m for m in model.head if isinstance(m, torch.nn.Dropout)]
    assert len(drops) == 3 and all(d.p == 0.5 for d in drops)


def test_resnext_variants_and_unknown_variant():
    with torch.device("meta"):
        model, _ = build_model("resnext", variant="resnext50_32x4d", pretrained=False)
    assert model.head.in_features == 2048
    with pytest.raises(ConfigError, match="unknown ResNeXt variant"):
        build_model("resnext", variant="resnext9000")


def test_unknown_model():
    with pytest.raises(ConfigError, match="unknown model 'transformer'"):
        build_model("transformer")


def test_imagenet_weights_load_from_torch_home_cache(tmp_path, monkeypatch):
    """The real loading path: torchvision's weight enum -> $TORCH_HOME/hub/checkpoints/<file>."""
    import torchvision.models as tvm

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    donor = tvm.squeezenet1_1(weights=None)
    with torch.no_grad():
        donor.features[0].weight.fill_(0.125)
    path = weights_path(backbone_weights("squeezenet"))
    assert path.parent == tmp_path / "hub" / "checkpoints" and path.name.startswith("squeezenet1_1-")
    path.parent.mkdir(parents=True)
    torch.save(donor.state_dict(), path)
    model, status = build_model("squeezenet", pretrained=True)
    assert status.pretrained and status.source == str(path)
    assert torch.all(model.backbone[0].weight == 0.125)


def test_damaged_weights_file_falls_back_to_random_init(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    path = weights_path(backbone_weights("squeezenet"))
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not weights")
    _, status = build_model("squeezenet", pretrained=True)
    assert not status.pretrained and "could not be loaded" in status.source


def test_fast_dropout_is_inverted_dropout():
    from gtzan_core.models.layers import Dropout

    torch.manual_seed(0)
    drop = Dropout(0.3)
    x = torch.ones(200_000)
    y = drop(x)
    kept = y != 0
    assert abs(kept.float().mean().item() - 0.7) < 0.01
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / 0.7))
    drop.eval()
    assert torch.equal(drop(x), x)
    assert torch.equal(Dropout(1.0)(x), torch.zeros_like(x))


@pytest.mark.heavy
def test_resnext_defaults_to_the_wsl_weights_from_the_hub_cache(tmp_path, monkeypatch):
    """The paper's ResNeXt: the WSL file (ig_resnext101_32x8-c38310e5.pth) loads into torchvision's
    resnext101_32x8d; its name and SHA-256 are recorded."""
    import hashlib

    import torchvision.models as tvm

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    donor = tvm.resnext101_32x8d(weights=None)
    with torch.no_grad():
        donor.conv1.weight.fill_(0.25)
    path = weights_path(backbone_weights("resnext"))
    assert path == tmp_path / "hub" / "checkpoints" / "ig_resnext101_32x8-c38310e5.pth"
    path.parent.mkdir(parents=True)
    torch.save(donor.state_dict(), path)
    model, status = build_model("resnext")
    assert status.pretrained and status.file == path.name and "WSL" in status.weights
    assert status.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert torch.all(model.backbone.conv1.weight == 0.25) and count_parameters(model) == 20_490
