"""Model inputs: MFCC segments (from-scratch models) and spectrogram images
(fine-tuned ImageNet models).

MFCCs follow the paper's reference pipeline: a 30 s track is cut into 10 segments
of ``int(22050 * 30 / 10) = 66150`` samples and ``librosa.feature.mfcc`` runs on
each segment (n_fft 2048, hop 512, 128 mel bands, 13 coefficients), which gives
130 frames x 13 coefficients per segment. :func:`mfcc_segments` computes exactly
that, for all segments at once, with torch (on the CPU or a GPU); the test suite
checks it against :func:`mfcc_reference`, the per-segment librosa loop.

Note: the per-segment loop clips each segment's dB spectrum at its *own* maximum
minus 80 dB. Passing all segments to librosa in one multichannel call would clip
at the global maximum instead, so the batched code clips per segment.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import AudioError
from .mel import mel_db
from .spectrogram import check_style, render, resize_image, style_of

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
#: How a model wants its pictures scaled, by name: torchvision's ImageNet mean/std
#: (the paper's models), or [-1, 1] ("inception": mean = std = 0.5, what the
#: TensorFlow-trained EfficientNet-Lite weights expect; with ImageNet statistics a
#: daisy photo comes out "honeycomb").
NORMALIZATIONS = {
    "imagenet": (IMAGENET_MEAN, IMAGENET_STD),
    "inception": (np.full(3, 0.5, np.float32), np.full(3, 0.5, np.float32)),
}


def _key(obj: Any) -> str:
    blob = json.dumps(dataclasses.asdict(obj), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@dataclass(frozen=True)
class MFCCParams:
    """The paper's MFCC parameters (all overridable)."""

    sr: int = 22050
    n_mfcc: int = 13
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    track_seconds: float = 30.0
    n_segments: int = 10

    @property
    def samples_per_segment(self) -> int:
        return int(self.sr * self.track_seconds / self.n_segments)

    @property
    def segment_seconds(self) -> float:
        return self.samples_per_segment / self.sr

    @property
    def frames_per_segment(self) -> int:
        return 1 + self.samples_per_segment // self.hop_length

    @property
    def track_samples(self) -> int:
        return self.samples_per_segment * self.n_segments

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def key(self) -> str:
        return _key(self)


IMAGE_SOURCES = ("auto", "render", "png", "none")


@dataclass(frozen=True)
class ImageParams:
    """Spectrogram images for the fine-tuned models.

    ``source``: ``auto`` uses the dataset's ``images_original`` PNGs when present and
    renders the rest; ``render`` always renders from audio; ``png`` requires PNGs;
    ``none`` extracts no images (MFCC models only).
    ``style`` names how a picture is drawn from audio (:mod:`gtzan_core.spectrogram`):
    ``kaggle``, like the dataset's PNGs, or ``fullbleed-v1``, the first renderer, kept
    for old runs (its size is ``render_width`` x ``render_height``). Pictures are then
    resized to ``size`` x ``size`` like the PNGs.
    """

    size: int = 224
    source: str = "auto"
    render_width: int = 432
    render_height: int = 288
    n_mels: int = 128
    style: str = "kaggle"

    @property
    def wanted(self) -> bool:
        """Whether pictures are extracted at all (any source but ``none``)."""
        return self.source != "none"

    def __post_init__(self):
        if self.source not in IMAGE_SOURCES:
            raise ValueError(f"image source {self.source!r} is not one of {', '.join(IMAGE_SOURCES)}")
        check_style(self.style)

    @classmethod
    def of_run(cls, recorded: dict | None, **changes) -> ImageParams:
        """The image parameters a run was trained with, from its record or checkpoint
        meta; a record from before picture styles existed gets the first renderer."""
        recorded = dict(recorded or {})
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in recorded.items() if k in known}
        values["style"] = style_of(recorded)
        values.update(changes)
        return cls(**values)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def key(self) -> str:
        return _key(self)


# ---------------------------------------------------------------------------
# Segmentation
# ---------------------------------------------------------------------------


