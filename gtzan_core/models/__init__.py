"""Model registry: name -> builder, input kind and citation.

``build_model(name, **options)`` returns ``(module, WeightsStatus)``. All models
output logits; probabilities are computed in one place, at inference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..errors import ConfigError
from .pretrained import WeightsStatus


@dataclass(frozen=True)
class ModelSpec:
    name: str
    title: str
    input_kind: str  # "mfcc" or "image"
    citation: str
    builder: Callable


def _mlp(n_classes=10, frames=130, n_mfcc=13, **kw):
    from .mfcc_models import MLP

    return MLP(frames, n_mfcc, n_classes, **kw), WeightsStatus(False, "trained from scratch")


def _cnn(n_classes=10, frames=130, n_mfcc=13, **kw):
    from .mfcc_models import CNN

    return CNN(frames, n_mfcc, n_classes, **kw), WeightsStatus(False, "trained from scratch")


def _rnn(cell):
    def build(n_classes=10, frames=130, n_mfcc=13, **kw):
        from .mfcc_models import RNN

        return RNN(cell, n_mfcc, n_classes, frames=frames, **kw), WeightsStatus(False, "trained from scratch")

    return build


def _image(builder_name):
    def build(n_classes=10, frames=None, n_mfcc=None, **kw):
        from . import pretrained

        return getattr(pretrained, builder_name)(n_classes, **kw)

    return build


MODELS: dict[str, ModelSpec] = {
    "mlp": ModelSpec("mlp", "MLP", "mfcc", "Multilayer perceptron baseline (paper §3.2)", _mlp),
    "cnn": ModelSpec("cnn", "CNN", "mfcc", "3-block CNN on MFCCs (paper §3.3.2)", _cnn),
    "lstm": ModelSpec("lstm", "LSTM", "mfcc", "Hochreiter & Schmidhuber 1997; 2 layers, hidden 64 (paper §3.3.2)", _rnn("lstm")),
    "gru": ModelSpec("gru", "GRU", "mfcc", "Cho et al. 2014; 2 layers, hidden 64 (paper §3.3.2)", _rnn("gru")),
    "vgg19": ModelSpec("vgg19", "VGG19", "image", "Simonyan & Zisserman 2014, arXiv:1409.1556", _image("build_vgg19")),
    "resnext": ModelSpec("resnext", "ResNeXt", "image", "Xie et al. 2017, arXiv:1611.05431 (torchvision)", _image("build_resnext")),
    "squeezenet": ModelSpec("squeezenet", "SqueezeNet", "image", "Iandola et al. 2016, arXiv:1602.07360", _image("build_squeezenet")),
}


def get_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}") from None


def build_model(name: str, n_classes: int = 10, **options):
    """Build model ``name``; ``options`` are the builder's keyword arguments
    (e.g. ``frames``/``n_mfcc`` for MFCC models, ``pretrained``/``frozen`` for image models)."""
    spec = get_spec(name)
    try:
        return spec.builder(n_classes=n_classes, **options)
    except TypeError as exc:
        raise ConfigError(f"bad option for model {name!r}: {exc}") from None


def count_parameters(model, trainable_only: bool = True) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
