"""How alike two spectrogram pictures are, as the image models see them: both
resized to the model's input size like the dataset's PNGs, then the Pearson
correlation of their pixels over the whole picture and inside the plot box."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import resize_image
from .kaggle import FIGURE, PLOT_BOX


@dataclass(frozen=True)
class Similarity:
    size: int
    whole: float
    inside: float


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a = a.astype(np.float64).ravel()
    b = b.astype(np.float64).ravel()
    a -= a.mean()
    b -= b.mean()
    den = math.sqrt(float(a @ a) * float(b @ b))
    return float(a @ b) / den if den > 0 else float("nan")


def box_at(size: int) -> tuple[slice, slice]:
    """The plot box's rows and columns in a ``size`` x ``size`` resize of a figure
    (the pixels wholly inside it)."""
    (w, h), (x, y, bw, bh) = FIGURE, PLOT_BOX
    sx, sy = size / w, size / h
    return (slice(math.ceil(y * sy), math.floor((y + bh) * sy)),
            slice(math.ceil(x * sx), math.floor((x + bw) * sx)))


def similarity(picture: np.ndarray, other: np.ndarray, size: int) -> Similarity:
    """Correlation of two full-size (288 x 432 RGB) pictures at ``size``² (the studio's resize)."""
    a, b = resize_image(picture, size), resize_image(other, size)
    rows, cols = box_at(size)
    return Similarity(size, _corr(a, b), _corr(a[rows, cols], b[rows, cols]))
