"""Feature vectors: one vector of handcrafted audio features per track (the Kaggle GTZAN
table's 57 by default; :mod:`gtzan_core.audio_features`).

A track's vector comes from its audio (the studio's own librosa extraction over the whole
decoded clip, at most ~31.5 s, cached with the MFCCs) or from a feature table (a Kaggle-style
CSV, :mod:`gtzan_core.data.table`: its rows as they are). One sample per track, so every
protocol splits tracks. The models standardise the vector on the training split (the
scikit-learn models inside their fit, the MLP with its ``norm`` layer). A clip of at least
1.5 s has a vector (means and variances over its frames need no padding; a track under
10 s is counted as short: ``tracks.short_vector``, the run's ``feature_vectors.short_clips``).

An uploaded song is predicted in windows of 30 s (the span of a GTZAN track; a song of
at most 45 s is one window, a last part shorter than 15 s joins the window before it).
Explanations (occlusion maps, Grad-CAM) need a time x band input: a vector has none, so
these models have no explanation layout and say so.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import ConfigError
from .base import Clip, InputKind, KindRows, ModelInput, TrackSource

#: an uploaded song's windows (seconds); the last part joins the window before it when shorter than MIN_LAST
WINDOW_SECONDS = 30.0
MIN_LAST_SECONDS = 15.0
#: a clip shorter than this is counted as short (a GTZAN track is 30 s; the real excerpts are 2-3 s)
SHORT_SECONDS = 10.0


@dataclass(frozen=True)
class VectorParams:
    """Which feature groups a vector holds (:data:`gtzan_core.audio_features.GROUPS`), and
    the rate the audio is read at."""

    groups: tuple[str, ...] = ("mfcc", "chroma", "spectral", "rhythm")
    sr: int = 22050

    def as_dict(self) -> dict:
        d = asdict(self)
        d["groups"] = list(self.groups)
        return d

    @classmethod
    def from_dict(cls, d: dict | None) -> VectorParams:
        d = dict(d or {})
        return cls(groups=tuple(d.get("groups") or cls.groups), sr=int(d.get("sr", 22050)))

    def names(self) -> list[str]:
        from ..audio_features import feature_names

        return feature_names(self.groups)


def clip_windows(y: np.ndarray, sr: int) -> list[tuple[float, np.ndarray]]:
    """``(start seconds, samples)`` of each prediction window of ``y``."""
    win = int(WINDOW_SECONDS * sr)
    if len(y) <= int((WINDOW_SECONDS + MIN_LAST_SECONDS) * sr):
        return [(0.0, y)]
    starts = list(range(0, len(y), win))
    if len(y) - starts[-1] < MIN_LAST_SECONDS * sr:
        starts.pop()
    return [(s / sr, y[s: (starts[k + 1] if k + 1 < len(starts) else len(y))]) for k, s in enumerate(starts)]


def clip_vectors(y: np.ndarray, sr: int, params: VectorParams) -> tuple[np.ndarray, np.ndarray]:
    """The vectors of a clip's windows (n, d) and each window's start time."""
    from ..audio_features import vector

    if sr != params.sr:
        raise ConfigError(f"feature vectors are read at {params.sr} Hz, not {sr} Hz")
    windows = clip_windows(y, sr)
    return (np.stack([vector(w, sr, params.groups) for _, w in windows]).astype(np.float32),
            np.array([s for s, _ in windows], dtype=float))


def run_vector_params(meta: dict) -> VectorParams:
    options = meta.get("options") or {}
    return VectorParams.from_dict({"groups": options.get("groups"), "sr": options.get("sr", 22050)})


class VectorKind(InputKind):
    name = "vector"
    unit = "track"
    window_unit = "window"
    predict_batch = 256
    per_track = False
    #: a feature table has no audio and feeds these models all the same
    needs_audio = False
    #: no padding: a short clip's vector is its frames' means and variances (counted in ``short_clips``)
    pads = False
    reads_tables = True
    held_words = "a feature table's vectors only, so only the feature-vector models can train on it"
    missing_what = "feature vectors (audio or a feature table)"
    standardizes = True
    grid = True
    #: no explanation: a vector has no time x band layout
    explainable = False
    no_explanation = ("a feature-vector model reads one vector of handcrafted features per 30 s window, not a "
                      "time x frequency input: there is no map to draw (see its feature columns in the model card)")

    def params(self) -> VectorParams:
        return VectorParams()

    def params_of(self, d: dict) -> VectorParams:
        return VectorParams.from_dict(d)

    def extract_track(self, track: TrackSource, params) -> KindRows | None:
        from ..audio_features import vector

        if track.audio is None:
            return None
        y = track.audio.at(params.sr)
        x = vector(y, params.sr, params.groups)[None].astype(np.float32)
        return KindRows(params, x, np.zeros(1, np.int32), columns={"short_vector": len(y) / params.sr < SHORT_SECONDS})

    def info(self, params) -> dict:
        return {"columns": params.names(), "source": "audio"}

    def from_table(self, dataset, params) -> KindRows | None:
        """A feature table's rows as they are (its columns: the groups they make up)."""
        import pandas as pd

        table = dataset.table
        params, names = table_vector_params(list(table.columns))
        x = np.ascontiguousarray(table[names].to_numpy(np.float32))
        seconds = pd.to_numeric(dataset.tracks["duration"], errors="coerce").to_numpy()
        return KindRows(params, x, np.arange(len(x), dtype=np.int32), {"columns": names, "source": "table"},
                        columns={"short_vector": seconds < SHORT_SECONDS})

    def record_params(self, params) -> dict:
        return {}  # in the run's options (groups, rate, columns): :meth:`build_options`

    def check_features(self, fs, spec) -> None:
        own = fs.inputs.get(self.name)
        if own is None or own.x.ndim != 2 or own.x.shape[1] == 0:
            raise ConfigError("these features were extracted without feature vectors "
                              f"(load them with feature_request('{spec.name}'))")

    def build_options(self, fs) -> dict:
        own = fs.rows(self.name)
        params = own.params or VectorParams()
        return {"n_features": int(own.x.shape[1]), "groups": list(params.groups), "sr": params.sr,
                "columns": list(own.info.get("columns") or params.names())}

    def standardize(self, model, x_train, spec) -> None:
        norm = getattr(model, "norm", None)
        if norm is None:
            raise ConfigError(f"{spec.title} has no input standardisation: train it with standardize off")
        norm.fit(x_train)

    def record_facts(self, fs) -> dict:
        facts = super().record_facts(fs)
        own = fs.rows(self.name)
        short = fs.tracks.get("short_vector")
        facts["feature_vectors"] = {"source": own.info.get("source"), "columns": int(own.x.shape[1]),
                                    "groups": list((own.params or VectorParams()).groups),
                                    "short_clips": int(short.sum()) if short is not None else 0}
        return facts

    def input_shape(self, spec, frames: int = 130, n_mfcc: int = 13):
        return (len(VectorParams().names()),)

    def run_input_shape(self, meta: dict):
        options = meta.get("options") or {}
        return (int(options.get("n_features", len(VectorParams().names()))),)

    def run_warnings(self, record: dict, meta: dict) -> list[str]:
        params = run_vector_params(meta)
        try:
            names = params.names()
        except ValueError as exc:
            raise ConfigError(f"this run's feature groups cannot be computed: {exc}") from None
        options = meta.get("options") or {}
        columns = options.get("columns")
        if columns is not None and list(columns) != names:
            raise ConfigError("this run was trained on feature columns the studio cannot compute from audio "
                              f"({len(columns)} columns of a table, not the groups {', '.join(params.groups)}): "
                              "it cannot predict on a song")
        out = []
        facts = record.get("feature_vectors") or {}
        if facts.get("source") == "table":
            out.append("trained on a feature table's rows; a song's vector is the studio's own librosa extraction "
                       "(it agrees with the Kaggle table to within about 1 % on most columns: the "
                       "documentation's Features page, “Audio features”)")
        tracks = (record.get("split") or {})
        n_tracks = sum(int(tracks.get(k) or 0) for k in ("train", "val", "test"))
        if n_tracks and facts.get("short_clips", 0) > n_tracks / 2:
            out.append(f"trained mostly on clips under {SHORT_SECONDS:g} s; a song's vectors are taken over "
                       f"{WINDOW_SECONDS:g} s windows, longer than the clips it learned from")
        return out

    def model_input(self, clip: Clip, meta: dict, spec=None) -> ModelInput:
        import torch

        params = run_vector_params(meta)
        y = clip.audio.at(params.sr) if clip.mfcc.sr != params.sr else clip.y
        x, starts = clip.cached(("vector", tuple(params.groups), params.sr), lambda: clip_vectors(y, params.sr, params))
        seconds = float(min(WINDOW_SECONDS, len(y) / params.sr)) if len(starts) == 1 else WINDOW_SECONDS
        return ModelInput(self.name, torch.from_numpy(x), starts, seconds, x[:, None, :])

    def layout(self, values_rows, inp, mfcc, meta):
        raise ConfigError(self.no_explanation)

    def heatmap(self, display, times, bands):
        raise ConfigError(self.no_explanation)

    def preprocessing_text(self, record: dict, spec=None) -> str:
        facts = record.get("feature_vectors") or {}
        groups = facts.get("groups") or list(VectorParams().groups)
        return ("Decode to mono float32 at 22050 Hz; cut a song into windows of 30 s (a song of at most 45 s is one "
                "window). Per window: `gtzan_core.audio_features.vector(y, 22050, groups="
                f"{groups})` (librosa defaults, as the Kaggle GTZAN table: mean and variance over frames of "
                "chroma_stft, RMS, spectral centroid/bandwidth/rolloff, zero-crossing rate, the HPSS harmonic and "
                "percussive waveforms, beat tempo, MFCC 1-20). Input: float32 (batch, features); the "
                "standardisation on the training split is inside the model. Output: log-probabilities over the "
                "genres below; softmax, then average a song's windows.")


KIND = VectorKind()


def table_vector_params(columns: list[str]) -> tuple[VectorParams, list[str]]:
    """The feature groups a table's columns are (in :func:`~gtzan_core.audio_features.feature_names`
    order), so a model trained on it can predict on audio; groups ``()`` when its columns are
    no union of the studio's groups (such a model predicts on tables only)."""
    from ..audio_features import GROUPS, feature_names

    have = set(columns)
    groups = tuple(g for g, cols in GROUPS.items() if set(cols) <= have)
    if groups and set(feature_names(groups)) == have:
        return VectorParams(groups=groups), feature_names(groups)
    return VectorParams(groups=()), list(columns)
