"""Prediction: an audio clip -> every selected run's genre probabilities.

Each run's input kind makes its rows of the clip (:mod:`gtzan_core.inputs`: 3 s
windows, 30 s windows, one row for the whole clip, as the kind reads), once per clip
for all the runs that read the same, and only what the chosen runs read is computed.
Per-row probabilities are averaged into the clip's probabilities. A clip shorter than
one 3 s window (but at least :data:`~gtzan_core.features.MIN_CLIP_SECONDS`) is
repeat-padded by the kinds that pad, as in training, and the prediction says so.
The file is decoded once, bounded and streamed
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
from .audio import MAX_DECODE_SECONDS, AudioSource, DecodedAudio, decode_audio, source_name
from .errors import AudioError, CheckpointError, ConfigError
from .features import MIN_CLIP_SECONDS, SHORT_CLIP_SECONDS, check_clip_seconds
from .inputs import Clip, get_kind, kind_of
from .models import MODELS
from .runs import RunRecord, RunStore

MAX_PREDICT_SECONDS = MAX_DECODE_SECONDS  # at most the first 10 minutes of an upload are analysed
_CACHE_SIZE = 12
_cache: OrderedDict[tuple, tuple[torch.nn.Module, dict]] = OrderedDict()
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
    unit: str  # what one row is called (its input kind's ``window_unit``)
    starts: np.ndarray  # start time of each row, seconds
    segment_probs: np.ndarray  # (rows, n_classes)
    probs: np.ndarray  # (n_classes,)
    ends: np.ndarray | None = None  # end time of each row on the clip's time axis, seconds
    whole: bool = False  # one row that covers the whole clip (no timeline to draw)
    seen: str = ""  # one line: how the run saw the clip (its input kind's words)

    @property
    def top(self) -> str:
        return GENRES[int(self.probs.argmax())]

    @property
    def label(self) -> str:
        """The run in a legend or a column: its title and short id."""
        from .tables import short_run_id

        return f"{self.title} · {short_run_id(self.run_id)}"

    def as_dict(self) -> dict:
        return {"model": self.model, "dataset": self.dataset, "top": self.top,
                "probabilities": {g: round(float(p), 6) for g, p in zip(GENRES, self.probs, strict=False)},
                "unit": self.unit, "segments": int(len(self.segment_probs)),
                "windows": [[round(float(a), 3), round(float(b), 3)]
                            for a, b in zip(self.starts, self.ends if self.ends is not None else self.starts,
                                            strict=True)],
                "seen": self.seen}


@dataclass
class Prediction:
    audio: np.ndarray
    sr: int
    #: the clip as the runs read it: what a kind made of it is memoised there (:meth:`view` draws
    #: from it on first use, never :func:`predict` itself)
    clip: Clip
    results: dict[str, RunPrediction] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)  # run id -> why
    truncated: bool = False
    warnings: list[str] = field(default_factory=list)
    #: runs of the default selection left out because their backbone weights are not on
    #: this machine (a pretrained starter before its weights are fetched): run id -> why
    unavailable: dict[str, str] = field(default_factory=dict)
    records: dict[str, dict] = field(default_factory=dict)  # run id -> record, of the runs used or left out

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sr

    def view(self, kind: str, params=None) -> np.ndarray:
        """What input ``kind`` makes of the clip for a person to see (:meth:`InputKind.view`),
        computed on first use and shared with the runs that read the same."""
        return get_kind(kind).view(self.clip, params)

    def ensemble(self) -> np.ndarray | None:
        """The plain mean of every run's probabilities (demo-set runs included); the
        default answer for a real song is :meth:`answer`."""
        if not self.results:
            return None
        return np.mean([r.probs for r in self.results.values()], axis=0)

    def answer(self, viewer: str | None = None, classroom: bool = False):
        """The default answer (:func:`gtzan_core.ensemble.default_answer`) for ``viewer``: the
        runs trained on real data that count for them, weighted by their validation accuracy;
        demo-set runs apart."""
        from .ensemble import default_answer

        return default_answer(self.results, self.records, self.unavailable, viewer=viewer, classroom=classroom)

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
    if len(y) and MIN_CLIP_SECONDS * sr <= len(y) < SHORT_CLIP_SECONDS * sr:
        out.append(f"the clip is {len(y) / sr:.1f} s long, under one {SHORT_CLIP_SECONDS:g} s segment: it was "
                   "repeat-padded to one (looped), as short clips are in training")
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
    ckpt = store.load_checkpoint(run_id)  # a damaged file is named with its run
    try:
        model = checkpoint_model(ckpt).to(device).eval()
    except CheckpointError as exc:
        raise CheckpointError(f"run {run_id}: {exc}") from None
    with _cache_lock:
        _cache[key] = (model, ckpt["meta"])
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return model, ckpt["meta"]


def clear_model_cache() -> None:
    with _cache_lock:
        _cache.clear()


#: Rows per forward pass when predicting: a 10-minute upload is 20 windows of 30 s or 200 of
#: 3 s, whose activations in one pass would take hundreds of MB (EfficientNet-Lite0: ~25 MB
#: a row); a GTZAN-length clip is one pass.
def _batched(model, x: torch.Tensor, size: int, device) -> np.ndarray:
    """``probabilities(model(x))`` computed ``size`` rows at a time (the input kind's
    ``predict_batch``): a long upload's activations never all at once."""
    return np.concatenate([probabilities(model(x[i:i + size].to(device))) for i in range(0, len(x), size)])


