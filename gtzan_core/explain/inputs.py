"""A run's own model input for a clip: MFCC segments or spectrogram windows,
exactly as :func:`gtzan_core.inference.predict` feeds them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..features import ImageParams, MFCCParams, mfcc_segments, normalize_images


@dataclass
class ModelInput:
    kind: str  # "mfcc" or "image"
    x: torch.Tensor  # what the model takes: (n, frames, n_mfcc) or (n, 3, S, S) normalised
    starts: np.ndarray  # start time of each row, seconds
    seconds: float  # length of one row (3 s segment or 30 s window)
    display: np.ndarray  # what a person sees: MFCCs (n, frames, n_mfcc) or RGB windows (n, S, S, 3)


def model_input(y: np.ndarray, meta: dict, kind: str, mfcc: MFCCParams | None = None) -> ModelInput:
    from ..inference import image_windows

    mfcc = mfcc or MFCCParams()
    if kind == "mfcc":
        feats = mfcc_segments(y, mfcc.sr, mfcc)
        return ModelInput("mfcc", torch.from_numpy(feats), np.arange(len(feats)) * mfcc.segment_seconds,
                          mfcc.segment_seconds, feats)
    # drawn as the run's own pictures were (its style and input size), like predict()
    images, starts = image_windows(y, mfcc, ImageParams.of_run(meta.get("image_params")))
    return ModelInput("image", normalize_images(images), starts, mfcc.track_seconds, images)
