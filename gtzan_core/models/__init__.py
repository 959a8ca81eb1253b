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
    image_size: int | None = None  # image models: the square input size of the paper's code

    def input_shape(self, frames: int = 130, n_mfcc: int = 13) -> tuple[int, ...]:
        """One sample's input shape: (frames, n_mfcc) or (3, size, size)."""
        return (frames, n_mfcc) if self.input_kind == "mfcc" else (3, self.image_size, self.image_size)


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
    "vgg19": ModelSpec("vgg19", "VGG19", "image", "Simonyan & Zisserman 2014, arXiv:1409.1556",
                       _image("build_vgg19"), image_size=224),
    "resnext": ModelSpec("resnext", "ResNeXt", "image",
                         "Xie et al. 2017, arXiv:1611.05431; WSL weights: Mahajan et al. 2018, arXiv:1805.00932",
                         _image("build_resnext"), image_size=256),
    "squeezenet": ModelSpec("squeezenet", "SqueezeNet", "image", "Iandola et al. 2016, arXiv:1602.07360",
                            _image("build_squeezenet"), image_size=256),
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


def describe_models(variant: str | None = None) -> list[dict]:
    """One row per model: trainable/total parameters (frozen backbones, as trained
    by default), input kind and shape, and the pretrained weights it starts from.
    Built on the ``meta`` device: no memory, no weights read."""
    import torch

    from .pretrained import backbone_weights

    rows = []
    for name, spec in MODELS.items():
        options = {"pretrained": False} if spec.input_kind == "image" else {}
        if name == "resnext" and variant:
            options["variant"] = variant
        with torch.device("meta"):
            model, _ = build_model(name, **options)
        weights = backbone_weights(name, options.get("variant")) if spec.input_kind == "image" else None
        rows.append({
            "name": name, "title": spec.title, "input_kind": spec.input_kind,
            "input_shape": list(spec.input_shape()), "image_size": spec.image_size,
            "trainable_params": count_parameters(model), "total_params": count_parameters(model, False),
            "weights": weights.name if weights else None, "weights_file": weights.file if weights else None,
            "citation": spec.citation,
        })
    return rows
