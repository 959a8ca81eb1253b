"""Audio decoding: any supported file -> mono float32 at the target sample rate.

Decoding goes through soundfile (libsndfile), which reads wav, au, flac, ogg and
mp3 from a path or from an in-memory upload; resampling uses librosa's default
(soxr, high quality), exactly as ``librosa.load`` does.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np

from .errors import AudioError

AUDIO_EXTENSIONS = (".wav", ".au", ".flac", ".ogg", ".mp3")
TARGET_SR = 22050

AudioSource = Union[str, os.PathLike, bytes, BinaryIO]


@dataclass(frozen=True)
class AudioInfo:
    samplerate: int
    channels: int
    frames: int
    format: str

    @property
    def duration(self) -> float:
        return self.frames / self.samplerate if self.samplerate else 0.0


def source_name(source: AudioSource) -> str:
    if isinstance(source, (str, os.PathLike)):
        return Path(source).name
    return getattr(source, "name", None) or "uploaded audio"


def _open(source: AudioSource):
    import soundfile as sf

    name = source_name(source)
    if isinstance(source, (bytes, bytearray)):
        if not source:
            raise AudioError(f"{name}: the file is empty")
        source = io.BytesIO(source)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise AudioError(f"{path}: no such file")
        if path.stat().st_size == 0:
            raise AudioError(f"{name}: the file is empty")
    elif hasattr(source, "seek") and hasattr(source, "tell"):
        pos = source.tell()
        size = source.seek(0, io.SEEK_END)
        source.seek(pos)
        if size - pos <= 0:
            raise AudioError(f"{name}: the file is empty")
    try:
        return sf.SoundFile(source)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        detail = str(exc).split(":")[-1].strip() or "unknown format"
        raise AudioError(f"{name}: not a readable audio file ({detail})") from None


def audio_info(source: AudioSource) -> AudioInfo:
    """Read the header only (cheap): sample rate, channels, length, format."""
    with _open(source) as f:
        return AudioInfo(f.samplerate, f.channels, f.frames, f.format)


def load_audio(source: AudioSource, sr: int = TARGET_SR, max_seconds: float | None = None) -> np.ndarray:
    """Decode ``source`` to mono float32 at ``sr`` Hz.

    ``max_seconds`` limits how much is decoded (the rest of the file is never read).
    Raises :class:`AudioError` naming the file for anything unusable.
    """
    import soundfile as sf

    name = source_name(source)
    with _open(source) as f:
        native_sr = f.samplerate
        frames = -1 if max_seconds is None else int(round(max_seconds * native_sr))
        try:
            data = f.read(frames=frames, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
            raise AudioError(f"{name}: the audio data could not be decoded ({exc})") from None
    if data.shape[0] == 0:
        raise AudioError(f"{name}: the file holds no audio samples")
    y = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if not np.all(np.isfinite(y)):
        raise AudioError(f"{name}: the audio contains NaN or infinite samples")
    if native_sr != sr:
        import librosa

        y = librosa.resample(y, orig_sr=native_sr, target_sr=sr)
    return np.ascontiguousarray(y, dtype=np.float32)
