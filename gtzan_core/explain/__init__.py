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
says what the strongest span and band cover. Only the rows that start in the first
``max_seconds`` (one 30 s window by default) are explained (``Explanation.explained``: the
span they really cover); the per-segment view covers the whole clip (``MethodMap.covers``
says which span each map covers). :func:`methods_for` lists the methods a model supports
(its spec: a Grad-CAM layer, attention rollout); ``progress`` reports each step.
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
from ..progress import ProgressFn, report
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
    #: the span of the clip the map covers, seconds (the explained rows; segments: the whole clip)
    covers: tuple[float, float] = (0.0, 0.0)

    def summary(self) -> dict:
        return {"shape": list(self.values.shape), "covers_s": [round(v, 2) for v in self.covers],
                "top_time_span_s": [round(v, 2) for v in self.top_time],
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
    #: the span of the clip the maps (but segments') explain, and the clip's length, seconds
    explained: tuple[float, float] = (0.0, 0.0)
    duration: float = 0.0
    max_seconds: float = 30.0
    #: the explained span's top tags from the tagger the run's backbone was trained as (its spec's
    #: ``tag_network``: MagnaTagATune's for a run on musicnn's MTT network), probability each; empty otherwise
    tags: list[tuple[str, float]] = field(default_factory=list)
    tag_network: str | None = None

    def tags_text(self) -> str:
        """One line naming the tags ("MTT_musicnn's own tags for the explained span (of its 50, probability): guitar
        0.81, rock 0.62, ..."), or "" when the run's network has no tags to show."""
        if not self.tags:
            return ""
        listed = ", ".join(f"{tag} {p:.2f}" for tag, p in self.tags)
        return (f"What the {self.tag_network} network hears, in its own tags (the {len(self.tags)} likeliest of "
                f"its 50, over the explained span): {listed}.")

    def span_text(self) -> str:
        """One line: which part of the clip each map explains, as it really covers it ("Explained:
        occlusion: 0.0–30.0 s of the 75.0 s clip (the windows that start in its first 30 s);
        segments: every segment of the clip, 0.0–75.0 s.")."""
        parts = []
        rest = [m for m in self.maps if m != "segments"]
        if rest:
            a, b = self.explained
            whole = a <= 0.05 and b >= self.duration - 0.05
            parts.append(f"{', '.join(rest)}: {a:.1f}–{b:.1f} s of the {self.duration:.1f} s clip " +
                         ("(all of it)" if whole else f"(the windows that start in its first {self.max_seconds:g} s)"))
        if "segments" in self.maps:
            c = self.maps["segments"].covers
            parts.append(f"segments: every segment of the clip, {c[0]:.1f}–{c[1]:.1f} s")
        return "Explained: " + "; ".join(parts) + "." if parts else "Nothing explained."

    def as_dict(self) -> dict:
        return {"run_id": self.run_id, "model": self.model, "input": self.kind, "genre": GENRES[self.genre],
                "predicted": GENRES[self.predicted], "explained_s": [round(v, 2) for v in self.explained],
                "tags": {"network": self.tag_network, "top": [[t, round(p, 4)] for t, p in self.tags]}
                if self.tags else None,
                "methods": {k: {**m.summary(), "seconds": round(self.seconds.get(k, 0.0), 3)}
                            for k, m in self.maps.items()}}


def methods_for(model: str) -> tuple[str, ...]:
    """The explanation methods ``model`` supports, in :data:`METHODS`' order: none when its
    input kind has no explanation layout (a feature vector); occlusion and segments for the
    others; Grad-CAM when its spec names a layer (``ModelSpec.gradcam_layer``); rollout when
    its spec says it returns its attention (``ModelSpec.attention_rollout``)."""
    spec = MODELS.get(model)
    if spec is None:  # a model this studio does not know: nothing to explain it with
        return ()
    if not spec.kind.explainable:
        return ()
    ok = {"occlusion", "segments"}
    if spec.gradcam_layer:
        ok.add("gradcam")
    if spec.attention_rollout:
        ok.add("rollout")
    return tuple(m for m in METHODS if m in ok)


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
            genre: str | None = None, methods: tuple[str, ...] = METHODS, max_seconds: float = 30.0,
            progress: ProgressFn | None = None, row_probs: np.ndarray | None = None) -> Explanation:
    """Explain run ``run_id``'s prediction on ``audio`` for ``genre`` (default: the
    predicted one) with ``methods`` (occlusion, gradcam, segments, rollout). Grad-CAM
    applies to convolutional models and rollout to the Transformer; a method that does not
    apply to the run's model is left out of the maps (:func:`methods_for` lists those that
    apply). ``progress(done, total, message)`` hears each step (out of :data:`STEPS` per
    step: loading, the input, each method; occlusion also batch by batch). ``row_probs``: the run's probabilities
    for each row of this clip when the caller has them (Predict's ``segment_probs``): the
    whole clip is then not run through the model again."""
    import time

    from ..inference import MAX_PREDICT_SECONDS, load_run_model, probabilities

    store = store or RunStore()
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ConfigError(f"unknown explanation method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    if genre is not None and genre not in GENRES:
        raise ConfigError(f"unknown genre {genre!r}; GTZAN genres are {', '.join(GENRES)}")
    chosen = [m for m in METHODS if m in methods]
    steps = 2 + len(chosen)  # the model, its input, then one step per method

    def step(k: int, fraction: float, message: str) -> None:
        report(progress, int(STEPS * (k + fraction) / steps), STEPS, message)

    step(0, 0.0, "loading the model")
    model, meta = load_run_model(store, run_id, "cpu")
    record = store.read(run_id)
    kind = kind_of(record)
    if not kind.explainable:
        raise ConfigError(f"no explanation for run {run_id}: {kind.no_explanation}")
    mfcc = MFCCParams(**(meta.get("mfcc_params") or {}))  # the clip's grid (a run on other inputs: the default)
    if isinstance(audio, np.ndarray):
        y = np.asarray(audio, np.float32)[: int(MAX_PREDICT_SECONDS * mfcc.sr)]
        decoded, name = DecodedAudio(y, mfcc.sr), "audio"
    else:
        decoded = audio if isinstance(audio, DecodedAudio) else decode_audio(audio, max_seconds=MAX_PREDICT_SECONDS)
        decoded, name = decoded.first(MAX_PREDICT_SECONDS), source_name(audio)
        y = decoded.at(mfcc.sr)
    step(1, 0.0, "the model's input (decoding, features)")
    try:
        whole = kind.model_input(Clip(y, mfcc, decoded), meta, MODELS.get(meta["model"]))
    except AudioError as exc:
        raise AudioError(f"{name}: {exc}") from None
    if row_probs is not None and np.shape(row_probs) == (len(whole.x), len(GENRES)):
        rows = np.asarray(row_probs, np.float32)
    else:
        with torch.no_grad():  # in slices: a 10-minute upload's rows at once would take hundreds of MB
            rows = np.concatenate([probabilities(model(whole.x[i:i + kind.predict_batch].float()))
                                   for i in range(0, len(whole.x), kind.predict_batch)])
    keep = whole.starts < max_seconds - 1e-6
    inp = ModelInput(kind.name, whole.x[keep], whole.starts[keep], whole.seconds, whole.display[keep],
                     None if whole.ends is None else whole.ends[keep])
    probs = rows[keep].mean(0)
    target = GENRES.index(genre) if genre else int(probs.argmax())
    display = kind.explanation_display(inp)
    duration = len(y) / mfcc.sr
    all_starts, all_ends = kind.row_spans(whole, duration)
    kept_starts, kept_ends = all_starts[keep], all_ends[keep]
    explained = (float(kept_starts.min()), float(kept_ends.max()))
    out = Explanation(run_id, meta["model"], kind.name, target, int(probs.argmax()), probs, display,
                      explained=explained, duration=duration, max_seconds=max_seconds)
    spec = MODELS.get(meta["model"])
    if spec is not None and spec.tag_network:
        out.tags, out.tag_network = network_tags(inp, spec.tag_network), spec.tag_network
    # ~1 s of frames (43 MFCC frames, 62 musicnn frames) or one tile; 3 coefficients, 12 mel bands or one tile
    span_cols, band_rows = kind.top_cells(inp)
    for k_method, method in enumerate(chosen, start=2):
        t0 = time.perf_counter()
        step(k_method, 0.0, _STEP_TEXT[method])
        if method == "segments":
            values = (rows[:, target] - rows[:, target].mean())[None, :]
            starts = whole.starts
            k = int(np.argmax(values[0]))
            out.maps[method] = MethodMap(method, values, starts, np.zeros(1), "",
                                         (float(all_starts[k]), float(all_ends[k])), None,
                                         (float(all_starts.min()), float(all_ends.max())))
        elif method == "gradcam":
            spec = MODELS.get(meta["model"])
            if spec is None or spec.gradcam_layer is None:
                continue  # not a convolutional model
            cams = gradcam_map(model, meta["model"], inp, target)
            values, times, bands, unit = _layout(cams, inp, mfcc, meta)
            out.maps[method] = MethodMap(method, values, times, bands, unit,
                                         *_top(values, times, bands, unit, span_cols, band_rows), explained)
        elif method == "rollout":
            if not supports_rollout(model):
                continue  # not a Transformer
            values, times, bands, unit = _layout(rollout_map(model, inp), inp, mfcc, meta)
            out.maps[method] = MethodMap(method, values, times, bands, unit,
                                         *_top(values, times, bands, unit, span_cols, band_rows), explained)
        else:
            def batches(done: int, total: int, _message: str = "", k: int = k_method) -> None:
                step(k, done / max(total, 1), f"occlusion: {done} of {total} batches of occluded copies")

            scores = occlusion_map(model, inp, progress=batches)[target]
            values, times, bands, unit = _layout(scores, inp, mfcc, meta)
            out.maps[method] = MethodMap(method, values, times, bands, unit,
                                         *_top(values, times, bands, unit, span_cols, band_rows), explained)
        out.seconds[method] = time.perf_counter() - t0
    report(progress, STEPS, STEPS, "done")
    return out


def network_tags(inp: ModelInput, network: str, top: int = 5) -> list[tuple[str, float]]:
    """The released tagger ``network``'s ``top`` tags for the explained rows of a clip (musicnn
    patches); [] when its weights are not here (the explanation goes on without them)."""
    import logging

    from ..errors import StudioError
    from ..models.musicnn import clip_tags

    try:
        return clip_tags(inp.x, network, top)
    except (StudioError, ValueError) as exc:
        logging.getLogger(__name__).warning("no %s tags: %s", network, exc)
        return []


#: ``explain``'s progress runs from 0 to this
STEPS = 1000
_STEP_TEXT = {"occlusion": "occlusion: occluding patches",
              "gradcam": "Grad-CAM: back-propagating to the last conv block",
              "segments": "segments: scoring each segment", "rollout": "rollout: rolling out the attention"}
