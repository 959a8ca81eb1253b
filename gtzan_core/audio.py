"""Audio decoding: any supported file -> mono float32 at the target sample rate.

Decoding goes through soundfile (libsndfile), which reads wav, au, flac, ogg and
mp3 from a path or from an in-memory upload; resampling uses librosa's default
(soxr, high quality), exactly as ``librosa.load`` does.

A file is decoded once at its own rate (:func:`decode_audio`) and resampled to
each rate a model needs (22.05 kHz for MFCCs and pictures, 16 kHz for musicnn),
so no clip is resampled twice. What is wrong with a file is said in one line
naming it: unreadable, empty, a folder, a sample rate outside
[:data:`MIN_SAMPLE_RATE`, :data:`MAX_SAMPLE_RATE`], NaN samples. A file that ends
before its header says (a truncated download, a copy cut short) still decodes what
is there, with a warning giving both lengths.
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np

from .errors import AudioError

AUDIO_EXTENSIONS = (".wav", ".au", ".flac", ".ogg", ".mp3")
TARGET_SR = 22050
#: Sample rates outside this range are refused: below 4 kHz nothing above 2 kHz
#: survives (a "1 Hz" header resampled to 22 kHz is minutes of nonsense); above
#: 384 kHz is no music format in use, only a header to make the resampler work.
MIN_SAMPLE_RATE = 4000
MAX_SAMPLE_RATE = 384000
#: A file whose decoded length falls short of its header's by more than this
#: fraction and these seconds is reported as truncated. An MP3 header without a
#: frame index only estimates the length (real MP3s here fall 1.3 % short of it).
TRUNCATION_TOLERANCE = {"exact": (0.01, 0.1), "estimated": (0.05, 1.0)}

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


@dataclass
class DecodedAudio:
    """A clip at its own sample rate, and what is doubtful about the file."""

    y: np.ndarray  # mono float32 at ``sr``
    sr: int
    warnings: list[str] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return len(self.y) / self.sr

    def at(self, sr: int) -> np.ndarray:
        """The clip resampled to ``sr`` (itself when it is already there)."""
        return resample(self.y, self.sr, sr)


def printable(name: str) -> str:
    """``name`` with control characters escaped (a newline in a file name must not
    split a line of output)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(name))


def source_name(source: AudioSource) -> str:
    if isinstance(source, (str, os.PathLike)):
        return printable(Path(source).name)
    return printable(getattr(source, "name", None) or "uploaded audio")


def _open(source: AudioSource):
    import soundfile as sf

    name = source_name(source)
    if isinstance(source, (bytes, bytearray)):
        if not source:
            raise AudioError(f"{name}: the file is empty")
        source = io.BytesIO(source)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            raise AudioError(f"{printable(path)}: is a folder, not an audio file")
        if not path.is_file():
            raise AudioError(f"{printable(path)}: no such file")
        if path.stat().st_size == 0:
            raise AudioError(f"{name}: the file is empty")
    elif hasattr(source, "seek") and hasattr(source, "tell"):
        pos = source.tell()
        size = source.seek(0, io.SEEK_END)
        source.seek(pos)
        if size - pos <= 0:
            raise AudioError(f"{name}: the file is empty")
    try:
        f = sf.SoundFile(source)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        detail = str(exc).split(":")[-1].strip() or "unknown format"
        raise AudioError(f"{name}: not a readable audio file ({detail})") from None
    if not MIN_SAMPLE_RATE <= f.samplerate <= MAX_SAMPLE_RATE:
        f.close()
        raise AudioError(f"{name}: sample rate {f.samplerate} Hz is outside what the studio accepts "
                         f"({MIN_SAMPLE_RATE}–{MAX_SAMPLE_RATE} Hz)")
    return f


def audio_info(source: AudioSource) -> AudioInfo:
    """Read the header only (cheap): sample rate, channels, length, format."""
    with _open(source) as f:
        return AudioInfo(f.samplerate, f.channels, f.frames, f.format)


