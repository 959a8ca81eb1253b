"""The Kaggle picture drawn the slow way, with librosa.display and matplotlib: the
reference that :mod:`.kaggle` is benchmarked against (``bench/render.py``) and
compared with in the tests.

matplotlib is not a dependency of the studio: install it to use this module
(``pip install matplotlib``; ``.ci/run`` does). With today's librosa the picture
is close to, not equal to, the Kaggle PNGs: ``specshow`` now centres its cells on
the frame times (half a cell off the PNGs' grid), which :mod:`.kaggle` does not
copy.
"""

from __future__ import annotations

import numpy as np

from .kaggle import FIGURE, TOP_DB, X0, X1, Y0, Y1


def render_reference(y: np.ndarray, sr: int = 22050) -> np.ndarray:
    """(288, 432, 3) uint8 RGB: ``specshow(amplitude_to_db(melspectrogram(y), ref=np.max))``
    on a 6 x 4 in figure at 72 dpi, in the Kaggle PNGs' axes box, no ticks."""
    import importlib

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ..numba_cache import librosa_module

    librosa = librosa_module()  # never librosa itself: see numba_cache
    display = importlib.import_module("librosa.display")  # once the cache is checked

    db = librosa.amplitude_to_db(librosa.feature.melspectrogram(y=np.asarray(y, np.float32), sr=sr),
                                 ref=np.max, top_db=TOP_DB)
    w, h = FIGURE
    fig = Figure(figsize=(w / 72, h / 72), dpi=72, facecolor="white")
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes([(X0 + 1) / w, 1 - Y1 / h, (X1 - X0) / w, (Y1 - Y0) / h])
    display.specshow(db, sr=sr, ax=ax)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
