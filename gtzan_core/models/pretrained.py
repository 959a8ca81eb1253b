"""The paper's fine-tuned image models, as in its code (see ``paper-recipe.md``).

Each model is a :class:`FineTuneModel`: a ``backbone`` (the torchvision network
without its last layer) and a new ``head``. With the backbone frozen, training
runs the backbone once per image and fits the head on the cached outputs.

=============  ======================================  =====================================  ======  ===========
model          backbone (weights)                      head                                   input   trainable
=============  ======================================  =====================================  ======  ===========
vgg19          ``vgg19`` (ImageNet IMAGENET1K_V1),     25088 -> 4096 -> 512 -> 256 -> 10,      224²    104,996,106
               average pool removed                    ReLU + dropout 0.5 after each hidden
resnext        ``resnext101_32x8d`` with the WSL       Linear(2048, 10)                        256²    20,490
               (Instagram) weights
squeezenet     ``squeezenet1_1`` (ImageNet)            the classifier with its last conv       256²    5,130
                                                       replaced by Conv2d(512, 10, 1)
=============  ======================================  =====================================  ======  ===========

ResNeXt has named variants for smaller machines: ``resnext101_32x8d`` and
``resnext50_32x4d`` with torchvision's ImageNet weights.

Weights come from the torch hub cache (``$TORCH_HOME/hub/checkpoints/<file>``),
downloaded there when the machine has internet (:mod:`.weights`). When the file is
missing or cannot be read, the backbone keeps its random initialisation and the
caller is told so: run records then say ``pretrained: false``.
"""

from __future__ import annotations

from torch import nn

from .layers import Dropout
from .weights import BackboneWeights, WeightsStatus, backbone_weights, load_pretrained


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


def _tv():
    import torchvision.models as tvm

    return tvm


def _net(weights: BackboneWeights, pretrained: bool) -> tuple[nn.Module, WeightsStatus]:
    net = getattr(_tv(), weights.arch)(weights=None)
    status = load_pretrained(net, weights) if pretrained else WeightsStatus(False, "not requested")
    return net, status


def _mlp_head(sizes: tuple[int, ...], n_classes: int, dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes, sizes[1:], strict=False):
        layers += [nn.Linear(a, b), nn.ReLU(), Dropout(dropout)]
    layers.append(nn.Linear(sizes[-1], n_classes))
    return nn.Sequential(*layers)


def build_vgg19(n_classes: int = 10, pretrained: bool = True, frozen: bool = True,
                hidden: tuple[int, ...] = (4096, 512, 256), dropout: float = 0.5):
    """VGG19 (Simonyan & Zisserman 2014), as in the paper's code: the convolutional
    part, average pool removed (25,088 features at 224²), classifier replaced by
    25088 -> 4096 -> 512 -> 256 -> classes with ReLU and dropout 0.5 after each hidden layer."""
    net, status = _net(backbone_weights("vgg19"), pretrained)
    backbone = nn.Sequential(net.features, nn.Flatten())
    return FineTuneModel(backbone, _mlp_head((512 * 7 * 7, *hidden), n_classes, dropout), frozen), status


def build_resnext(n_classes: int = 10, pretrained: bool = True, frozen: bool = True, variant: str | None = None):
    """ResNeXt with ``fc`` replaced by Linear(2048, classes). Default: ResNeXt-101 32x8d
    with the WSL (Instagram) weights, as in the paper; ``variant`` ``resnext101_32x8d``
    or ``resnext50_32x4d`` use torchvision's ImageNet weights."""
    net, status = _net(backbone_weights("resnext", variant), pretrained)
    width = net.fc.in_features
    net.fc = nn.Identity()
    return FineTuneModel(net, nn.Linear(width, n_classes), frozen), status


def build_squeezenet(n_classes: int = 10, pretrained: bool = True, frozen: bool = True, dropout: float = 0.5):
    """SqueezeNet 1.1 (Iandola et al. 2016) with the final classifier conv replaced by a
    512 -> classes 1x1 conv (then ReLU and global average pool, as in torchvision)."""
    net, status = _net(backbone_weights("squeezenet"), pretrained)
    head = nn.Sequential(Dropout(dropout), nn.Conv2d(512, n_classes, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten())
    return FineTuneModel(net.features, head, frozen), status
