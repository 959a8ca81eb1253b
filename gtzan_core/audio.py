"""Audio decoding: any supported file -> mono float32 at the target sample rate.

Decoding goes through soundfile (libsndfile), which reads wav, au, flac, ogg and
mp3 from a path or from an in-memory upload; resampling uses soxr at high quality,
exactly as ``librosa.load`` does (librosa's default ``soxr_hq``).

A file is decoded once (:func:`decode_audio`) and resampled to each rate a model
needs (22.05 kHz for MFCCs and pictures, 16 kHz for musicnn), so no clip is
decoded twice. What is wrong with a file is said in one line naming it:
unreadable, empty, a folder, a FIFO or a device instead of a file, something that
is plainly not audio (an HTML page, a zip, a picture, JSON or text: the first bytes
are sniffed before the decoder sees them), a sample rate outside
[:data:`MIN_SAMPLE_RATE`, :data:`MAX_SAMPLE_RATE`], more than :data:`MAX_CHANNELS`
channels, NaN samples. A file that ends before its header says (a truncated
download, a copy cut short) still decodes what is there, with a warning giving
both lengths.

**Bounded decoding.** What a file costs to decode is set by its header (channels ×
rate × duration), not by its size: a 2 MB FLAC of silence can declare 8 channels
at 384 kHz for 10 minutes, 1.8 billion samples (7.4 GB as float32). So the header
is checked first (channels, rate), at most :data:`MAX_DECODE_SECONDS` (the first
10 minutes) is ever read (a longer file is cut there, with a warning, unless the
caller asked for less; :attr:`DecodedAudio.continues` says the file went on), and
the samples are streamed: blocks of about 4 MB are read, mixed down to mono
and, for a file above :data:`MAX_WORKING_RATE` (48 kHz), resampled to
48 kHz block by block (a streaming soxr resampler, the same filter as the one-shot
one). Peak memory therefore follows the output, mono at ≤ 48 kHz for ≤ 10 minutes
(≤ 110 MB), plus one block, whatever the file declares. A file at 48 kHz or less
is kept at its own rate, so its samples equal a whole-file read mixed with
``mean(axis=1)`` (bit for bit below 8 channels); above 48 kHz the model rates are
reached in two soxr steps (file → 48 kHz → 22.05/16 kHz) instead of one, which
differs from a direct resampling only near the 22.05/16 kHz cut-off.

Decoding an upload on a shared server takes :func:`decoding_turn`: one decode at a
time per process, so hostile uploads arriving together cost one decode's memory
and CPU, not one each (the others wait their turn).
"""

from __future__ import annotations

import io
import os
import stat
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .errors import AudioError

AUDIO_EXTENSIONS = (".wav", ".au", ".flac", ".ogg", ".mp3")
TARGET_SR = 22050
#: Sample rates outside this range are refused: below 4 kHz nothing above 2 kHz
#: survives (a "1 Hz" header resampled to 22 kHz is minutes of nonsense); above
#: 384 kHz is no music format in use, only a header to make the resampler work.
MIN_SAMPLE_RATE = 4000
MAX_SAMPLE_RATE = 384000
#: More channels than this are refused (7.1 surround is 8; a header can claim 65,535).
MAX_CHANNELS = 8
#: At most this much of a file is decoded (the first 10 minutes): the rest is never read.
MAX_DECODE_SECONDS = 600.0
#: Files above this rate are resampled to it while they are streamed in, so the decoded
#: clip (mono, at most 10 minutes) never takes more than ~110 MB.
MAX_WORKING_RATE = 48000
#: Interleaved samples read per block (4 MiB of float32, whatever the channel count).
BLOCK_SAMPLES = 1 << 20
#: A file whose decoded length falls short of its header's by more than this
#: fraction and these seconds is reported as truncated. An MP3 header without a
#: frame index only estimates the length (real MP3s here fall 1.3 % short of it).
TRUNCATION_TOLERANCE = {"exact": (0.01, 0.1), "estimated": (0.05, 1.0)}
#: How many of a file's first bytes are read for its declared length (WAV/AU) ...
HEAD_BYTES = 1 << 16
#: ... and to tell what it really is when it is plainly not audio.
SNIFF_BYTES = 4096