#: The shortest clip the studio takes (half a 3 s segment or musicnn patch): a clip of
#: 1.5-3 s is repeat-padded to one whole segment; under 1.5 s more than half of the
#: input would be repetition, so it is refused.
MIN_CLIP_SECONDS = 1.5
#: a clip under this (one 3 s segment or patch) is repeat-padded to one by the kinds that pad
SHORT_CLIP_SECONDS = 3.0


def count_segments(n_samples: int, params: MFCCParams, max_segments: int | None = None) -> int:
    n = n_samples // params.samples_per_segment
    return n if max_segments is None else min(n, max_segments)


def repeat_pad(y: np.ndarray, n: int) -> np.ndarray:
    """``y`` repeated end to end until it is ``n`` samples long (a loop of the clip,
    not silence: a model sees music everywhere, as in training, where musicnn's own
    training repeat-padded short clips and it measured better than zeros)."""
    return np.resize(np.asarray(y, dtype=np.float32), n)


def segment_audio(y: np.ndarray, params: MFCCParams = MFCCParams(), max_segments: int | None = None,
                  min_seconds: float = MIN_CLIP_SECONDS) -> np.ndarray:
    """Cut ``y`` into whole segments: shape (n_segments, samples_per_segment).

    A trailing partial segment is dropped (the reference pipeline drops segments
    with fewer than 130 frames). A clip shorter than one segment but at least
    ``min_seconds`` long is repeat-padded to one segment (:func:`is_padded` says
    so); a shorter one is an error.
    """
    n = count_segments(len(y), params, max_segments)
    if n < 1:
        check_clip_length(len(y), params, min_seconds)
        return repeat_pad(y, params.samples_per_segment)[None]
    return np.asarray(y[: n * params.samples_per_segment], dtype=np.float32).reshape(n, params.samples_per_segment)


def check_clip_seconds(seconds: float, min_seconds: float = MIN_CLIP_SECONDS,
                       segment_seconds: float = SHORT_CLIP_SECONDS) -> None:
    """Raise :class:`AudioError` when a clip of ``seconds`` is too short to analyse (under
    ``min_seconds``); computes nothing."""
    if seconds < min_seconds:
        raise AudioError(f"clip is {seconds:.1f} s long; at least {min_seconds:g} s is needed "
                         f"(a clip under one {segment_seconds:.1f} s segment is repeat-padded to one)")


def check_clip_length(n_samples: int, params: MFCCParams = MFCCParams(),
                      min_seconds: float = MIN_CLIP_SECONDS) -> None:
    """:func:`check_clip_seconds` of a clip of ``n_samples`` at ``params.sr``."""
    check_clip_seconds(n_samples / params.sr, min_seconds, params.segment_seconds)


def is_padded(n_samples: int, params: MFCCParams = MFCCParams()) -> bool:
    """Whether a clip of ``n_samples`` is repeat-padded to its one segment."""
    return n_samples < params.samples_per_segment


# ---------------------------------------------------------------------------
# MFCC
# ---------------------------------------------------------------------------


def mfcc_reference(y: np.ndarray, params: MFCCParams = MFCCParams(), max_segments: int | None = None) -> np.ndarray:
    """The paper's pipeline: ``librosa.feature.mfcc`` on each segment in a loop."""
    from .numba_cache import librosa_module

    librosa = librosa_module()  # never librosa itself: see numba_cache

    segs = segment_audio(y, params, max_segments)
    out = [
        librosa.feature.mfcc(
            y=s, sr=params.sr, n_mfcc=params.n_mfcc, n_fft=params.n_fft, hop_length=params.hop_length
        ).T
        for s in segs
    ]
    return np.stack(out).astype(np.float32)


@functools.lru_cache(maxsize=16)
def _dct(n_mfcc: int, n_mels: int, device: str):
    """The DCT-II matrix (orthonormal) that turns log-mel rows into MFCCs, on ``device``."""
    import scipy.fft
    import torch

    dct = scipy.fft.dct(np.eye(n_mels), type=2, norm="ortho", axis=0)[:n_mfcc]
    return torch.as_tensor(dct, dtype=torch.float32, device=device)


