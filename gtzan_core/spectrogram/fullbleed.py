"""The studio's first spectrogram picture (``fullbleed-v1``), kept so that runs
trained before the Kaggle style keep predicting exactly as they did.

A full-bleed mel spectrogram (no figure margin), ``power_to_db`` scale clipped at
80 dB below the maximum, linearly resized to 432 x 288, OpenCV's magma, low
frequencies at the bottom. It shares nothing with the Kaggle PNGs (pixel
correlation about 0 with them); new runs use :mod:`.kaggle`.
"""

from __future__ import annotations

import numpy as np


def render(y: np.ndarray, mfcc, image) -> np.ndarray:
    """(render_height, render_width, 3) uint8 RGB of the first ``track_seconds`` of ``y``
    (zero-padded if shorter)."""
    import cv2
    import torch

    from ..mel import mel_db

    n = mfcc.track_samples
    y = np.asarray(y[:n], dtype=np.float32)
    if len(y) < n:
        y = np.pad(y, (0, n - len(y)))
    with torch.inference_mode():  # = librosa.power_to_db(melspectrogram(y), ref=np.max, top_db=80)
        db = mel_db(torch.from_numpy(y)[None], mfcc, image.n_mels)[0]
        db = (db - db.max()).numpy()  # in [-80, 0]
    grey = np.clip((db + 80.0) * (255.0 / 80.0), 0, 255).astype(np.uint8)[::-1]
    grey = cv2.resize(grey, (image.render_width, image.render_height), interpolation=cv2.INTER_LINEAR)
    bgr = cv2.applyColorMap(grey, cv2.COLORMAP_MAGMA)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
