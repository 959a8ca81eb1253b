"""Why did a model choose a genre? Explanations of one run on one clip.

=============  ==============================================================
module         what it holds
=============  ==============================================================
``inputs``     the run's own model input for a clip (its input kind's, :mod:`gtzan_core.inputs`)
``occlusion``  occlusion sensitivity, batched, for every genre at once
``gradcam``    Grad-CAM on the layer a model's spec names (``ModelSpec.gradcam_layer``)
``rollout``    attention rollout (Abnar & Zuidema 2020) on the Transformer's patches
``sanity``     the checks of Adebayo et al. 2018: re-randomised models, rank correlation
=============  ==============================================================

:func:`explain` runs the chosen methods and returns maps laid out over the clip
(time on one axis, MFCC coefficients or spectrogram frequency on the other) with
the time span and band that mattered most; the input kind lays the maps out and
says what the strongest span and band cover. Only the first ``max_seconds`` (one
30 s window by default) are explained; the per-segment view covers the whole clip.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .. import GENRES
from ..audio import AudioSource, DecodedAudio, decode_audio, source_name
from ..errors import AudioError, ConfigError
from ..features import MFCCParams
from ..inputs import Clip, ModelInput, get_kind, kind_of
from ..models import MODELS
from ..runs import RunStore
from .gradcam import gradcam_map
from .occlusion import occlusion_map
from .rollout import rollout_map, supports_rollout

METHODS = ("occlusion", "gradcam", "segments", "rollout")


@dataclass
class MethodMap:
    """One method's map over the clip, for one genre: ``values`` (bands, time) with
    ``times`` (seconds, one per column) and ``bands`` (one label per row)."""

    method: str
    values: np.ndarray
    times: np.ndarray
    bands: np.ndarray
    band_unit: str  # "MFCC coefficient", "Hz" or "" (segments)
    top_time: tuple[float, float]
    top_band: tuple[float, float] | None

    def summary(self) -> dict:
        return {"shape": list(self.values.shape), "top_time_span_s": [round(v, 2) for v in self.top_time],
                "top_band": None if self.top_band is None else
                {"unit": self.band_unit, "range": [round(float(v), 1) for v in self.top_band]}}


@dataclass
class Explanation:
    run_id: str
    model: str
    kind: str
    genre: int  # the genre explained
    predicted: int
    probs: np.ndarray  # the run's clip probabilities (first max_seconds)
    display: np.ndarray  # the input under the maps: (bands, time) MFCC or (H, W, 3) spectrogram
    maps: dict[str, MethodMap] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # compute time per method

    def as_dict(self) -> dict:
        return {"run_id": self.run_id, "model": self.model, "input": self.kind, "genre": GENRES[self.genre],
                "predicted": GENRES[self.predicted],
                "methods": {k: {**m.summary(), "seconds": round(self.seconds.get(k, 0.0), 3)}
                            for k, m in self.maps.items()}}


def _layout(values_rows: np.ndarray, inp: ModelInput, mfcc: MFCCParams, meta: dict):
    """Rows of per-input maps (rows, H, W) -> one (bands, time) map over the clip, with axes
    (as the run's input kind lays its rows out)."""
    return get_kind(inp.kind).layout(values_rows, inp, mfcc, meta)


def _top(values: np.ndarray, times: np.ndarray, bands: np.ndarray, band_unit: str, span_cols: int,
         band_rows: int) -> tuple[tuple[float, float], tuple[float, float] | None]:
    """The time span (``span_cols`` wide) and band (``band_rows`` high) with the largest total positive score."""
    pos = np.clip(values, 0, None)
    over_time = np.convolve(pos.sum(0), np.ones(span_cols), mode="valid")
    t0 = int(np.argmax(over_time))
    step = float(np.median(np.diff(times))) if len(times) > 1 else 0.0
    span = (float(times[t0]), float(times[min(t0 + span_cols - 1, len(times) - 1)] + step))
    if not band_unit:
        return span, None
    over_band = np.convolve(pos.sum(1), np.ones(band_rows), mode="valid")
    b0 = int(np.argmax(over_band))
    return span, (float(bands[b0]), float(bands[min(b0 + band_rows - 1, len(bands) - 1)]))


def explain(audio: AudioSource | DecodedAudio | np.ndarray, run_id: str, store: RunStore | None = None,
            genre: str | None = None, methods: tuple[str, ...] = METHODS, max_seconds: float = 30.0) -> Explanation:
    """Explain run ``run_id``'s prediction on ``audio`` for ``genre`` (default: the
    predicted one) with ``methods`` (occlusion, gradcam, segments, rollout). Grad-CAM
    applies to convolutional models and rollout to the Transformer; a method that does not
    apply to the run's model is left out of the maps."""
    import time

    from ..inference import MAX_PREDICT_SECONDS, load_run_model, probabilities

    store = store or RunStore()
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ConfigError(f"unknown explanation method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    if genre is not None and genre not in GENRES:
        raise ConfigError(f"unknown genre {genre!r}; GTZAN genres are {', '.join(GENRES)}")
    model, meta = load_run_model(store, run_id, "cpu")
    record = store.read(run_id)
    kind = kind_of(record)
    if not kind.explainable:
        raise ConfigError(f"no explanation for run {run_id}: {kind.no_explanation}")
    mfcc = MFCCParams(**meta["mfcc_params"])
    if isinstance(audio, np.ndarray):
        y = np.asarray(audio, np.float32)[: int(MAX_PREDICT_SECONDS * mfcc.sr)]
        decoded, name = DecodedAudio(y, mfcc.sr), "audio"
    else:
        decoded = audio if isinstance(audio, DecodedAudio) else decode_audio(audio, max_seconds=MAX_PREDICT_SECONDS)
        decoded, name = decoded.first(MAX_PREDICT_SECONDS), source_name(audio)
        y = decoded.at(mfcc.sr)
    try:
        whole = kind.model_input(Clip(y, mfcc, decoded), meta, MODELS.get(meta["model"]))
    except AudioError as exc:
        raise AudioError(f"{name}: {exc}") from None
    with torch.no_grad():
        rows = probabilities(model(whole.x.float()))
    keep = whole.starts < max_seconds - 1e-6
    inp = ModelInput(kind.name, whole.x[keep], whole.starts[keep], whole.seconds, whole.display[keep])
    probs = rows[keep].mean(0)
    target = GENRES.index(genre) if genre else int(probs.argmax())
    display = kind.explanation_display(inp)
    out = Explanation(run_id, meta["model"], kind.name, target, int(probs.argmax()), probs, display)
    # ~1 s of frames (43 MFCC frames, 62 musicnn frames) or one tile; 3 coefficients, 12 mel bands or one tile
    span_cols, band_rows = kind.top_cells(inp)
    for method in methods:
        t0 = time.perf_counter()
        if method == "segments":
            values = (rows[:, target] - rows[:, target].mean())[None, :]
            starts = whole.starts
            k = int(np.argmax(values[0]))
            out.maps[method] = MethodMap(method, values, starts, np.zeros(1), "",
                                         (float(starts[k]), float(starts[k] + whole.seconds)), None)
        elif method == "gradcam":
            spec = MODELS.get(meta["model"])
            if spec is None or spec.gradcam_layer is None:
                continue  # not a convolutional model
            cams = gradcam_map(model, meta["model"], inp, target)
            values, times, bands, unit = _layout(cams, inp, mfcc, meta)
            out.maps[method] = MethodMap(method, values, times, bands, unit,
                                         *_top(values, times, bands, unit, span_cols, band_rows))
        elif method == "rollout":
            if not supports_rollout(model):
                continue  # not a Transformer
            values, times, bands, unit = _layout(rollout_map(model, inp), inp, mfcc, meta)
            out.maps[method] = MethodMap(method, values, times, bands, unit,
                                         *_top(values, times, bands, unit, span_cols, band_rows))
        else:
            scores = occlusion_map(model, inp)[target]
            values, times, bands, unit = _layout(scores, inp, mfcc, meta)
            out.maps[method] = MethodMap(method, values, times, bands, unit,
                                         *_top(values, times, bands, unit, span_cols, band_rows))
        out.seconds[method] = time.perf_counter() - t0
    return out
