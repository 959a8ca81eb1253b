"""A run's own model input for a clip: MFCC segments, musicnn log-mel patches or
spectrogram windows, exactly as :func:`gtzan_core.inference.predict` feeds them
(both ask the run's input kind: :meth:`gtzan_core.inputs.InputKind.model_input`)."""

from __future__ import annotations

import numpy as np

from ..audio import DecodedAudio
from ..features import MFCCParams
from ..inputs import Clip, ModelInput, get_kind

__all__ = ["ModelInput", "model_input"]


def model_input(y: np.ndarray, meta: dict, kind: str, mfcc: MFCCParams | None = None,
                decoded: DecodedAudio | None = None) -> ModelInput:
    """``y`` is the clip at ``mfcc.sr``; ``decoded`` (the clip at its own rate) feeds
    musicnn without a second resampling when given. ``meta``: the run's checkpoint
    meta (its model, its feature parameters)."""
    from ..models import MODELS

    clip = Clip(y, mfcc or MFCCParams(), decoded)
    return get_kind(kind).model_input(clip, meta, MODELS.get(meta.get("model")))
