"""The spectrogram picture of GTZAN's Kaggle ``images_original`` PNGs, drawn with
numpy and OpenCV.

The Kaggle PNGs were drawn by matplotlib (``librosa.display.specshow``); their code
was never published. What this module reproduces was measured on real pairs of a
clip and its Kaggle PNG (``../shared/data/gtzan-real-sample``):

* a 432 x 288 px white figure (6 x 4 inches at 72 dpi);
* an axes box whose data area spans x 53.0 .. 387.8 and y 34.6 .. 252.0 in pixel
  coordinates (matplotlib's axes fractions left 0.125, right 0.9, top 0.88, bottom
  0.125), no ticks or labels, a thin black frame;
* the power mel spectrogram (n_fft 2048, hop 512, 128 mels) in
  ``librosa.amplitude_to_db(S, ref=np.max)`` (20 log10 of a *power*: the dB range is
  doubled, so most of the picture is black), clipped at -80 dB;
* magma, with matplotlib's normalisation (the data's min .. max onto 256 colours,
  ``floor(x * 256)``), low frequencies at the bottom;
* each pixel takes the value of the spectrogram cell under it (pcolormesh without
  anti-aliasing: no interpolation), the whole clip across the box's width.

On the ten real pairs, 99.5 % of the data-area pixels get the Kaggle PNG's exact
colour index (the rest sit on cell borders). ``bench/render.py`` and
``tests/unit/data/test_real_sample.py`` measure it.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

#: The figure, in pixels (width, height).
FIGURE = (432, 288)
#: Edges of the data area in pixel coordinates: a pixel column ``c`` shows frame
#: ``floor((c - X0) / (X1 - X0) * n_frames)``; rows likewise, top = highest mel band.
X0, X1 = 53.0, 387.8
Y0, Y1 = 34.6, 252.0
#: The pixels the spectrogram is drawn on: rows 35..251, columns 54..388.
ROWS = (35, 252)
COLS = (54, 389)
#: The frame the Kaggle PNGs draw around the data (measured): top row and left column
#: darken what is under them to 20 %; the bottom row and right column are drawn on
#: the white margin (grey 51); where two of those cross, grey 19.
FRAME_KEEP_255 = 51  # 20 % of 255
FRAME_ON_WHITE = 51
FRAME_CORNER = 19
#: The plot box (frame included) as (x, y, width, height): what "inside the plot box"
#: means when pictures are compared.
PLOT_BOX = (54, 35, 336, 218)
TOP_DB = 80.0
AMIN = 1e-5


@functools.lru_cache(maxsize=1)
def magma_lut() -> np.ndarray:
    """matplotlib's magma table as (256, 3) uint8 RGB, read from the package's CSV."""
    path = Path(__file__).with_name("magma.csv")
    rows = [line.split(",") for line in path.read_text().splitlines() if line and not line.startswith("#")]
    lut = np.array(rows, dtype=np.uint8)
    if lut.shape != (256, 3):
        raise RuntimeError(f"{path}: expected 256 RGB rows, found {lut.shape}")
    return lut


@functools.lru_cache(maxsize=64)
def _sampling(n_frames: int, n_mels: int) -> tuple[np.ndarray, np.ndarray]:
    """Which spectrogram row / frame each data pixel shows (row index counted from the top)."""
    r = np.arange(*ROWS, dtype=np.float64)
    c = np.arange(*COLS, dtype=np.float64)
    rows = np.clip(np.floor((r - Y0) / (Y1 - Y0) * n_mels), 0, n_mels - 1).astype(np.intp)
    cols = np.clip(np.floor((c - X0) / (X1 - X0) * n_frames), 0, n_frames - 1).astype(np.intp)
    return rows, cols


@functools.lru_cache(maxsize=1)
def _frame_canvas() -> tuple[np.ndarray, np.ndarray]:
    """The white figure with the frame's margin-side lines drawn, and the mask of the
    data-side frame pixels (top row, left column) that darken the data under them."""
    w, h = FIGURE
    canvas = np.full((h, w, 3), 255, np.uint8)
    (r0, r1), (c0, c1) = ROWS, COLS
    canvas[r1, c0:c1 + 1] = FRAME_ON_WHITE  # bottom line, on the margin
    canvas[r0:r1 + 1, c1] = FRAME_ON_WHITE  # right line
    for r, c in ((r0, c1), (r1, c0), (r1, c1)):
        canvas[r, c] = FRAME_CORNER
    dark = np.zeros((r1 - r0, c1 - c0), bool)
    dark[0, :] = True  # top line, over the data
    dark[:, 0] = True  # left line
    canvas.setflags(write=False)
    dark.setflags(write=False)
    return canvas, dark


def amplitude_db(power_mel: np.ndarray) -> np.ndarray:
    """``librosa.amplitude_to_db(S, ref=np.max, top_db=80)`` of a (n_mels, frames) array."""
    db = 20.0 * np.log10(np.maximum(power_mel, AMIN))
    db -= db.max()
    return np.maximum(db, -TOP_DB, out=db)


def colour_indices(db: np.ndarray) -> np.ndarray:
    """matplotlib's default normalisation (data min .. max) onto the 256 colours."""
    lo, hi = float(db.min()), float(db.max())
    if not hi > lo:
        return np.zeros(db.shape, np.uint8)
    x = (db - lo) * (256.0 / (hi - lo))
    return np.clip(x, 0, 255).astype(np.uint8)  # floor (values are >= 0)


def draw(db: np.ndarray) -> np.ndarray:
    """The Kaggle picture of a (n_mels, frames) dB spectrogram (low bands first):
    (288, 432, 3) uint8 RGB."""
    n_mels, n_frames = db.shape
    rows, cols = _sampling(n_frames, n_mels)
    idx = colour_indices(db)[::-1][rows[:, None], cols[None, :]]
    data = magma_lut()[idx]
    canvas, dark = _frame_canvas()
    out = canvas.copy()
    data[dark] = (data[dark].astype(np.uint16) * FRAME_KEEP_255 // 255).astype(np.uint8)
    out[ROWS[0]:ROWS[1], COLS[0]:COLS[1]] = data
    return out


#: A clip up to this much longer than ``track_seconds`` is drawn whole, as the Kaggle
#: PNGs drew every GTZAN clip (30.0 - 30.6 s): squeezing 30.01 s instead of cutting
#: it to 30.00 s is what takes the match inside the box from 0.87-0.99 to 0.998.
WHOLE_CLIP_SLACK = 1.05


def span(y: np.ndarray, mfcc) -> np.ndarray:
    """The samples a picture spans: the whole clip when it is at most 5 % longer than
    ``track_seconds``, else its first ``track_seconds``; a shorter clip is zero-padded
    to ``track_seconds`` (silence on the right), so a pixel is always the same time."""
    n = mfcc.track_samples
    y = np.asarray(y, dtype=np.float32)
    if len(y) > n * WHOLE_CLIP_SLACK:
        return y[:n]
    if len(y) < n:
        return np.pad(y, (0, n - len(y)))
    return y


def render(y: np.ndarray, mfcc, image) -> np.ndarray:
    """The Kaggle picture of audio ``y`` (see :func:`span`): (288, 432, 3) uint8 RGB."""
    import torch

    from ..mel import mel_power

    with torch.inference_mode():
        power = mel_power(torch.from_numpy(span(y, mfcc))[None], mfcc, image.n_mels)[0].numpy()
    return draw(amplitude_db(power.astype(np.float64)))
