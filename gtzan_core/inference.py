"""Prediction: an audio clip -> every selected run's genre probabilities.

MFCC models score each 3 s segment, musicnn each 3 s log-mel patch (16 kHz);
image models score each 30 s window (a clip of GTZAN's length is one picture
drawn whole). Per-row probabilities are averaged into the clip's probabilities.
A clip shorter than one segment (but at least
:data:`~gtzan_core.features.MIN_CLIP_SECONDS`) is repeat-padded to one, as in
training, and the prediction says so. The file is decoded once, bounded and streamed
(:func:`gtzan_core.audio.decode_audio`: at most its first 10 minutes), and resampled to
each rate a model needs; an already decoded clip (:class:`~gtzan_core.audio.DecodedAudio`,
what the Predict page hands over) is taken as it is. Loaded models are kept in a small thread-safe LRU cache
keyed by checkpoint file and modification time.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import torch

from . import GENRES
from .models import get_spec
from .audio import MAX_DECODE_SECONDS, AudioSource, DecodedAudio, decode_audio, source_name
from .errors import AudioError, CheckpointError
from .features import ImageParams, MFCCParams, is_padded, mfcc_segments, normalize_images, spectrogram_input
from .runs import RunStore, load_checkpoint_file

MAX_PREDICT_SECONDS = MAX_DECODE_SECONDS  # at most the first 10 minutes of an upload are analysed
_CACHE_SIZE = 12
_cache: "OrderedDict[tuple, tuple[torch.nn.Module, dict]]" = OrderedDict()
_cache_lock = threading.Lock()


def probabilities(logits: torch.Tensor) -> np.ndarray:
    """The one place where logits become probabilities."""
    return torch.softmax(logits.float(), dim=-1).cpu().numpy()


@dataclass
class RunPrediction:
    run_id: str
    model: str
    title: str
    dataset: str
    unit: str  # "segment" (3 s), "patch" (3 s, musicnn) or "window" (30 s)
    starts: np.ndarray  # start time of each row, seconds
    segment_probs: np.ndarray  # (rows, n_classes)
    probs: np.ndarray  # (n_classes,)

    @property
    def top(self) -> str:
        return GENRES[int(self.probs.argmax())]

    def as_dict(self) -> dict:
        return {"model": self.model, "dataset": self.dataset, "top": self.top,
                "probabilities": {g: round(float(p), 6) for g, p in zip(GENRES, self.probs)},
                "unit": self.unit, "segments": int(len(self.segment_probs))}


@dataclass
class Prediction:
    audio: np.ndarray
    sr: int
    mfcc: np.ndarray  # (n_segments, frames, n_mfcc)
    image: np.ndarray  # first window's model input image (uint8 RGB)
    results: dict[str, RunPrediction] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)  # run id -> why
    truncated: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sr

    def ensemble(self) -> np.ndarray | None:
        if not self.results:
            return None
        return np.mean([r.probs for r in self.results.values()], axis=0)

    def agreement(self) -> float | None:
        """Share of runs whose top genre equals the most common top genre."""
        if not self.results:
            return None
        tops = [r.top for r in self.results.values()]
        return max(tops.count(t) for t in set(tops)) / len(tops)


def audio_warnings(y: np.ndarray, truncated: bool = False, max_seconds: float = MAX_PREDICT_SECONDS,
                   sr: int = 22050) -> list[str]:
    """Things about a clip that make its predictions doubtful (it is still analysed)."""
    out = []
    if len(y) and is_padded(len(y), MFCCParams(sr=sr)):
        out.append(f"the clip is {len(y) / sr:.1f} s long, under one 3 s segment: it was repeat-padded to one "
                   "(looped), as short clips are in training")
    peak = float(np.abs(y).max()) if len(y) else 0.0
    if peak < 1e-4:
        out.append("the clip is silent: the probabilities carry no information")
    elif np.mean(np.abs(y) >= 0.999 * peak) > 0.25:
        out.append("the clip is clipped at full scale for much of its length (distorted or synthetic)")
    if truncated:
        out.append(f"only the first {max_seconds / 60:g} minutes were analysed")
    return out


def load_run_model(store: RunStore, run_id: str, device: str = "cpu") -> tuple[torch.nn.Module, dict]:
    """The run's best model (cached) and its checkpoint metadata."""
    from .training import checkpoint_model

    path = store.checkpoint_path(run_id)
    if not path.is_file():
        status = store.read(run_id).get("status", "?")
        raise CheckpointError(f"run {run_id} has no saved model yet (status: {status})")
    key = (str(path), path.stat().st_mtime_ns, str(device))
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    ckpt = load_checkpoint_file(path)
    model = checkpoint_model(ckpt).to(device).eval()
    with _cache_lock:
        _cache[key] = (model, ckpt["meta"])
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return model, ckpt["meta"]


