"""The paper's fine-tuned ImageNet models (input: batch x 3 x 224 x 224, normalised).

Each model is a :class:`FineTuneModel`: a ``backbone`` (the torchvision network
without its last layer) and a new ``head``. With the backbone frozen, training
runs the backbone once per image and fits the head on the cached outputs.

Weights come through torchvision's weight enums and the torch hub cache
(``$TORCH_HOME/hub/checkpoints/<file>``). When the file is missing and cannot be
downloaded (no internet), the backbone keeps its random initialisation and the
caller is told so: run records then say ``pretrained: false``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .layers import Dropout

log = logging.getLogger(__name__)


class FineTuneModel(nn.Module):
    def __init__(self, backbone: nn.Module, head: nn.Module, frozen: bool = True):
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.frozen = frozen
        if frozen:
            for p in self.backbone.parameters():
                p.requires_grad_(False)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.frozen:
            self.backbone.eval()  # frozen batch-norm statistics and no dropout in the backbone
        return self

    def forward(self, x):
        return self.head(self.backbone(x))


@dataclass
class WeightsStatus:
    pretrained: bool
    source: str  # file path, or why random init was used


def weights_path(weights) -> Path:
    """Where torchvision keeps ``weights`` in the hub cache (honours $TORCH_HOME)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)


def load_imagenet_weights(model: nn.Module, weights, allow_download: bool | None = None) -> WeightsStatus:
    """Load ``weights`` (a torchvision weight enum) into ``model`` from the hub cache,
    downloading it first when allowed. Never raises for missing weights."""
    path = weights_path(weights)
    if allow_download is None:
        allow_download = os.environ.get("GTZAN_STUDIO_OFFLINE", "") in ("", "0")
    if not path.is_file() and allow_download:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(weights.url, str(path), progress=False)
        except Exception as exc:  # no internet, proxy, disk...
            log.warning("could not download %s: %s", weights.url, exc)
            path.unlink(missing_ok=True)
    if not path.is_file():
        return WeightsStatus(False, f"ImageNet weights not found at {path}; using random initialisation")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as exc:
        return WeightsStatus(False, f"ImageNet weights at {path} could not be loaded ({exc}); using random initialisation")
    return WeightsStatus(True, str(path))


def _tv():
    import torchvision.models as tvm

    return tvm


RESNEXT_VARIANTS = ("resnext50_32x4d", "resnext101_32x8d")


def imagenet_weights(model_name: str, variant: str = "resnext50_32x4d"):
    """torchvision's ImageNet weight enum for one of our image models."""
    tvm = _tv()
    if model_name == "vgg19":
        return tvm.VGG19_Weights.IMAGENET1K_V1
    if model_name == "squeezenet":
        return tvm.SqueezeNet1_1_Weights.IMAGENET1K_V1
    if model_name == "resnext":
        if variant not in RESNEXT_VARIANTS:
            from ..errors import ConfigError

            raise ConfigError(f"unknown ResNeXt variant {variant!r}; choose {', '.join(RESNEXT_VARIANTS)}")
        return (tvm.ResNeXt101_32X8D_Weights.IMAGENET1K_V2 if variant == "resnext101_32x8d"
                else tvm.ResNeXt50_32X4D_Weights.IMAGENET1K_V2)
    raise ValueError(model_name)


def imagenet_weights_available(model_name: str, variant: str = "resnext50_32x4d") -> bool:
    """Whether the hub cache already holds the ImageNet weights of ``model_name``."""
    return weights_path(imagenet_weights(model_name, variant)).is_file()


def build_vgg19(n_classes: int = 10, pretrained: bool = True, frozen: bool = True, hidden: int = 512,
                dropout: float = 0.5):
    """VGG19 (Simonyan & Zisserman 2014): the convolutional part, average pool removed,
    classifier replaced by Linear(25088, hidden) -> ReLU -> Dropout -> Linear(hidden, classes)."""
    tvm = _tv()
    net = tvm.vgg19(weights=None)
    status = load_imagenet_weights(net, imagenet_weights("vgg19")) if pretrained else WeightsStatus(False, "not requested")
    backbone = nn.Sequential(net.features, nn.Flatten())
    head = nn.Sequential(nn.Linear(512 * 7 * 7, hidden), nn.ReLU(), Dropout(dropout), nn.Linear(hidden, n_classes))
    return FineTuneModel(backbone, head, frozen), status


def build_resnext(n_classes: int = 10, pretrained: bool = True, frozen: bool = True, variant: str = "resnext50_32x4d"):
    """ResNeXt (torchvision ``resnext50_32x4d`` or ``resnext101_32x8d``) with ``fc`` replaced."""
    weights = imagenet_weights("resnext", variant)  # validates the variant
    net = getattr(_tv(), variant)(weights=None)
    status = load_imagenet_weights(net, weights) if pretrained else WeightsStatus(False, "not requested")
    width = net.fc.in_features
    net.fc = nn.Identity()
    return FineTuneModel(net, nn.Linear(width, n_classes), frozen), status


def build_squeezenet(n_classes: int = 10, pretrained: bool = True, frozen: bool = True, dropout: float = 0.5):
    """SqueezeNet 1.1 (Iandola et al. 2016) with the final classifier conv replaced by a
    512 -> classes 1x1 conv (then ReLU and global average pool, as in torchvision)."""
    tvm = _tv()
    net = tvm.squeezenet1_1(weights=None)
    status = load_imagenet_weights(net, imagenet_weights("squeezenet")) if pretrained else WeightsStatus(False, "not requested")
    head = nn.Sequential(Dropout(dropout), nn.Conv2d(512, n_classes, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    return FineTuneModel(net.features, head, frozen), status

