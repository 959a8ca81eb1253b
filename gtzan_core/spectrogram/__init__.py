"""Spectrogram pictures for the image models, by named style.

``kaggle`` (the default) draws a clip the way GTZAN's Kaggle ``images_original``
PNGs were drawn, so a model fine-tuned on the dataset's PNGs sees the same kind of
picture for an upload, a recording, a demo clip or a track whose PNG is missing.
``fullbleed-v1`` is the studio's first renderer, kept for runs trained on it (their
records carry no style, see :func:`style_of`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import fullbleed, kaggle

DEFAULT_STYLE = "kaggle"
LEGACY_STYLE = "fullbleed-v1"
STYLES: dict[str, Callable] = {DEFAULT_STYLE: kaggle.render, LEGACY_STYLE: fullbleed.render}
DESCRIPTIONS = {
    DEFAULT_STYLE: "drawn like the Kaggle GTZAN PNGs (white figure, framed plot box, amplitude dB, magma)",
    LEGACY_STYLE: "the studio's first full-bleed rendering (power dB, no margin); not like the Kaggle PNGs",
}


def style_of(image_params: dict | None) -> str:
    """The picture style recorded in a run's or cache entry's image parameters; records
    written before styles existed were drawn by the first renderer."""
    return (image_params or {}).get("style") or LEGACY_STYLE


def check_style(style: str) -> str:
    if style not in STYLES:
        raise ValueError(f"image style {style!r} is not one of {', '.join(STYLES)}")
    return style


def render(y: np.ndarray, mfcc, image) -> np.ndarray:
    """The full-size picture (288 x 432 x 3 uint8 RGB) of audio ``y`` in ``image.style``."""
    return STYLES[check_style(image.style)](y, mfcc, image)


def resize_image(rgb: np.ndarray, size: int) -> np.ndarray:
    """The studio's resize of a picture to the ``size`` x ``size`` a model sees (area
    interpolation), for drawn pictures and the dataset's PNGs alike."""
    import cv2

    return cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