def mfcc_from_segments(segments, params: MFCCParams = MFCCParams(), device: str | None = None):
    """MFCCs of a batch of segments with torch: (B, samples) -> (B, frames, n_mfcc).

    Accepts a numpy array or a tensor; returns a tensor on ``device`` (default: the
    input tensor's device, or the CPU).
    """
    import torch

    x = torch.as_tensor(segments, dtype=torch.float32)
    if device is not None:
        x = x.to(device, non_blocking=True)
    dct = _dct(params.n_mfcc, params.n_mels, str(x.device))
    return torch.matmul(dct, mel_db(x, params, params.n_mels)).transpose(1, 2).contiguous()


#: Segments whose MFCCs :func:`mfcc_segments` computes in one pass (a GTZAN track's 10 in one).
MFCC_BATCH = 32


def mfcc_segments(
    y: np.ndarray,
    sr: int = 22050,
    params: MFCCParams | None = None,
    max_segments: int | None = None,
    device: str = "cpu",
) -> np.ndarray:
    """MFCCs of every whole segment of ``y``: shape (n_segments, 130, 13) by default.

    Equal, within float32 tolerance, to :func:`mfcc_reference`.
    """
    params = params or MFCCParams(sr=sr)
    if params.sr != sr:
        raise ValueError(f"audio at {sr} Hz but parameters expect {params.sr} Hz")
    segs = segment_audio(y, params, max_segments)
    import torch

    with torch.inference_mode():
        if len(segs) <= MFCC_BATCH:
            return mfcc_from_segments(segs, params, device).cpu().numpy()
        # a long clip (a 10-minute upload is 200 segments) in slices: the STFT of every segment at once
        # would take ~2 MB a segment (over 400 MB for 10 minutes) for one moment
        out = np.empty((len(segs), params.frames_per_segment, params.n_mfcc), np.float32)
        for i in range(0, len(segs), MFCC_BATCH):
            out[i:i + MFCC_BATCH] = mfcc_from_segments(segs[i:i + MFCC_BATCH], params, device).cpu().numpy()
        return out


# ---------------------------------------------------------------------------
# Spectrogram images
# ---------------------------------------------------------------------------


def render_spectrogram_image(y: np.ndarray, mfcc: MFCCParams = MFCCParams(),
                             image: ImageParams = ImageParams()) -> np.ndarray:
    """The full-size spectrogram picture of ``y`` in ``image.style`` (432 x 288 RGB uint8;
    see :mod:`gtzan_core.spectrogram`)."""
    return render(y, mfcc, image)


def read_image_file(path) -> np.ndarray:
    """Load an image with OpenCV and convert BGR -> RGB (uint8, H x W x 3)."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise AudioError(f"{path}: not a readable image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def normalize_images(batch_uint8, normalization: str = "imagenet"):
    """(N, H, W, 3) uint8 RGB (numpy array or tensor, on any device) -> (N, 3, H, W)
    float32 tensor on the same device, scaled as ``normalization`` says (a key of
    :data:`NORMALIZATIONS`; the model's own, ``ModelSpec.normalization``)."""
    import torch

    mean, std = NORMALIZATIONS[normalization]
    x = torch.as_tensor(batch_uint8).permute(0, 3, 1, 2).float().div_(255.0)
    mean = torch.as_tensor(mean, device=x.device).view(1, 3, 1, 1)
    std = torch.as_tensor(std, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


def spectrogram_input(y: np.ndarray, mfcc: MFCCParams = MFCCParams(), image: ImageParams = ImageParams()) -> np.ndarray:
    """The image a fine-tuned model sees for audio ``y``: drawn in ``image.style`` (by
    default like the Kaggle PNGs), then resized to ``image.size``² (uint8 RGB)."""
    return resize_image(render_spectrogram_image(y, mfcc, image), image.size)
