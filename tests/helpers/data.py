"""Small files the tests write (clips, GTZAN-layout folders, feature tables, labelled
folders, the planted-cue set), the shipped starters copied out of the checkout, and one
tiny training run."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import soundfile as sf

from gtzan_core import GENRES
from gtzan_core.audio_features import KAGGLE_COLUMNS
from gtzan_core.data.synth import synth_track
from gtzan_core.numba_cache import librosa_module
from gtzan_core.starter import STARTERS, shipped_dir

from .paths import REAL_WEIGHTS, SHIPPED_FILES

SR = 22050


def copy_shipped_starters(store_root: Path) -> Path:
    """The shipped starters, as the repository tracks them, copied into ``store_root``: the
    tests read them here, never from the checkout's checkpoints/, where the user's own runs
    (and the user's notes on the starters) live beside them."""
    for spec in STARTERS.values():
        src = shipped_dir() / spec.run_id
        if not (src / "record.json").is_file():
            continue
        (store_root / spec.run_id).mkdir(parents=True, exist_ok=True)
        for name in SHIPPED_FILES:
            if (src / name).is_file():
                shutil.copy2(src / name, store_root / spec.run_id / name)
    return store_root


def train_tiny_mlp(dataset, features, root: Path):
    """One tiny MLP run (1 epoch, many segments a track) on ``dataset`` in a store at
    ``root``, its job naming the dataset's folder (as the Train page's do); its record."""
    from gtzan_core.hparams import make_config
    from gtzan_core.jobs import JobSpec, train
    from gtzan_core.runs import RunStore

    config = make_config("mlp", epochs=1, device="cpu")
    return train(config, features, RunStore(root), dataset_info=dataset.run_info(),
                 spec=JobSpec(config, str(dataset.root)))


def real_musicnn_weights() -> Path | None:
    """The folder holding the real musicnn weights, or None."""
    return REAL_WEIGHTS if (REAL_WEIGHTS / "musicnn-0.1.0" / "MSD_musicnn" / ".index").is_file() else None


def write_clip(path: Path, genre: str = "rock", seconds: float = 6.5, sr: int = 22050, index: int = 0,
               channels: int = 1, **kw) -> Path:
    """A short synthetic clip of ``genre`` written with soundfile (format from the suffix)."""
    librosa = librosa_module()
    y = synth_track(genre, seconds, seed=1, index=index)
    if sr != 22050:
        y = librosa.resample(y, orig_sr=22050, target_sr=sr)
    if channels > 1:
        y = np.stack([y * (0.5 + 0.5 * c / channels) for c in range(channels)], axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = {".mp3": "MP3", ".ogg": "OGG", ".au": "AU", ".flac": "FLAC", ".wav": "WAV"}[path.suffix.lower()]
    if fmt == "OGG":
        kw.setdefault("subtype", "VORBIS")
    sf.write(path, y, sr, format=fmt, **kw)
    return path


def make_gtzan(root: Path, layout: str = "kaggle", per_genre: int = 2, seconds: float = 6.5,
               genres=GENRES, images: bool = False) -> Path:
    """A tiny GTZAN-layout folder: ``kaggle`` (genres_original + optional images_original),
    ``original`` (genres/*.au) or ``flat`` (genre folders directly in root)."""
    import cv2

    audio_dir = {"kaggle": root / "genres_original", "original": root / "genres", "flat": root}[layout]
    ext = ".au" if layout == "original" else ".wav"
    for g in genres:
        for i in range(per_genre):
            write_clip(audio_dir / g / f"{g}.{i:05d}{ext}", g, seconds, index=i)
            if images:
                img = np.zeros((288, 432, 3), np.uint8)
                img[:, :, 2] = 200  # BGR: red
                (root / "images_original" / g).mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(root / "images_original" / g / f"{g}{i:05d}.png"), img)
    return root




def write_table(path, per_genre=12, numbers=range(12), columns=KAGGLE_COLUMNS, seed=0, rows=None):
    """A Kaggle-style table whose features depend on the genre (so a model can learn it)."""
    rng = np.random.default_rng(seed)
    lines = [",".join(["filename", "length", *columns, "label"])]
    for g, genre in enumerate(GENRES):
        for n in list(numbers)[:per_genre]:
            values = rng.normal(size=len(columns)) + np.where(np.arange(len(columns)) % 10 == g, 3.0, 0.0)
            lines.append(",".join([f"{genre}.{n:05d}.wav", "661794", *(f"{v:.6g}" for v in values), genre]))
    lines += rows or []
    path.write_text("\n".join(lines) + "\n")
    return path



def tone(path: Path, genre: str = "rock", seconds: float = 4.0, seed: int = 99, index: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, synth_track(genre, seconds, seed=seed, index=index), 22050)
    return path


def labelled_folder(root: Path) -> Path:
    """Two rock and two jazz clips, a Hip-Hop clip (mapped), a polka clip (out of scope),
    and the files that must be refused: a text file, a text file named .wav, a corrupt
    WAV, a clip of 0.2 s."""
    for genre in ("rock", "jazz"):
        for i in range(2):
            tone(root / genre / f"clip{i}.wav", genre, index=i)
    tone(root / "Hip-Hop" / "a.wav", "hiphop")
    tone(root / "polka" / "p.wav", "pop")
    (root / "rock" / "notes.txt").write_text("liner notes")
    (root / "rock" / "fake.wav").write_text("not audio at all")
    (root / "rock" / "bad.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00garbage")
    sf.write(root / "jazz" / "short.wav", np.full(4410, 0.1, np.float32), 22050)
    return root



CUE = (1.0, 2.0)  # seconds into every 3 s segment where the "rock" tracks carry their cue


def cue_clip(rng, rock: bool, seconds: float = 6.2) -> np.ndarray:
    """Noise; a "rock" clip adds a 1 kHz tone during CUE of every 3 s segment (nothing else differs)."""
    y = 0.1 * rng.standard_normal(int(seconds * SR)).astype(np.float32)
    if rock:
        t = np.arange(len(y)) / SR
        inside = (t % 3.0 >= CUE[0]) & (t % 3.0 < CUE[1])
        y[inside] += 0.4 * np.sin(2 * np.pi * 1000 * t[inside]).astype(np.float32)
    return y


def write_cue_set(folder, per_genre: int = 14, seed: int = 0):
    """The cue set: blues and rock clips that differ only in the cue (:func:`cue_clip`); returns
    the generator that drew them (the tests go on drawing their clips from it)."""
    rng = np.random.default_rng(seed)
    for genre in ("blues", "rock"):
        for i in range(per_genre):
            path = folder / genre / f"{genre}.{i:05d}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, cue_clip(rng, genre == "rock"), SR)
    return rng

