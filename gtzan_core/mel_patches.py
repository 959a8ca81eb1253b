"""The input of musicnn (Pons & Serra 2019): log-mel patches of 187 frames x 96 bands.

The released extractor computes, on mono audio at 16 kHz,
``librosa.feature.melspectrogram(n_fft=512, hop_length=256, n_mels=96)`` (power 2,
Slaney mel scale and norm, centred frames with constant padding), compresses it
as ``log10(1 + 10000 * mel)`` and cuts it into non-overlapping patches of 187
frames (~3 s). :func:`log_mel` computes the same with torch, in float32 throughout
(about twice as fast as librosa); the test suite checks it against
:func:`log_mel_reference`, librosa itself. There is no many-clips version: one STFT
over a zero-padded batch of 2-3 s clips measured slower than this per-clip call
(about 1 ms a clip on 2 CPU cores, less than decoding the file costs).

The released extractor casts the mel to float16 before the log: under NumPy 2,
``10000 * mel`` in float16 overflows to inf for loud bins and the network then
outputs NaN. That is a bug of the release and is not reproduced here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .errors import AudioError
from .features import _key
from .mel import mel_power

#: Clips shorter than this (half a patch) are refused: more than half of their one
#: patch would be repetition.
MIN_SECONDS = 1.5


@dataclass(frozen=True)
class MusicnnParams:
    """musicnn's input parameters, as its released models were trained."""

    sr: int = 16000
    n_fft: int = 512
    hop_length: int = 256
    n_mels: int = 96
    patch_frames: int = 187

    def frames(self, n_samples: int) -> int:
        """Number of (centred) frames of a clip of ``n_samples`` samples."""
        return 1 + n_samples // self.hop_length

    @property
    def patch_samples(self) -> int:
        """The fewest samples that give one whole patch (186 hops: 47616 samples, 2.98 s)."""
        return (self.patch_frames - 1) * self.hop_length

    @property
    def patch_seconds(self) -> float:
        return self.patch_samples / self.sr

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def key(self) -> str:
        return _key(self)


def log_mel(y16k: np.ndarray, params: MusicnnParams = MusicnnParams()) -> np.ndarray:
    """``log10(1 + 10000 * mel)`` of mono audio at ``params.sr``: (frames, n_mels) float32."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(y16k, dtype=np.float32))[None]
    with torch.inference_mode():
        mel = mel_power(x, params, params.n_mels)[0]
        return torch.log10(1 + 10000 * mel).T.contiguous().numpy()


def log_mel_reference(y16k: np.ndarray, params: MusicnnParams = MusicnnParams()) -> np.ndarray:
    """The same as :func:`log_mel`, with librosa (as the released extractor, minus its
    float16 cast): the reference the tests compare :func:`log_mel` with."""
    from .numba_cache import librosa_module

    librosa = librosa_module()  # never librosa itself: see numba_cache

    mel = librosa.feature.melspectrogram(
        y=np.asarray(y16k, dtype=np.float32), sr=params.sr, n_fft=params.n_fft,
        hop_length=params.hop_length, n_mels=params.n_mels,
    ).T
    return np.log10(1 + 10000 * mel).astype(np.float32)


def _fit_clip(y16k: np.ndarray, params: MusicnnParams, min_seconds: float) -> tuple[np.ndarray, bool]:
    """The clip as float32, tiled to one patch's length when it is shorter: (audio, padded)."""
    y = np.asarray(y16k, dtype=np.float32)
    if y.ndim != 1:
        raise AudioError(f"expected mono audio (one dimension), got an array of shape {y.shape}")
    if len(y) == 0 or len(y) < min_seconds * params.sr:
        raise AudioError(f"clip is {len(y) / params.sr:.2f} s long; at least {min_seconds:g} s is needed")
    if params.frames(len(y)) >= params.patch_frames:
        return y, False
    return np.resize(y, params.patch_samples), True  # np.resize repeats the clip cyclically


def mel_patches(y16k: np.ndarray, params: MusicnnParams = MusicnnParams(),
                min_seconds: float = MIN_SECONDS) -> tuple[np.ndarray, bool]:
    """Non-overlapping log-mel patches of a mono clip at ``params.sr``:
    ``(patches (n, 187, 96) float32, padded)``.

    A trailing partial patch is dropped, as the released extractor does. A clip
    shorter than one patch (2.98 s) but at least ``min_seconds`` long is
    **repeat-padded**: the audio is tiled until it fills exactly one patch, and
    ``padded`` is True. The released extractor gives no patch at all for such a clip;
    the networks were trained with repeat-padding (``"pad_short": "repeat-pad"`` in
    the checkpoints' config.json), and on the real 2-3 s GTZAN excerpts (musicnn MSD
    embedding, logistic regression, 5-fold x 3) it measured 1.8 points more accuracy
    than zero-padding. (Pons's training scripts repeat mel *frames*, not audio; on
    those excerpts the two measured alike: 77.4 and 76.7 +- 2.6 %, zeros 75.2.)
    Shorter than ``min_seconds``: :class:`~gtzan_core.errors.AudioError`.
    """
    y, padded = _fit_clip(y16k, params, min_seconds)
    logmel = log_mel(y, params)
    n = len(logmel) // params.patch_frames
    return logmel[: n * params.patch_frames].reshape(n, params.patch_frames, params.n_mels), padded