AudioSource = str | os.PathLike | bytes | BinaryIO


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
    """A clip decoded once (mono, at its file's rate or :data:`MAX_WORKING_RATE` if
    that is lower), and what is doubtful about the file."""

    y: np.ndarray  # mono float32 at ``sr``
    sr: int
    warnings: list[str] = field(default_factory=list)
    name: str = "audio"  # the file's name, as messages give it
    continues: bool = False  # the file goes on past what was decoded (``max_seconds`` or the 10-minute cap)

    @property
    def duration(self) -> float:
        return len(self.y) / self.sr

    def at(self, sr: int) -> np.ndarray:
        """The clip resampled to ``sr`` (itself when it is already there)."""
        return resample(self.y, self.sr, sr)

    def first(self, seconds: float) -> DecodedAudio:
        """The clip's first ``seconds`` (a new object; this one is left as it is). A
        sample more than that is the resampler's rounding, not more of the clip."""
        n = int(seconds * self.sr)
        return replace(self, y=self.y[:n], continues=self.continues or len(self.y) > n + 1)


def printable(name: str) -> str:
    """``name`` with control characters escaped (a newline in a file name must not
    split a line of output)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(name))


def source_name(source: AudioSource) -> str:
    if isinstance(source, DecodedAudio):
        return source.name
    if isinstance(source, (str, os.PathLike)):
        return printable(Path(source).name)
    return printable(getattr(source, "name", None) or "uploaded audio")


def _not_a_file(mode: int) -> str | None:
    """What a path that is not a regular file is, in words (None for a regular file)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a folder, not an audio file"
    if stat.S_ISFIFO(mode):
        return "is a FIFO (named pipe), not a regular file"
    if stat.S_ISCHR(mode):
        return "is a device (character special file), not a regular file"
    if stat.S_ISBLK(mode):
        return "is a device (block special file), not a regular file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a regular file"
    return "is not a regular file"


