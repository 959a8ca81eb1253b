"""What every input kind knows, and the two things all of them hand around.

:class:`InputKind` is the interface (with the defaults most kinds share);
:class:`Clip` is one clip to predict on or explain, decoded once and shared by the
runs that read it; :class:`ModelInput` is one run's own input for that clip (what
the model takes, and what a person sees of it).

Two layouts exist for explanations: a *grid* per row (time x bands: MFCC
coefficients, mel bands), drawn as a heatmap and occluded in rectangular patches,
or a *picture* per row (3 x S x S, occluded in tiles). A kind says which with
:attr:`InputKind.grid`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..audio import DecodedAudio
from ..errors import ConfigError
from ..features import MFCCParams, mfcc_segments
from ..words import count


@dataclass
class Clip:
    """One clip, decoded once: ``y`` at ``mfcc.sr`` (MFCCs and pictures), ``decoded`` at
    its own rate (musicnn resamples from it, not from ``y``). What a kind made of it is
    kept in ``memo``, so several runs on the same input read it once."""

    y: np.ndarray
    mfcc: MFCCParams = field(default_factory=MFCCParams)
    decoded: DecodedAudio | None = None
    memo: dict = field(default_factory=dict)
    #: input kind name -> the parameters the clip is analysed with where a kind checks a run's
    #: own against them (default: the kind's own, :meth:`InputKind.params`)
    params: dict = field(default_factory=dict)

    @staticmethod
    def analysis_rate(params: dict | None = None) -> int:
        """The rate :attr:`y` is at (the MFCC grid's, 22.05 kHz by default)."""
        return ((params or {}).get("mfcc") or MFCCParams()).sr

    @classmethod
    def of(cls, decoded: DecodedAudio, params: dict | None = None) -> Clip:
        """A clip decoded once, analysed with ``params`` (kind name -> parameters)."""
        params = dict(params or {})
        mfcc = params.get("mfcc") or MFCCParams()
        return cls(decoded.at(mfcc.sr), mfcc, decoded, params=params)

    @property
    def sr(self) -> int:
        return self.mfcc.sr

    @property
    def audio(self) -> DecodedAudio:
        return self.decoded if self.decoded is not None else DecodedAudio(self.y, self.mfcc.sr)

    def cached(self, key: tuple, make: Callable[[], Any]):
        if key not in self.memo:
            self.memo[key] = make()
        return self.memo[key]

    @property
    def duration(self) -> float:
        """The clip's length in seconds (before any padding)."""
        return len(self.y) / self.mfcc.sr

    def segments(self) -> np.ndarray:
        """The clip's MFCC segments (n, frames, n_mfcc), a short clip repeat-padded to one."""
        return self.cached(("mfcc", self.mfcc.key()), lambda: mfcc_segments(self.y, self.mfcc.sr, self.mfcc))


@dataclass
class ModelInput:
    kind: str  # the input kind's name: "mfcc", "musicnn", "image"
    x: Any  # torch.Tensor, what the model takes: (n, frames, n_mfcc), (n, 187, 96) or (n, 3, S, S) normalised
    starts: np.ndarray  # start time of each row, seconds
    seconds: float  # length of one row (3 s segment or patch, or 30 s window)
    display: np.ndarray  # what a person sees: MFCCs / log-mel patches (n, frames, bands) or RGB windows (n, S, S, 3)
    #: end time of each row on the clip's time axis, seconds (None: ``starts + seconds``)
    ends: np.ndarray | None = None


@dataclass
class KindRows:
    """One input kind's rows for a dataset (or one track of it): ``x[i]`` belongs to track
    ``track[i]``; ``padded`` (one track) whether its one row is a repeat-padded short clip;
    ``columns`` (one track: values, a dataset: arrays) what the kind records per track in the
    track table; ``info`` what the dataset's rows carry beside them (JSON)."""

    params: Any
    x: np.ndarray
    track: np.ndarray  # int32, one per row
    info: dict = field(default_factory=dict)
    padded: bool = False
    columns: dict = field(default_factory=dict)

    def keep(self, keep: np.ndarray, new_index: np.ndarray) -> KindRows:
        rows = keep[self.track]
        return KindRows(self.params, self.x[rows], new_index[self.track[rows]].astype(np.int32), self.info)

    @classmethod
    def gather(cls, params, per_track: list, info: dict | None = None) -> KindRows:
        """The rows of every track (None: the track has none), each row's track its position."""
        have = [(t, r.x) for t, r in enumerate(per_track) if r is not None and len(r.x)]
        if not have:
            return cls(params, np.zeros((0,), np.float32), np.zeros(0, np.int32), dict(info or {}))
        return cls(params, np.concatenate([x for _, x in have]),
                   np.concatenate([np.full(len(x), t, np.int32) for t, x in have]), dict(info or {}))


@dataclass
class TrackSource:
    """What a kind extracts one dataset track from: its audio decoded once (None: the track
    has none), its files (the dataset table's ``*_path`` columns), its name for messages,
    a list to add notes to, the device and the whole request (a kind may read another's
    parameters)."""

    audio: DecodedAudio | None
    files: dict
    name: str
    notes: list
    device: str = "cpu"
    request: dict = field(default_factory=dict)


def _identity(x):
    return x


class InputKind:
    """One kind of model input. Subclasses set the facts and override what differs;
    an instance is registered once (:func:`gtzan_core.inputs.register_kind`)."""

    #: the name stored in run records (``input_kind``) and named by ``ModelSpec.input_kind``
    name: str = ""
    #: what one training sample is called (the split's unit): "segment", "patch", "image"
    unit: str = ""
    #: what one prediction row is called (``RunPrediction.unit``): "segment", "patch", "window"
    window_unit: str = ""
    #: what the one row of a run that saw a clip whole is, in a sentence ("one ...")
    whole_what: str = ""
    #: how many rows a prediction feeds the model at once (a 10-minute upload in slices:
    #: the activations of every window at once would take hundreds of MB)
    predict_batch: int = 32
    #: many samples per track: the split follows tracks; the paper protocol splits the samples (leaky)
    per_track: bool = True
    #: reads audio (an images-only dataset cannot feed it)
    needs_audio: bool = True
    #: reads pictures: the dataset's own or drawn from its audio (a dataset with neither cannot feed it)
    reads_pictures: bool = False
    #: a short clip is repeat-padded to one sample (counted in the track table's ``padded_<name>``)
    pads: bool = False
    #: what a dataset lacks when no track has this input ("this dataset has no ...")
    missing_what: str = ""
    #: whether a run may standardise the input on the training split (the Train page's toggle;
    #: its words are the page's, :mod:`gtzan_core.webapp.kinds`)
    standardizes: bool = False
    #: explanations: a (time x band) grid per row (True) or a picture (False)
    grid: bool = True
    #: occlusion patch of a grid, (frames, bands)
    occlusion_patch: tuple[int, int] | None = None
    #: the span (columns: ~1 s of frames) and band (rows) an explanation names as the strongest
    top_span: tuple[int, int] | None = None
    #: whether explanations (occlusion, Grad-CAM) can be drawn; else ``no_explanation`` says why
    explainable: bool = True
    no_explanation: str = ""
    #: SpecAugment-style masking: the (time, frequency) axes of a prepared batch (None: no masking)
    mask_axes: tuple[int, int] | None = None

    def __repr__(self) -> str:
        return f"<input kind {self.name}>"

    def check_spec(self, spec) -> None:
        """Raise :class:`ConfigError` when a model spec lacks what this kind needs of it."""

    # -- extraction: a kind owns its features end to end ----------------------------------------
    #: bump when :meth:`extract` changes what it makes: the feature cache's key follows it
    version: int = 1
    #: reads the dataset's own files beside (or instead of) the audio: the feature cache keeps the
    #: tracks that have no audio for it
    reads_files: bool = False
    #: reads a feature table (no audio): a table's default request is the kinds that do
    reads_tables: bool = False
    #: what a dataset holds when this kind is all it can feed ("pictures only"), for messages
    held_words: str = ""

    def params(self):
        """This kind's default extraction parameters (a frozen dataclass with ``as_dict()``)."""
        raise NotImplementedError

    def params_of(self, d: dict):
        """:meth:`params` from what a cache entry stored (``as_dict()``)."""
        return type(self.params())(**d)

    def feature_request(self, spec, source: str = "auto") -> dict:
        """What :func:`~gtzan_core.feature_cache.load_features` extracts for a model of this kind:
        kind name -> parameters (its own; a kind may ask for another's beside it)."""
        return {self.name: self.params()}

    def wanted(self, params) -> bool:
        """Whether ``params`` ask for anything (a kind may be switched off by its parameters)."""
        return True

    def decode_seconds(self, params) -> float:
        """How much of a track the extraction decodes for this kind (the longest of the
        requested kinds is decoded once): a GTZAN clip and the slack its files have."""
        from ..spectrogram.kaggle import WHOLE_CLIP_SLACK

        return MFCCParams().track_seconds * WHOLE_CLIP_SLACK

    def extract(self, audio: DecodedAudio, params) -> tuple[np.ndarray, bool]:
        """One track's rows of this kind (n, ...) and whether they are a repeat-padded short clip."""
        raise NotImplementedError

    def extract_track(self, track: TrackSource, params) -> KindRows | None:
        """One dataset track's rows (track index 0; None: this kind has none of it). The default:
        :meth:`extract` on the track's audio; a track without audio has none when the kind needs it."""
        if track.audio is None:
            return None
        got = self.extract(track.audio, params)
        x, padded = got if isinstance(got, tuple) else (got, False)
        return KindRows(params, x, np.zeros(len(x), np.int32), padded=bool(padded))

    def from_table(self, dataset, params) -> KindRows | None:
        """This kind's rows of a feature table (``dataset.table``; no audio), or None when it
        cannot read one."""
        return None

    def info(self, params) -> dict:
        """What a dataset's rows of this kind carry beside them (JSON, e.g. column names)."""
        return {}

    def record_params(self, params) -> dict:
        """What a run records of this kind's parameters, under which record keys."""
        return {f"{self.name}_params": params.as_dict()} if params is not None else {}

    # -- a FeatureSet seen by this kind ----------------------------------------------------------
    def samples(self, fs) -> tuple[np.ndarray, np.ndarray]:
        """The samples of this kind in ``fs`` and the track of each."""
        return fs.samples(self.name)

    def has(self, fs) -> np.ndarray:
        """Per track of ``fs``: whether it has input of this kind."""
        return fs.has(self.name)

    def padded_count(self, fs) -> int:
        return fs.padded_count(self.name)

    def check_features(self, fs, spec) -> None:
        """Raise :class:`ConfigError` when ``fs`` was extracted without what ``spec`` reads."""
        if self.name not in fs.inputs:
            raise ConfigError(f"these features were extracted without the {self.name} input "
                              f"(load them with feature_request('{spec.name}'))")

    # -- training --------------------------------------------------------------------------------
    def build_options(self, fs) -> dict:
        """The builder options a model of this kind gets from its features (the MFCC models'
        frames and coefficients; most builders take none)."""
        return {}

    def batch_prep(self, spec) -> Callable:
        """A batch of stored samples -> the tensor the model takes."""
        return _identity

    def standardize(self, model, x_train, spec) -> None:
        """Fit the model's input standardisation on the training samples (kinds that offer it)."""

    def record_facts(self, fs) -> dict:
        """What a run records about its inputs when training starts."""
        padded = ({"tracks": self.padded_count(fs), "of": int(len(fs.tracks)), "unit": self.unit}
                  if self.pads else None)
        return {"image_sources": None, "padded_inputs": padded}

    # -- shapes ----------------------------------------------------------------------------------
    def input_shape(self, spec, frames: int = 130, n_mfcc: int = 13) -> tuple[int, ...]:
        """One sample's input shape for a model of this kind."""
        raise NotImplementedError

    def run_input_shape(self, meta: dict) -> tuple[int, ...]:
        """One sample's input shape for a trained run (its checkpoint ``meta``)."""
        raise NotImplementedError

    # -- prediction and explanation --------------------------------------------------------------
    def param_mismatch(self, clip: Clip, meta: dict) -> list[str]:
        """How the run's own parameters for this kind (its checkpoint ``meta``) differ from what
        ``clip`` is analysed with, one ``name=run value (here value)`` each; empty when the run
        can read the clip (a kind whose rows follow the run's own parameters checks nothing)."""
        return []

    def run_warnings(self, record: dict, meta: dict) -> list[str]:
        """Why a run's predictions on new audio may be doubtful; :class:`ConfigError` when the
        run's recorded parameters cannot be used at all."""
        return []

    def model_input(self, clip: Clip, meta: dict, spec=None) -> ModelInput:
        """The run's own input for ``clip``, exactly as it trained on such input."""
        raise NotImplementedError

    def view(self, clip: Clip, params=None) -> np.ndarray:
        """What this kind makes of ``clip`` for a person to see (the Predict page's tabs)."""
        raise ConfigError(f"the {self.name} input has no view of a clip")

    def row_spans(self, inp: ModelInput, duration: float) -> tuple[np.ndarray, np.ndarray]:
        """Where each row of ``inp`` lies on the clip's time axis: ``(starts, ends)`` in seconds.
        A row never ends after the clip: a short clip repeat-padded to one row, or a last window
        zero-padded, covers only the audio there is."""
        ends = inp.ends if inp.ends is not None else inp.starts + inp.seconds
        return np.asarray(inp.starts, float), np.minimum(np.asarray(ends, float), duration)

    def saw_whole(self, starts: np.ndarray, ends: np.ndarray, duration: float) -> bool:
        """Whether the rows are one that covers the whole clip (nothing to show over time)."""
        return len(starts) == 1 and starts[0] <= 0 and ends[0] >= duration - 1e-3

    def windows_text(self, starts: np.ndarray, ends: np.ndarray, duration: float) -> str:
        """One line: how a run of this kind saw the clip (completes "<the run> ...")."""
        if self.saw_whole(starts, ends, duration):
            what = self.whole_what or f"one {self.window_unit}"
            return f"saw the clip as a whole ({what} of its {duration:.1f} s)"
        return f"scored {count(len(starts), self.window_unit)} of {float(ends[0] - starts[0]):.3g} s"

    def explanation_display(self, inp: ModelInput) -> np.ndarray:
        """The input under an explanation's maps: (bands, time) for a grid."""
        return np.concatenate(list(inp.display), axis=0).T

    def top_cells(self, inp: ModelInput) -> tuple[int, int]:
        """How many columns (time) and rows (bands) the strongest span and band of a map cover."""
        return self.top_span or (max(1, inp.x.shape[-1] // 8),) * 2

    def map_size(self, x) -> tuple[int, ...]:
        """The (H, W) a per-row explanation map is resized to."""
        return tuple(x.shape[1:])

    def layout(self, values_rows: np.ndarray, inp: ModelInput, mfcc: MFCCParams, meta: dict):
        """Per-row maps (rows, H, W) -> one (bands, time) map over the clip: ``(values, times,
        bands, band unit)``."""
        raise NotImplementedError

    def heatmap(self, display: np.ndarray, times: np.ndarray, bands: np.ndarray) -> tuple[dict, Any, str]:
        """How the explanation figure draws the input: ``(heatmap arguments, y axis, y title)``."""
        raise NotImplementedError

    # -- sharing ---------------------------------------------------------------------------------
    def preprocessing_text(self, record: dict, spec=None) -> str:
        """How to turn audio into this input (the model card, ONNX users)."""
        raise NotImplementedError

    def checkpoint_mismatch(self, meta: dict, record: dict) -> str | None:
        """Why an imported checkpoint's ``meta`` does not match its record, for this kind."""
        return None


def mfcc_mismatch(clip: Clip, meta: dict) -> list[str]:
    """The MFCC parameters (rate, segment, FFT) a run recorded that differ from ``clip``'s:
    what the kinds cut or drawn from ``clip.y`` on its MFCC grid check."""
    actual = meta.get("mfcc_params") or {}
    return [f"{k}={actual.get(k)} (here {v})" for k, v in clip.mfcc.as_dict().items() if actual.get(k) != v]


def grid_times(inp: ModelInput, frames: int, hop_seconds: float) -> np.ndarray:
    """The time of each column of rows of ``frames`` frames laid end to end."""
    return np.repeat(inp.starts, frames) + np.tile(np.arange(frames) * hop_seconds, len(inp.starts))
