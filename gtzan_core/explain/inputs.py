"""A run's own model input for a clip: MFCC segments, musicnn log-mel patches or
spectrogram windows, exactly as :func:`gtzan_core.inference.predict` feeds them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..audio import DecodedAudio
from ..features import ImageParams, MFCCParams, mfcc_segments, normalize_images


@dataclass
class ModelInput:
    kind: str  # "mfcc", "musicnn" or "image"
    x: torch.Tensor  # what the model takes: (n, frames, n_mfcc), (n, 187, 96) or (n, 3, S, S) normalised
    starts: np.ndarray  # start time of each row, seconds
    seconds: float  # length of one row (3 s segment or patch, or 30 s window)
    display: np.ndarray  # what a person sees: MFCCs / log-mel patches (n, frames, bands) or RGB windows (n, S, S, 3)


#: The kinds whose input is a (time x band) grid per row, drawn as a heatmap.
GRID_KINDS = ("mfcc", "musicnn")


def model_input(y: np.ndarray, meta: dict, kind: str, mfcc: MFCCParams | None = None,
                decoded: DecodedAudio | None = None) -> ModelInput:
    """``y`` is the clip at ``mfcc.sr``; ``decoded`` (the clip at its own rate) feeds
    musicnn without a second resampling when given."""
    from ..inference import image_windows, musicnn_rows
    from ..models import get_spec

    mfcc = mfcc or MFCCParams()
    if kind == "mfcc":
        feats = mfcc_segments(y, mfcc.sr, mfcc)
        return ModelInput("mfcc", torch.from_numpy(feats), np.arange(len(feats)) * mfcc.segment_seconds,
                          mfcc.segment_seconds, feats)
    if kind == "musicnn":
        from ..mel_patches import MusicnnParams

        params = MusicnnParams(**(meta.get("musicnn_params") or {}))
        patches, starts = musicnn_rows(decoded or DecodedAudio(y, mfcc.sr), params)
        return ModelInput("musicnn", torch.from_numpy(patches), starts,
                          params.patch_frames * params.hop_length / params.sr, patches)
    # drawn as the run's own pictures were (its style and input size), like predict()
    images, starts = image_windows(y, mfcc, ImageParams.of_run(meta.get("image_params")))
    return ModelInput("image", normalize_images(images, get_spec(meta["model"]).normalization), starts,
                      mfcc.track_seconds, images)