def clear_model_cache() -> None:
    with _cache_lock:
        _cache.clear()


#: Rows per forward pass when predicting: a 10-minute upload is 20 pictures or 200 musicnn
#: patches, whose activations in one pass would take hundreds of MB (EfficientNet-Lite0 at
#: 224²: ~25 MB a picture); a GTZAN-length clip (one picture, ten patches) is one pass.
PREDICT_BATCH = {"image": 4, "musicnn": 32}


def _batched(forward, rows: np.ndarray, kind: str) -> np.ndarray:
    """``probabilities(forward(rows))`` computed :data:`PREDICT_BATCH` rows at a time."""
    size = PREDICT_BATCH[kind]
    return np.concatenate([probabilities(forward(rows[i:i + size])) for i in range(0, len(rows), size)])


def _param_mismatch(expected: dict, actual: dict) -> list[str]:
    return [f"{k}={actual.get(k)} (here {v})" for k, v in expected.items() if actual.get(k) != v]


def musicnn_rows(decoded: DecodedAudio, params) -> tuple[np.ndarray, np.ndarray]:
    """musicnn's input for a clip: its log-mel patches (16 kHz; a short clip repeat-padded
    to one) and each patch's start time."""
    from .features import MIN_CLIP_SECONDS
    from .mel_patches import mel_patches

    patches, _ = mel_patches(decoded.at(params.sr), params, MIN_CLIP_SECONDS)
    seconds = params.patch_frames * params.hop_length / params.sr
    return patches, np.arange(len(patches)) * seconds


def image_windows(y: np.ndarray, mfcc: MFCCParams, image: ImageParams) -> tuple[np.ndarray, np.ndarray]:
    """Model input images for each 30 s window: (n, size, size, 3) and start times.

    A clip of GTZAN's length (up to 5 % over ``track_seconds``) is one window drawn
    whole, as the dataset's pictures are; a longer one is cut into 30 s windows (a
    last window of at least one segment is kept, zero-padded)."""
    from .spectrogram.kaggle import WHOLE_CLIP_SLACK

    win = mfcc.track_samples
    if len(y) <= win * WHOLE_CLIP_SLACK:
        return spectrogram_input(y, mfcc, image)[None], np.zeros(1)
    starts = [s for s in range(0, len(y), win) if len(y) - s >= mfcc.samples_per_segment]
    imgs = np.stack([spectrogram_input(y[s:s + win], mfcc, image) for s in starts])
    return imgs, np.array(starts) / mfcc.sr


def picture_warning(record: dict, image: ImageParams) -> str | None:
    """Why an upload's picture may not look like what an image run trained on, or None.

    The picture of an upload is drawn in the run's own style. It differs from the
    run's training pictures only when the run trained on the dataset's PNGs and its
    style is not the Kaggle one (runs from before picture styles, drawn full-bleed,
    pixel correlation with the PNGs about 0); the Kaggle style matches the PNGs
    (correlation >= 0.99 on the real pairs, ``bench/render.py``)."""
    from .spectrogram import DEFAULT_STYLE, DESCRIPTIONS

    sources = record.get("image_sources") or {}
    if not sources.get("png") or image.style == DEFAULT_STYLE:
        return None
    mix = ", ".join(f"{n} {k}" for k, n in sources.items())
    return (f"{record.get('title', record.get('model', '?'))} ({record.get('run_id', '?')}) was trained on the "
            f"dataset's PNG spectrograms ({mix}), but its pictures of new audio are drawn in the style it was "
            f"trained with, '{image.style}' ({DESCRIPTIONS.get(image.style, '?')}): its predictions on uploads "
            "are unreliable. Train it again to use the Kaggle style.")


