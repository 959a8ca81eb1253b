"""Input kinds: what a model reads, each kind one object in one module of this package.

=============  ==============================================================
module         what it holds
=============  ==============================================================
``base``       :class:`InputKind` (the interface and its shared defaults),
               :class:`Clip` (a clip decoded once), :class:`ModelInput`
``mfcc``       MFCC segments (3 s, 22.05 kHz): MLP, CNN, LSTM, GRU
``image``      spectrogram pictures at the model's size: VGG19, ResNeXt,
               SqueezeNet, EfficientNet-Lite0
``musicnn``    musicnn's log-mel patches (16 kHz, 96 bands, 187 frames):
               musicnn, AST (the spectrogram Transformer)
``vector``     one handcrafted feature vector per track (the Kaggle table's
               57): logistic regression, SVM, gradient boosting, MLP
=============  ==============================================================

A kind owns its features end to end, so no other module branches on a kind's name
(``tests/project/test_structure.py`` checks it, and that the feature cache, inference
and the trainer name no kind at all): its parameters and what to extract
(:meth:`~InputKind.params`, :meth:`~InputKind.feature_request`), its extractor
(:meth:`~InputKind.extract` / :meth:`~InputKind.extract_track`, handed each track's audio
decoded once), its rows in a :class:`~gtzan_core.feature_cache.FeatureSet`
(``inputs[name]``) and which tracks have them, how short clips are padded and counted,
how the split treats it (``unit``, ``per_track``),
what the trainer checks, prepares per batch and records, the input shape, a clip's
prediction windows and explanation input (:meth:`~InputKind.model_input`), how an
explanation is laid out and drawn, and the model card's preprocessing text.

A model names its kind (``ModelSpec.input_kind``, the string run records keep;
``ModelSpec.kind`` is the object). Adding a model on an existing kind is one
registered :class:`~gtzan_core.models.ModelSpec`; adding a kind is one module with an
:class:`InputKind` subclass and one :func:`register_kind` line, with no edit to the
feature cache, the trainer, inference or discovery (``tests/unit/inputs/test_new_kind.py``
writes a chroma kind that way). What the pages say about a
kind is the web layer's (:mod:`gtzan_core.webapp.kinds`).
"""

from __future__ import annotations

from ..errors import ConfigError
from .base import Clip, InputKind, ModelInput

KINDS: dict[str, InputKind] = {}

#: The kind of a record that names none (runs from before kinds were recorded).
DEFAULT_KIND = "mfcc"


def register_kind(kind: InputKind) -> InputKind:
    if not kind.name:
        raise ConfigError("an input kind needs a name")
    KINDS[kind.name] = kind
    return kind


def get_kind(name: str) -> InputKind:
    try:
        return KINDS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown input kind {name!r}; the studio has {', '.join(KINDS)}") from None


def kind_of(record: dict) -> InputKind:
    """The input kind a run record (or an archive's features.json) names."""
    return get_kind(record.get("input_kind") or DEFAULT_KIND)


def default_request(source: str = "auto") -> dict:
    """What a dataset's features hold when no model is named (``load_features(ds)``, the
    ``features`` command): the MFCC segments and the pictures at the default size."""
    from ..features import ImageParams, MFCCParams

    return {"mfcc": MFCCParams(), "image": ImageParams(source=source)}


def _register_builtin() -> None:
    from . import image, mfcc, musicnn, vector

    for module in (mfcc, image, musicnn, vector):
        register_kind(module.KIND)


_register_builtin()

__all__ = ["Clip", "DEFAULT_KIND", "InputKind", "KINDS", "ModelInput", "default_request", "get_kind", "kind_of",
           "register_kind"]