def _head(source: AudioSource, n: int = 1 << 16) -> bytes:
    """The first ``n`` bytes of ``source`` (the stream's position is kept)."""
    if isinstance(source, (bytes, bytearray)):
        return bytes(source[:n])
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as fh:
            return fh.read(n)
    pos = source.tell()
    try:
        source.seek(0)
        return source.read(n)
    finally:
        source.seek(pos)


def declared_frames(head: bytes, fmt: str, channels: int) -> int | None:
    """The number of frames a WAV or AU header declares (None when it does not say).

    libsndfile reports the frames actually present for these containers, so a file
    cut short looks whole to it; the header still says how long it was meant to be."""
    try:
        if fmt == "WAV" and head[:4] == b"RIFF" and head[8:12] == b"WAVE":
            pos, block = 12, None
            while pos + 8 <= len(head):
                chunk, size = head[pos:pos + 4], struct.unpack("<I", head[pos + 4:pos + 8])[0]
                if chunk == b"fmt ":
                    block = struct.unpack("<H", head[pos + 20:pos + 22])[0]  # bytes per frame
                elif chunk == b"data":
                    return size // block if block else None
                pos += 8 + size + (size & 1)
        if fmt == "AU" and head[:4] == b".snd":
            size, encoding = struct.unpack(">II", head[8:16])
            width = {2: 1, 3: 2, 4: 3, 5: 4, 6: 4, 7: 8, 1: 1, 27: 1}.get(encoding)
            if size != 0xFFFFFFFF and width:
                return size // (width * channels)
    except struct.error:
        return None
    return None


def decode_audio(source: AudioSource, max_seconds: float | None = None) -> DecodedAudio:
    """Decode ``source`` to mono float32 at its own sample rate.

    ``max_seconds`` limits how much is decoded (the rest of the file is never read).
    Raises :class:`AudioError` naming the file for anything unusable; a file that
    ends before its header says decodes with a warning giving both lengths."""
    import soundfile as sf

    name = source_name(source)
    with _open(source) as f:
        sr, channels, header_frames, fmt = f.samplerate, f.channels, f.frames, f.format
        frames = -1 if max_seconds is None else int(round(max_seconds * sr))
        try:
            data = f.read(frames=frames, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
            raise AudioError(f"{name}: the audio data could not be decoded ({exc})") from None
    if data.shape[0] == 0:
        raise AudioError(f"{name}: the file holds no audio samples")
    y = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if not np.all(np.isfinite(y)):
        raise AudioError(f"{name}: the audio contains NaN or infinite samples")
    warnings = []
    declared = declared_frames(_head(source), fmt, channels) if fmt in ("WAV", "AU") else header_frames
    wanted = declared if frames < 0 or declared is None else min(declared, frames)
    share, seconds = TRUNCATION_TOLERANCE["estimated" if fmt == "MP3" else "exact"]
    if wanted and wanted > 0 and (wanted - len(y)) > max(share * wanted, seconds * sr):
        full = (declared or wanted) / sr
        warnings.append(f"{name} ends early: its header says {full:.1f} s, only {len(y) / sr:.1f} s are there "
                        "(a truncated or damaged file); what is there was analysed")
    return DecodedAudio(np.ascontiguousarray(y, dtype=np.float32), sr, warnings)


def resample(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """``y`` at ``target_sr`` (soxr high quality, as ``librosa.load``)."""
    if orig_sr == target_sr:
        return np.ascontiguousarray(y, dtype=np.float32)
    import librosa

    return np.ascontiguousarray(librosa.resample(y, orig_sr=orig_sr, target_sr=target_sr), dtype=np.float32)


def load_audio(source: AudioSource, sr: int = TARGET_SR, max_seconds: float | None = None) -> np.ndarray:
    """Decode ``source`` to mono float32 at ``sr`` Hz (see :func:`decode_audio`; its
    warnings are dropped here)."""
    return decode_audio(source, max_seconds).at(sr)