def predict(
    audio: AudioSource | DecodedAudio | np.ndarray,
    run_ids: list[str] | None = None,
    store: RunStore | None = None,
    device: str = "cpu",
    mfcc: MFCCParams | None = None,
    image: ImageParams | None = None,
    max_seconds: float = MAX_PREDICT_SECONDS,
) -> Prediction:
    """Predict the genre of ``audio`` with each run in ``run_ids`` (default: every run
    with a saved model). Runs whose feature parameters differ from ``mfcc``/``image``
    are listed in ``refused`` with the reason instead of being used."""
    store = store or RunStore()
    mfcc = mfcc or MFCCParams()
    image = image or ImageParams()
    if isinstance(audio, np.ndarray):
        y = np.asarray(audio, dtype=np.float32)[: int(max_seconds * mfcc.sr)]
        if not np.all(np.isfinite(y)):
            raise AudioError("the audio contains NaN or infinite samples")
        truncated = len(audio) > len(y)
        decoded = DecodedAudio(y, mfcc.sr)
    else:
        max_seconds = min(max_seconds, MAX_DECODE_SECONDS)
        decoded = audio if isinstance(audio, DecodedAudio) else decode_audio(audio, max_seconds=max_seconds)
        decoded = decoded.first(max_seconds)
        truncated = decoded.continues
        y = decoded.at(mfcc.sr)
    name = source_name(audio) if not isinstance(audio, np.ndarray) else "audio"
    try:
        feats = mfcc_segments(y, mfcc.sr, mfcc)
    except AudioError as exc:  # a clip under the shortest accepted: say which file
        raise AudioError(f"{name}: {exc}") from None
    seg_starts = np.arange(len(feats)) * mfcc.segment_seconds
    windows: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}  # (style, size) -> (window images, starts)
    patch_rows: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # musicnn params key -> (patches, starts)
    if run_ids is None:
        run_ids = [r["run_id"] for r in store.list() if store.checkpoint_path(r["run_id"]).is_file()]
    result = Prediction(audio=y, sr=mfcc.sr, mfcc=feats, image=None, truncated=truncated,
                        warnings=decoded.warnings + audio_warnings(y, truncated, max_seconds, mfcc.sr))
    for run_id in run_ids:
        try:
            model, meta = load_run_model(store, run_id, device)
        except CheckpointError as exc:
            result.refused[run_id] = str(exc)
            continue
        record = store.read(run_id)
        kind = record.get("input_kind", "mfcc")
        diff = _param_mismatch(mfcc.as_dict(), meta.get("mfcc_params", {}))
        if diff:
            result.refused[run_id] = (f"run {run_id} was trained with different feature parameters: "
                                      + ", ".join(diff))
            continue
        if kind == "image":  # drawn as the run's own pictures were: its style, its input size
            try:
                run_image = ImageParams.of_run(meta.get("image_params"))
            except (TypeError, ValueError) as exc:
                result.refused[run_id] = f"run {run_id}: its picture parameters cannot be used here ({exc})"
                continue
            if (warning := picture_warning({**record, "run_id": run_id}, run_image)):
                result.warnings.append(warning)
        with torch.inference_mode():
            if kind == "image":
                key = (run_image.style, run_image.size)
                if key not in windows:
                    windows[key] = image_windows(y, mfcc, run_image)
                images, starts = windows[key]
                norm = get_spec(meta["model"]).normalization
                rows = _batched(lambda b: model(normalize_images(b, norm).to(device)), images, "image")
                unit = "window"
            elif kind == "musicnn":
                from .mel_patches import MusicnnParams

                params = MusicnnParams(**(meta.get("musicnn_params") or {}))
                if params.key() not in patch_rows:
                    patch_rows[params.key()] = musicnn_rows(decoded, params)
                patches, starts = patch_rows[params.key()]
                rows = _batched(lambda b: model(torch.from_numpy(b).to(device)), patches, "musicnn")
                unit = "patch"
            else:
                x = torch.from_numpy(feats).to(device)
                rows, starts, unit = probabilities(model(x)), seg_starts, "segment"
        result.results[run_id] = RunPrediction(
            run_id=run_id, model=meta["model"], title=record.get("title", meta["model"]),
            dataset=(record.get("dataset") or {}).get("label", "?"), unit=unit, starts=starts,
            segment_probs=rows, probs=rows.mean(0),
        )
    key = (image.style, image.size)
    # the first window's picture (spectrogram_input spans the whole clip or its first 30 s, as
    # image_windows' first window does) without drawing every window of a long upload
    result.image = windows[key][0][0] if key in windows else spectrogram_input(y, mfcc, image)
    return result