def missing_backbone(record: dict) -> str | None:
    """Why the run cannot predict here because the pretrained weights its head sits on
    are absent (one line naming the command that brings them), or None."""
    from .models.weights import known_weights, missing_message, weights_available

    ref = record.get("weights") if isinstance(record.get("weights"), dict) else None
    known = known_weights(ref.get("file")) if ref else None
    if known is None or weights_available(known):
        return None
    return missing_message(known)


def default_selection(store: RunStore, records: list[dict] | None = None) -> tuple[list[str], dict[str, str]]:
    """(every run with a saved model whose backbone weights are here, {run id: why} of
    those whose weights are absent: a pretrained starter before its weights arrive). An
    import whose numbers are claimed by its file is in neither: it predicts only when
    chosen (:mod:`gtzan_core.claims`)."""
    from .claims import claimed

    chosen, missing = [], {}
    for r in store.list() if records is None else records:
        if not store.checkpoint_path(r["run_id"]).is_file() or claimed(r):
            continue
        why = missing_backbone(r)
        if why:
            missing[r["run_id"]] = why
        else:
            chosen.append(r["run_id"])
    return chosen, missing


def predict(
    audio: AudioSource | DecodedAudio | np.ndarray,
    run_ids: list[str] | None = None,
    store: RunStore | None = None,
    device: str = "cpu",
    params: dict | None = None,
    max_seconds: float = MAX_PREDICT_SECONDS,
    unavailable: dict[str, str] | None = None,
    sr: int | None = None,
) -> Prediction:
    """Predict the genre of ``audio`` with each run in ``run_ids`` (default:
    :func:`default_selection`, every run with a saved model whose backbone weights are
    here; the others go to ``unavailable``, as do the given ``unavailable``). ``params``
    (input kind name -> parameters) says what the clip is analysed with where a kind checks
    it (default: each kind's own); a run whose own parameters differ is listed in
    ``refused`` with the reason instead of being used, each run checked against its own
    kind's parameters only (:meth:`~gtzan_core.inputs.InputKind.param_mismatch`). Only what
    the chosen runs read is computed. An array is taken as mono at ``sr`` (default: the
    clip's analysis rate)."""
    store = store or RunStore()
    if isinstance(audio, np.ndarray):
        rate = sr or Clip.analysis_rate(params)
        y = np.asarray(audio, dtype=np.float32)[: int(max_seconds * rate)]
        if not np.all(np.isfinite(y)):
            raise AudioError("the audio contains NaN or infinite samples")
        truncated = len(audio) > len(y)
        decoded = DecodedAudio(y, rate)
    else:
        max_seconds = min(max_seconds, MAX_DECODE_SECONDS)
        decoded = audio if isinstance(audio, DecodedAudio) else decode_audio(audio, max_seconds=max_seconds)
        decoded = decoded.first(max_seconds)
        truncated = decoded.continues
    name = source_name(audio) if not isinstance(audio, np.ndarray) else "audio"
    try:  # nothing is computed here: each run's kind derives its own rows
        check_clip_seconds(decoded.duration)
    except AudioError as exc:  # a clip under the shortest accepted: say which file
        raise AudioError(f"{name}: {exc}") from None
    clip = Clip.of(decoded, params)
    y = clip.y
    unavailable = dict(unavailable or {})
    if run_ids is None:
        run_ids, missing = default_selection(store)
        unavailable.update(missing)
    listed = {rid: store.read(rid) for rid in unavailable}
    result = Prediction(audio=y, sr=clip.sr, clip=clip, truncated=truncated,
                        warnings=decoded.warnings + audio_warnings(y, truncated, max_seconds, clip.sr),
                        unavailable=unavailable, records={rid: listed[rid] for rid in unavailable})
    for run_id in run_ids:
        try:
            model, meta = load_run_model(store, run_id, device)
        except CheckpointError as exc:
            result.refused[run_id] = str(exc)
            continue
        record = store.read(run_id)
        result.records[run_id] = record
        try:  # each run reads its own input of the clip (its kind's windows), drawn once for all runs that share it
            kind = kind_of(record)
            diff = kind.param_mismatch(clip, meta)  # checked against its own kind's parameters only
            if diff:
                result.refused[run_id] = (f"run {run_id} was trained with different feature parameters: "
                                          + ", ".join(diff))
                continue
            result.warnings += kind.run_warnings(record.updated(run_id=run_id), meta)
        except ConfigError as exc:
            result.refused[run_id] = f"run {run_id}: {exc}"
            continue
        inp = kind.model_input(clip, meta, MODELS.get(meta["model"]))
        with torch.inference_mode():
            rows = _batched(model, inp.x, kind.predict_batch, device)
        starts, ends = kind.row_spans(inp, clip.duration)  # the rows' real times in the clip
        result.results[run_id] = RunPrediction(
            run_id=run_id, model=meta["model"], title=record.get("title", meta["model"]),
            dataset=RunRecord.of(record).dataset_label or "?", unit=kind.window_unit, starts=starts,
            segment_probs=rows, probs=rows.mean(0), ends=ends, whole=kind.saw_whole(starts, ends, clip.duration),
            seen=kind.windows_text(starts, ends, clip.duration),
        )
    return result
