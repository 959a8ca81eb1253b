"""Hostile audio files for the tests and ``bench/decode_memory.py``: the decode bomb of
issue 30 (a small FLAC whose header declares 8 channels at 384 kHz for minutes), written
block by block so that no test ever holds it, and a child process that decodes one and
reports its peak memory growth."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from .paths import ROOT


def write_bomb(path: Path, seconds: float = 600.0, sr: int = 384000, channels: int = 8,
               subtype: str = "PCM_16") -> Path:
    """A file of ``channels`` × ``sr`` Hz × ``seconds`` (format from the suffix: .flac or
    .wav) of near-silence: a faint 440 Hz tone in the first channel for the first second
    (so the decode has something to get right), then zeros. The issue's 10-minute FLAC is
    2.0 MB; the WAV of the same shape is 3.7 GB (16-bit)."""
    import soundfile as sf

    fmt = {".flac": "FLAC", ".wav": "WAV"}[path.suffix.lower()]
    block = np.zeros((sr, channels), np.float32)
    tone = block.copy()
    tone[:, 0] = 0.01 * np.sin(2 * np.pi * 440 * np.arange(sr) / sr)
    whole, rest = divmod(int(round(seconds * sr)), sr)
    with sf.SoundFile(path, "w", sr, channels, subtype=subtype, format=fmt) as f:
        for k in range(whole):
            f.write(tone if k == 0 else block)
        if rest:
            f.write((tone if whole == 0 else block)[:rest])
    return path


# The child that decodes one file and reports its peak RSS growth over its own baseline
# (modules loaded, both paths' code run once): the kernel's high-water mark (VmHWM) reset at the baseline
# (``clear_refs``), since ``getrusage`` would report the parent's size inherited across
# fork and exec (without the reset the growth is counted from the current RSS: an
# over-estimate, never an under-estimate). "streamed" is the studio's decode (then the
# clip at 22.05 and 16 kHz, as a prediction with musicnn asks for it); "reference" is the
# decode before issue 30: every channel read whole as float32 (up to 10 minutes), mixed
# with ``mean(axis=1)``, resampled with librosa.
_CHILD = r"""
import json, sys, time
import numpy as np, soundfile as sf, soxr
import librosa
from gtzan_core import audio
def status_mb(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith(field + ":"))
librosa.resample(np.zeros(4410, np.float32), orig_sr=44100, target_sr=22050)  # both paths' code loaded first:
audio.resample(np.zeros(4410, np.float32), 44100, 22050)  # the growth is the decode's, not an import's
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
except OSError:
    pass
mode, path = sys.argv[1:3]
base, message, t0 = status_mb("VmRSS"), None, time.perf_counter()
try:
    if mode == "reference":
        with sf.SoundFile(path) as f:
            data = f.read(frames=int(600 * f.samplerate), dtype="float32", always_2d=True)
            sr = f.samplerate
        y = data.mean(axis=1)
        out = [librosa.resample(y, orig_sr=sr, target_sr=rate) for rate in (22050, 16000)]
    else:
        decoded = audio.decode_audio(path, max_seconds=600)
        out = [decoded.at(rate) for rate in (22050, 16000)]
    seconds = len(out[0]) / 22050
except audio.AudioError as exc:
    message, seconds = str(exc), 0.0
print(json.dumps({"growth_mb": status_mb("VmHWM") - base, "base_mb": base, "message": message,
                  "seconds": seconds, "wall_s": time.perf_counter() - t0}))
"""


def decode_growth(path: Path, mode: str = "streamed", timeout: float = 900) -> dict:
    """Decode ``path`` in a fresh process (``mode``: "streamed", the studio's decode, or
    "reference", the decode before issue 30); returns its peak RSS growth in MB, the clip's
    length in seconds, the wall time and the refusal's message, if any."""
    done = subprocess.run([sys.executable, "-c", _CHILD, mode, str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"the measuring process failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.splitlines()[-1])
