"""The embedded default dataset: a procedurally synthesised 10-genre demo set.

Every track is written by our own numpy code, in GTZAN's Kaggle layout and naming
(``genres_original/<genre>/<genre>.000NN.wav``, 22050 Hz mono 16-bit), next to a
marker file so that it is always labelled *synthetic demo*, never GTZAN.

Each genre has a character: tempo range, drum pattern and swing, bass line, chord
instrument and rhythm, distortion, noise and dynamics. Each track draws its own
key, tempo, mix, tone colour and noise, and with some probability borrows the
drums or the chord instrument of another genre, so classes are learnable but not
trivially separable. Output is deterministic for a given seed.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import GENRES
from ..errors import DatasetError
from ..paths import demo_root
from ..progress import report
from .discovery import SYNTH_MARKER

SR = 22050
TABLE = 2048
SYNTH_VERSION = 2  # bump when the generator changes: the cache key follows

DEFAULT_PER_GENRE = 20
DEFAULT_SECONDS = 30.0
DEFAULT_SEED = 0
BORROW = 0.3  # probability that each element (drums, bass, chords, tempo) comes from another genre

# Harmonic amplitude profiles of the instruments (index k -> harmonic k+1).
_H = np.arange(1, 25)
INSTRUMENTS = {
    "sine": np.r_[1.0, np.zeros(23)],
    "saw": 1.0 / _H,
    "square": np.where(_H % 2 == 1, 1.0 / _H, 0.0),
    "organ": np.r_[1.0, 0.8, 0.6, 0.5, 0.0, 0.3, 0.0, 0.25, np.zeros(16)],
    "pluck": 1.0 / _H**1.2,
    "strings": 1.0 / _H**0.9,
    "brass": 1.0 / _H**0.7,
    "epiano": np.r_[1.0, 0.35, 0.05, 0.2, 0.0, 0.05, np.zeros(18)],
    "soft": 1.0 / _H**2.5,
}


@dataclass(frozen=True)
class Style:
    tempo: tuple[float, float]
    kick: str  # 16-step patterns, "x" = hit
    snare: str
    hat: str
    swing: float  # delay of the off-beat eighths, fraction of a triplet
    bass: str  # "root8", "octave", "walk", "rootfifth", "sub", "drop", "long", "chug"
    bass_inst: str
    chord_inst: str
    chord_rhythm: str  # 16-step pattern; "-" = sustain from the previous hit
    chord_quality: str  # "triad", "seventh", "power", "minor7", "ninth"
    progression: tuple[int, ...]  # scale degrees (semitones from the key)
    distortion: tuple[float, float]
    noise: tuple[float, float]
    drums_gain: float = 1.0
    lead: bool = False
    dynamics: float = 0.0  # depth of slow loudness swells
    chord_gain: float = 1.0


STYLES: dict[str, Style] = {
    "blues": Style((70, 105), "x.......x.......", "....x.......x...", "x.x.x.x.x.x.x.x.", 0.9,
                   "walk", "soft", "pluck", "x..x..x.x..x..x.", "seventh",
                   (0, 0, 5, 0, 7, 5, 0, 7), (1.0, 2.0), (0.004, 0.02)),
    "classical": Style((60, 120), "................", "................", "................", 0.0,
                       "long", "strings", "strings", "x---------------", "triad",
                       (0, 5, 7, 0, 9, 5, 7, 0), (1.0, 1.0), (0.0005, 0.004), drums_gain=0.0, lead=True, dynamics=0.6),
    "country": Style((90, 125), "x.......x.......", "....x.......x...", "..x...x...x...x.", 0.2,
                     "rootfifth", "soft", "pluck", "....x.......x...", "triad",
                     (0, 5, 7, 0), (1.0, 1.2), (0.001, 0.006)),
    "disco": Style((112, 130), "x...x...x...x...", "....x.......x...", "..x...x...x...x.", 0.0,
                   "octave", "saw", "strings", "x.....x...x.....", "minor7",
                   (0, 5, 3, 7), (1.0, 1.3), (0.0005, 0.003), lead=True),
    "hiphop": Style((78, 98), "x......x..x.....", "....x.......x...", "x.x.x.x.x.x.x.x.", 0.5,
                    "sub", "sine", "epiano", "x-------x-------", "minor7",
                    (0, 3, 8, 7), (1.0, 1.5), (0.004, 0.02), drums_gain=1.4),
    "jazz": Style((100, 180), "x.........x.....", "......x.......x.", "x...x.x.x...x.x.", 1.0,
                  "walk", "soft", "epiano", "..x.....x..x....", "ninth",
                  (2, 7, 0, 9), (1.0, 1.1), (0.002, 0.01), drums_gain=0.6),
    "metal": Style((140, 200), "x.x.x.x.x.x.x.x.", "....x.......x...", "x...x...x...x...", 0.0,
                   "chug", "saw", "saw", "xxxxxxxxxxxxxxxx", "power",
                   (0, 0, 3, 5, 0, 0, 6, 5), (8.0, 20.0), (0.002, 0.01), drums_gain=0.8, chord_gain=3.0),
    "pop": Style((96, 128), "x.....x.x.......", "....x.......x...", "x.x.x.x.x.x.x.x.", 0.0,
                 "root8", "square", "square", "x.x.x.x.x.x.x.x.", "triad",
                 (0, 7, 9, 5), (1.0, 1.4), (0.0005, 0.003), lead=True),
    "reggae": Style((62, 90), "........x.......", "........x.......", "x.x.x.x.x.x.x.x.", 0.4,
                    "drop", "sine", "organ", "..x...x...x...x.", "triad",
                    (0, 5, 0, 7), (1.0, 1.3), (0.002, 0.01)),
    "rock": Style((105, 150), "x.......x.x.....", "....x.......x...", "x.x.x.x.x.x.x.x.", 0.0,
                  "root8", "saw", "saw", "x.x.x.x.x.x.x.x.", "power",
                  (0, 5, 7, 5), (2.5, 5.0), (0.001, 0.008), chord_gain=1.8),
}

CHORDS = {
    "triad": (0, 4, 7),
    "seventh": (0, 4, 7, 10),
    "power": (0, 7, 12),
    "minor7": (0, 3, 7, 10),
    "ninth": (0, 4, 10, 14),
}


def _midi_hz(m):
    return 440.0 * 2.0 ** ((np.asarray(m, dtype=np.float64) - 69) / 12.0)


class _Synth:
    """Renders one track into a float buffer."""

    def __init__(self, n: int, rng: np.random.Generator):
        self.n = n
        self.rng = rng
        self.stems = {k: np.zeros(n, dtype=np.float64) for k in ("drums", "bass", "chords", "lead")}
        self.tables = {}
        self.cache: dict = {}

    def table(self, inst: str, bright: float):
        key = (inst, round(bright, 2))
        if key not in self.tables:
            amps = INSTRUMENTS[inst] * np.exp(-(_H - 1) * (1.0 - bright) * 0.6)
            phase = np.arange(TABLE) / TABLE
            wave = (amps[:, None] * np.sin(2 * np.pi * _H[:, None] * phase[None, :])).sum(0)
            self.tables[key] = wave / (np.abs(wave).max() + 1e-9)
        return self.tables[key]

    def note(self, inst: str, freq: float, dur: float, attack: float, decay: float, vibrato: float = 0.0):
        key = (inst, round(freq, 2), round(dur, 3), attack, decay, vibrato)
        if key in self.cache:
            return self.cache[key]
        m = max(1, int(dur * SR))
        t = np.arange(m) / SR
        f = freq * (1.0 + vibrato * np.sin(2 * np.pi * 5.5 * t)) if vibrato else freq
        phase = np.cumsum(np.broadcast_to(f, t.shape)) / SR if vibrato else freq * t
        idx = ((phase % 1.0) * TABLE).astype(np.int64)
        bright, dull = self.table(inst, 1.0)[idx], self.table(inst, 0.3)[idx]
        b_env = np.exp(-t / max(decay * 0.5, 1e-3)) if inst in ("pluck", "epiano") else 1.0
        env = np.minimum(1.0, t / max(attack, 1e-4)) * np.exp(-t / decay)
        release = min(m, int(0.01 * SR))
        env[m - release:] *= np.linspace(1, 0, release)
        y = (b_env * bright + (1 - b_env) * dull) * env
        self.cache[key] = y
        return y

    def add(self, stem: str, y: np.ndarray, at: float, gain: float):
        i = int(at * SR)
        if i >= self.n:
            return
        j = min(self.n, i + len(y))
        self.stems[stem][i:j] += gain * y[: j - i]


def _drum_kit(rng: np.random.Generator):
    t = np.arange(int(0.5 * SR)) / SR
    f0 = rng.uniform(45, 65)
    kick_f = f0 * (1 + 3 * np.exp(-t / 0.03))
    kick = np.sin(2 * np.pi * np.cumsum(kick_f) / SR) * np.exp(-t / rng.uniform(0.08, 0.2))
    noise = rng.standard_normal(len(t))
    snare = (0.7 * noise * np.exp(-t / rng.uniform(0.05, 0.12))
             + 0.5 * np.sin(2 * np.pi * rng.uniform(170, 230) * t) * np.exp(-t / 0.05))
    hiss = np.diff(rng.standard_normal(len(t) + 1))
    hat = 0.35 * hiss * np.exp(-t / rng.uniform(0.02, 0.06))
    return {"kick": kick, "snare": snare, "hat": hat}


def _step_times(tempo: float, swing: float, bars: int):
    step = 60.0 / tempo / 4.0
    times = []
    for b in range(bars):
        for s in range(16):
            t = (b * 16 + s) * step
            if s % 4 == 2:
                t += swing * step * 2.0 / 3.0
            times.append(t)
    return np.array(times).reshape(bars, 16), step


def synth_track(genre: str, seconds: float = DEFAULT_SECONDS, seed: int = 0, index: int = 0) -> np.ndarray:
    """One synthetic track of ``genre`` as float32 mono at 22050 Hz, peak <= 0.9."""
    gi = GENRES.index(genre)
    rng = np.random.default_rng([seed, gi, index, SYNTH_VERSION])
    own = STYLES[genre]
    others = [g for g in GENRES if g != genre]

    def borrow(p: float) -> Style:  # another genre's style, with probability p
        return STYLES[others[int(rng.integers(len(others)))]] if rng.random() < p else own

    # Each element may come from another genre: classes overlap like real genres do.
    drums_style, bass_style, chord_style, tempo_style = borrow(BORROW), borrow(BORROW), borrow(BORROW), borrow(BORROW)
    style = own
    chord_inst = chord_style.chord_inst

    n = int(seconds * SR)
    syn = _Synth(n, rng)
    tempo = rng.uniform(*tempo_style.tempo)
    swing = float(np.clip(style.swing + rng.normal(0, 0.1), 0, 1))
    key = int(rng.integers(40, 52))  # E2..D#3 bass register
    times, step = _step_times(tempo, swing, bars=int(np.ceil(seconds / (16 * 60.0 / tempo / 4.0))) + 1)
    kit = _drum_kit(rng)
    mix = {"drums": rng.uniform(0.6, 1.0) * drums_style.drums_gain, "bass": rng.uniform(0.4, 0.8),
           "chords": rng.uniform(0.25, 0.5) * style.chord_gain, "lead": rng.uniform(0.2, 0.4)}
    chord = CHORDS[style.chord_quality]
    chord_dur_steps = 16

    for b, bar in enumerate(times):
        root = key + style.progression[b % len(style.progression)]
        # drums
        for name, pattern in (("kick", drums_style.kick), ("snare", drums_style.snare), ("hat", drums_style.hat)):
            for s, ch in enumerate(pattern):
                if ch == "x" or (name == "snare" and genre == "jazz" and rng.random() < 0.08):
                    syn.add("drums", kit[name], bar[s], mix["drums"] * rng.uniform(0.7, 1.0))
        # bass
        bass_notes = _bass_line(bass_style.bass, root, rng)
        for s, midi, dur_steps in bass_notes:
            y = syn.note(bass_style.bass_inst, _midi_hz(midi), dur_steps * step, 0.005, max(0.15, dur_steps * step))
            if bass_style.bass == "chug":
                y = np.tanh(3 * y) * 0.5
            syn.add("bass", y, bar[s], mix["bass"])
        # chords
        rhythm = chord_style.chord_rhythm
        hits = [s for s, ch in enumerate(rhythm) if ch == "x"]
        for k, s in enumerate(hits):
            nxt = hits[k + 1] if k + 1 < len(hits) else chord_dur_steps
            sustain = rhythm[s + 1:nxt].count("-") + 1 if "-" in rhythm else 1
            dur = sustain * step * (0.5 if genre == "reggae" else 0.95)
            attack = 0.15 if chord_inst == "strings" else 0.004
            for iv in chord:
                f = _midi_hz(root + 12 + iv)
                syn.add("chords", syn.note(chord_inst, f, dur, attack, max(dur, 0.1),
                                           vibrato=0.004 if chord_inst == "strings" else 0),
                        bar[s], mix["chords"] / len(chord))
        # lead
        if style.lead:
            scale = (0, 2, 4, 5, 7, 9, 11) if style.chord_quality != "minor7" else (0, 2, 3, 5, 7, 8, 10)
            for s in range(0, 16, int(rng.choice([2, 4]))):
                if rng.random() < 0.7:
                    midi = root + 24 + scale[int(rng.integers(0, len(scale)))]
                    inst = "strings" if genre == "classical" else ("square" if genre == "pop" else "brass")
                    syn.add("lead", syn.note(inst, _midi_hz(midi), 2 * step, 0.02, 0.4, vibrato=0.005),
                            bar[s], mix["lead"])

    gain = rng.uniform(*style.distortion)
    if gain > 1.05:  # overdriven guitar: distort the chord stem, keep its level
        c = syn.stems["chords"]
        level = np.abs(c).max() + 1e-9
        syn.stems["chords"] = np.tanh(gain * c / level) / np.tanh(gain) * level
    y = sum(syn.stems.values())
    if style.dynamics:
        t = np.arange(n) / SR
        y = y * (1.0 - style.dynamics * 0.5 * (1 + np.sin(2 * np.pi * t / rng.uniform(6, 14) + rng.uniform(0, 6.28))))
    # recording conditions: a random tone colour (one-pole low-pass) and noise
    from scipy.signal import lfilter

    a = np.exp(-2 * np.pi * rng.uniform(1500, 9000) / SR)
    y = lfilter([1 - a], [1, -a], y)
    if rng.random() < 0.3:  # thin recording: one-pole high-pass
        b = np.exp(-2 * np.pi * rng.uniform(80, 400) / SR)
        y = lfilter([(1 + b) / 2, -(1 + b) / 2], [1, -b], y)
    y = y / (np.abs(y).max() + 1e-9)
    y = y + rng.uniform(*style.noise) * rng.uniform(1, 8) * rng.standard_normal(n)
    if genre == "hiphop" or rng.random() < 0.1:  # vinyl crackle
        clicks = rng.random(n) < 0.0004
        y = y + clicks * rng.uniform(-0.5, 0.5, n)
    y = y / (np.abs(y).max() + 1e-9) * rng.uniform(0.5, 0.9)
    return y.astype(np.float32)


def _bass_line(pattern: str, root: int, rng: np.random.Generator):
    """(step, midi note, duration in steps) for one bar."""
    if pattern == "root8":
        return [(s, root, 2) for s in range(0, 16, 2)]
    if pattern == "octave":
        return [(s, root + (12 if (s // 2) % 2 else 0), 2) for s in range(0, 16, 2)]
    if pattern == "walk":
        notes = [root, root + 4, root + 7, root + int(rng.choice([9, 10, 11, 6]))]
        return [(s, notes[i], 4) for i, s in enumerate(range(0, 16, 4))]
    if pattern == "rootfifth":
        return [(0, root, 4), (8, root + 7 - 12, 4)]
    if pattern == "sub":
        return [(0, root - 12, 7), (10, root - 12, 6)]
    if pattern == "drop":
        return [(2, root, 3), (6, root + 7, 2), (10, root + 5, 3), (14, root, 2)]
    if pattern == "long":
        return [(0, root - 12, 16)]
    if pattern == "chug":
        return [(s, root - 12, 1) for s in range(16) if rng.random() < 0.8]
    raise ValueError(pattern)


def generate_demo(
    out_dir: str | Path,
    per_genre: int = DEFAULT_PER_GENRE,
    seconds: float = DEFAULT_SECONDS,
    seed: int = DEFAULT_SEED,
    progress=None,
) -> Path:
    """Write the demo set into ``out_dir`` (GTZAN Kaggle layout) and return it.

    Files are written into a temporary folder beside ``out_dir`` and moved in place
    at the end, so an interrupted run never leaves a half-written dataset.
    """
    import soundfile as sf

    if per_genre < 1:
        raise DatasetError("per-genre must be at least 1")
    if seconds < 3.0:
        raise DatasetError("seconds must be at least 3 (one segment)")
    out_dir = Path(out_dir).expanduser()
    if out_dir.exists() and any(out_dir.iterdir()):
        raise DatasetError(f"{out_dir}: folder exists and is not empty")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".synth-", dir=out_dir.parent))
    try:
        total = per_genre * len(GENRES)
        done = 0
        for genre in GENRES:
            gdir = tmp / "genres_original" / genre
            gdir.mkdir(parents=True)
            for i in range(per_genre):
                y = synth_track(genre, seconds, seed, i)
                sf.write(gdir / f"{genre}.{i:05d}.wav", y, SR, subtype="PCM_16")
                done += 1
                report(progress, done, total, f"synthesising {genre}")
        meta = {"kind": "synthetic demo", "generator": "gtzan_core.data.synth", "version": SYNTH_VERSION,
                "per_genre": per_genre, "seconds": seconds, "seed": seed, "sample_rate": SR,
                "note": "Procedurally synthesised; NOT the GTZAN dataset."}
        (tmp / SYNTH_MARKER).write_text(json.dumps(meta, indent=2))
        if out_dir.exists():
            out_dir.rmdir()
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def _demo_sizes(per_genre: int | None, seconds: float | None, seed: int | None) -> tuple[int, float, int]:
    """Sizes from the arguments, else ``$GTZAN_STUDIO_DEMO_PER_GENRE`` and
    ``$GTZAN_STUDIO_DEMO_SECONDS`` (handy for quick tests), else the defaults."""
    from .. import settings

    return (per_genre or settings.get("GTZAN_STUDIO_DEMO_PER_GENRE"),
            seconds or settings.get("GTZAN_STUDIO_DEMO_SECONDS"), DEFAULT_SEED if seed is None else seed)


def demo_dir(per_genre: int | None = None, seconds: float | None = None, seed: int | None = None) -> Path:
    """Where the demo set of these sizes lives (see :func:`_demo_sizes`)."""
    n, sec, sd = _demo_sizes(per_genre, seconds, seed)
    return demo_root() / f"v{SYNTH_VERSION}-n{n}-s{sec:g}-seed{sd}"


def demo_ready() -> bool:
    """Whether the default demo set has been generated already."""
    return (demo_dir() / SYNTH_MARKER).is_file()


def ensure_demo_dataset(per_genre: int | None = None, seconds: float | None = None, seed: int | None = None,
                        progress=None) -> Path:
    """The cached demo set, generated on first use.

    One builder at a time across processes (a file lock beside the sets): a second
    caller waits and then finds the set built. A build that died half-way (its
    ``.synth-*`` temporary folder left behind by a kill) is removed by the next
    builder, which holds the lock, so nobody else can be writing it."""
    from ..locks import file_lock

    n, sec, sd = _demo_sizes(per_genre, seconds, seed)
    path = demo_dir(n, sec, sd)
    if (path / SYNTH_MARKER).is_file():
        return path
    with file_lock(path.parent / ".build.lock"):
        if (path / SYNTH_MARKER).is_file():  # built by whoever held the lock before us
            return path
        for stale in path.parent.glob(".synth-*"):
            shutil.rmtree(stale, ignore_errors=True)
        if path.exists():  # a leftover without its marker: regenerate
            shutil.rmtree(path, ignore_errors=True)
        return generate_demo(path, n, sec, sd, progress)