def not_audio(head: bytes) -> str | None:
    """What the first bytes of a file plainly are when they are not audio ("an HTML
    page", "a zip archive", ...), or None (audio, or something only the decoder can tell).

    Only signatures no audio container starts with are named, so an odd but real audio
    file is always left to the decoder."""
    for magic, what in ((b"\x89PNG\r\n\x1a\n", "a PNG picture"), (b"\xff\xd8\xff", "a JPEG picture"),
                        (b"GIF87a", "a GIF picture"), (b"GIF89a", "a GIF picture"), (b"%PDF-", "a PDF document"),
                        (b"PK\x03\x04", "a zip archive"), (b"PK\x05\x06", "a zip archive (empty)"),
                        (b"\x1f\x8b", "a gzip archive"), (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
                        (b"\x7fELF", "a program (ELF executable)")):
        if head.startswith(magic):
            return what
    sample = head[:SNIFF_BYTES]
    try:  # text: valid UTF-8 (a character cut at the end of the sample is forgiven), no control bytes
        text = sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 3:
            return None
        text = sample[:exc.start].decode("utf-8")
    text = text.lstrip("\ufeff")
    if not text.strip() or any(not (c.isprintable() or c in "\t\n\r\f") for c in text):
        return None
    low = text.lstrip().lower()
    if low.startswith("<!doctype html") or (low.startswith("<") and "<html" in low[:1024]):
        return "an HTML page"
    if low.startswith("<?xml") or low.startswith("<svg"):
        return "an XML document"
    if low[:1] in ("{", "["):
        return "JSON text"
    return "a text file"


def _open(source: AudioSource):
    """``source`` opened with soundfile after every check that needs only its header:
    what it is (a regular, non-empty file that is not plainly something else), its
    sample rate and its channel count."""
    import soundfile as sf

    name = source_name(source)
    if isinstance(source, (bytes, bytearray)):
        if not source:
            raise AudioError(f"{name}: the file is empty")
        source = io.BytesIO(source)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            raise AudioError(f"{printable(path)}: no such file") from None
        except OSError as exc:
            raise AudioError(f"{printable(path)}: cannot be read ({exc.strerror or exc})") from None
        what = _not_a_file(st.st_mode)
        if what is not None:  # never opened: a FIFO would block, a device could be read forever
            raise AudioError(f"{printable(path)}: {what}")
        if st.st_size == 0:
            raise AudioError(f"{name}: the file is empty")
    elif hasattr(source, "seek") and hasattr(source, "tell"):
        pos = source.tell()
        size = source.seek(0, io.SEEK_END)
        source.seek(pos)
        if size - pos <= 0:
            raise AudioError(f"{name}: the file is empty")
    try:
        what = not_audio(_head(source, SNIFF_BYTES))
    except OSError as exc:
        raise AudioError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    if what is not None:
        raise AudioError(f"{name}: not a readable audio file: it looks like {what}, not audio")
    try:
        f = sf.SoundFile(source)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        detail = str(exc).split(":")[-1].strip() or "unknown format"
        if "possibly a pipe" in detail or "not a regular file" in detail:  # libsndfile's words for an unknown format
            detail = "format not recognised"
        raise AudioError(f"{name}: not a readable audio file ({detail})") from None
    if not MIN_SAMPLE_RATE <= f.samplerate <= MAX_SAMPLE_RATE:
        f.close()
        raise AudioError(f"{name}: sample rate {f.samplerate} Hz is outside what the studio accepts "
                         f"({MIN_SAMPLE_RATE}–{MAX_SAMPLE_RATE} Hz)")
    if f.channels > MAX_CHANNELS:
        f.close()
        raise AudioError(f"{name}: {f.channels} channels, more than the studio decodes (at most {MAX_CHANNELS})")
    return f


def audio_info(source: AudioSource) -> AudioInfo:
    """Read the header only (cheap): sample rate, channels, length, format. A file
    the studio would refuse to decode (see :func:`_open`) raises here already."""
    with _open(source) as f:
        return AudioInfo(f.samplerate, f.channels, f.frames, f.format)


def _head(source: AudioSource, n: int = HEAD_BYTES) -> bytes:
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


class _Samples:
    """A growing float32 buffer, allocated once for the length the header announces
    (pages never written are never resident) and resized in place if the file holds more."""

    def __init__(self, capacity: int):
        self.data = np.empty(max(capacity, 1), np.float32)
        self.n = 0

    def append(self, x: np.ndarray) -> None:
        if self.n + len(x) > len(self.data):
            self.data.resize(max(self.n + len(x), len(self.data) * 5 // 4), refcheck=False)
        self.data[self.n:self.n + len(x)] = x
        self.n += len(x)

    def take(self, n: int | None = None) -> np.ndarray:
        """The first ``n`` samples (all by default; zero-padded past what was appended)."""
        n = self.n if n is None else n
        if n > self.n:
            self.append(np.zeros(n - self.n, np.float32))
        self.data.resize(n, refcheck=False)  # shrinks in place: no second copy
        return self.data


def _mono(block: np.ndarray) -> np.ndarray:
    """A (frames, channels) float32 block mixed down to mono: the channels' mean,
    summed column by column (4-13x faster than ``mean(axis=1)`` on interleaved
    blocks, and bit-identical to it below 8 channels, where numpy sums in order)."""
    channels = block.shape[1]
    if channels == 1:
        return block[:, 0]
    acc = block[:, 0] + block[:, 1]
    for c in range(2, channels):
        acc += block[:, c]
    acc /= np.float32(channels)
    return acc


def decode_audio(source: AudioSource, max_seconds: float | None = None) -> DecodedAudio:
    """Decode ``source`` to mono float32, streamed (see the module's docstring): at its
    own rate, or at :data:`MAX_WORKING_RATE` when the file's rate is higher.

    At most ``max_seconds`` (and never more than :data:`MAX_DECODE_SECONDS`) is decoded;
    the rest of the file is never read. Cut by the 10-minute cap rather than by the
    caller's ``max_seconds``, the clip carries a warning saying so.
    Raises :class:`AudioError` naming the file for anything unusable; a file that
    ends before its header says decodes with a warning giving both lengths."""
    import soundfile as sf

    name = source_name(source)
    capped = max_seconds is None or max_seconds > MAX_DECODE_SECONDS
    seconds = MAX_DECODE_SECONDS if capped else max(float(max_seconds), 0.0)
    with _open(source) as f:
        sr, channels, header_frames, fmt = f.samplerate, f.channels, f.frames, f.format
        limit = int(round(seconds * sr))
        out_sr = min(sr, MAX_WORKING_RATE)
        stream = None
        if out_sr != sr:
            import soxr

            stream = soxr.ResampleStream(sr, out_sr, 1, dtype="float32", quality="HQ")
        expected = min(header_frames, limit) if header_frames > 0 else limit
        out = _Samples(int(np.ceil(expected * out_sr / sr)) + 16)
        block = np.empty((max(1, BLOCK_SAMPLES // channels), channels), np.float32)
        read, continues = 0, False
        try:
            while read < limit:
                n = min(len(block), limit - read)
                data = f.read(frames=n, dtype="float32", always_2d=True, out=block[:n])
                if len(data) == 0:
                    break
                mono = _mono(data)
                if not np.all(np.isfinite(mono)):
                    raise AudioError(f"{name}: the audio contains NaN or infinite samples")
                read += len(data)
                out.append(stream.resample_chunk(mono) if stream is not None else mono)
                if len(data) < n:
                    break
            if read >= limit > 0:  # did the file go on? (one frame more tells, whatever the header says)
                continues = len(f.read(frames=1, dtype="float32", always_2d=True)) > 0
        except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
            raise AudioError(f"{name}: the audio data could not be decoded ({exc})") from None
    if read == 0:
        raise AudioError(f"{name}: the file holds no audio samples")
    if stream is not None:
        out.append(stream.resample_chunk(np.zeros(0, np.float32), last=True))
        y = out.take(int(np.ceil(read * out_sr / sr)))  # the length a one-shot resampling gives
    else:
        y = out.take()
    warnings = []
    declared = declared_frames(_head(source), fmt, channels) if fmt in ("WAV", "AU") else header_frames
    wanted = None if declared is None else min(declared, limit)
    share, slack = TRUNCATION_TOLERANCE["estimated" if fmt == "MP3" else "exact"]
    if wanted and wanted > 0 and (wanted - read) > max(share * wanted, slack * sr):
        full = (declared or wanted) / sr
        warnings.append(f"{name} ends early: its header says {full:.1f} s, only {read / sr:.1f} s are there "
                        "(a truncated or damaged file); what is there was analysed")
    if continues and capped:
        warnings.append(f"{name} is longer than {MAX_DECODE_SECONDS / 60:g} minutes: only its first "
                        f"{MAX_DECODE_SECONDS / 60:g} minutes were decoded")
    return DecodedAudio(y, out_sr, warnings, name, continues)


def resample(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """``y`` at ``target_sr`` (soxr high quality and the output length of ``librosa.load``:
    ``ceil(len(y) * target_sr / orig_sr)``)."""
    y = np.ascontiguousarray(y, dtype=np.float32)
    if orig_sr == target_sr:
        return y
    import soxr

    n = int(np.ceil(len(y) * target_sr / orig_sr))
    out = soxr.resample(y, orig_sr, target_sr, quality="HQ")
    if len(out) != n:
        out = np.pad(out, (0, n - len(out))) if len(out) < n else out[:n]
    return np.ascontiguousarray(out, dtype=np.float32)


def load_audio(source: AudioSource, sr: int = TARGET_SR, max_seconds: float | None = None) -> np.ndarray:
    """Decode ``source`` to mono float32 at ``sr`` Hz (see :func:`decode_audio`; its
    warnings are dropped here)."""
    return decode_audio(source, max_seconds).at(sr)


_TURN = threading.Lock()


@contextmanager
def decoding_turn(waiting: Callable[[], AbstractContextManager] | None = None) -> Iterator[None]:
    """Hold this process's one decoding turn (a server decodes one upload at a time, so
    concurrent hostile uploads never add up). When another decode holds it, the caller
    waits inside ``waiting()`` (a spinner saying so, in the app) until its turn comes."""
    if not _TURN.acquire(blocking=False):
        with (waiting() if waiting is not None else nullcontext()):
            _TURN.acquire()
    try:
        yield
    finally:
        _TURN.release()
