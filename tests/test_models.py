import pytest
import torch

from gtzan_core.errors import ConfigError
from gtzan_core.models import MODELS, build_model, count_parameters, get_spec
from gtzan_core.models.pretrained import weights_path

# Trainable parameters per model (image models: the new head; backbone frozen).
EXPECTED_PARAMS = {"mlp": 1_014_218, "cnn": 212_082, "lstm": 58_314, "gru": 44_938,
                   "vgg19": 12_850_698, "resnext": 20_490, "squeezenet": 5_130}


@pytest.mark.parametrize("name", list(MODELS))
def test_output_shape_and_parameter_count(name):
    model, status = build_model(name)
    kind = get_spec(name).input_kind
    x = torch.randn(3, 130, 13) if kind == "mfcc" else torch.randn(3, 3, 224, 224)
    model.eval()
    with torch.no_grad():
        assert tuple(model(x).shape) == (3, 10)
    assert count_parameters(model) == EXPECTED_PARAMS[name]
    if kind == "image":
        assert status.pretrained is False and "random initialisation" in status.source
        assert all(not p.requires_grad for p in model.backbone.parameters())


def test_unfrozen_backbone_is_trainable():
    model, _ = build_model("squeezenet", frozen=False)
    assert count_parameters(model) == count_parameters(model, trainable_only=False) > 700_000


def test_frozen_backbone_stays_in_eval_mode():
    model, _ = build_model("resnext")
    model.train()
    assert not model.backbone.training and model.head.training


def test_resnext101_variant_and_unknown_variant():
    model, _ = build_model("resnext", variant="resnext101_32x8d")
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
    path = weights_path(tvm.SqueezeNet1_1_Weights.IMAGENET1K_V1)
    assert path.parent == tmp_path / "hub" / "checkpoints" and path.name.startswith("squeezenet1_1-")
    path.parent.mkdir(parents=True)
    torch.save(donor.state_dict(), path)
    model, status = build_model("squeezenet", pretrained=True)
    assert status.pretrained and status.source == str(path)
    assert torch.all(model.backbone[0].weight == 0.125)


def test_damaged_weights_file_falls_back_to_random_init(tmp_path, monkeypatch):
    import torchvision.models as tvm

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    path = weights_path(tvm.SqueezeNet1_1_Weights.IMAGENET1K_V1)
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
