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
from ..features import ImageParams, MFCCParams, mfcc_segments
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
    #: the track-table column counting tracks whose one sample is a repeat-padded short clip
    padded_column: str | None = None
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

    # -- extraction ----------------------------------------------------------------------------
    def image_params(self, spec, source: str = "auto") -> ImageParams:
        """The pictures extracted beside this kind's input (the image models' own size; the
        rest share the default size's entry, so one extraction serves them all)."""
        size = spec.image_size if spec is not None and spec.image_size else ImageParams.size
        return ImageParams(size=size, source=source)

    def musicnn_params(self):
        """musicnn's log-mel patch parameters when this kind reads them, else None."""
        return None

    def feature_request(self, spec, image_source: str = "auto") -> dict:
        """What :func:`~gtzan_core.feature_cache.load_features` must extract (MFCCs always;
        a kind with its own :meth:`params` asks for its own input under ``inputs``)."""
        request = {"image": self.image_params(spec, image_source), "musicnn": self.musicnn_params()}
        params = self.params()
        if params is not None:
            request["inputs"] = {self.name: params}
        return request

    # -- a kind's own input (the feature cache extracts and stores it without knowing it) --------
    #: bump when :meth:`extract` changes what it makes: the cache's key follows it
    version: int = 1

    def params(self):
        """This kind's own extraction parameters (a frozen dataclass with ``as_dict()``), when its
        rows are extracted by :meth:`extract` and kept in ``FeatureSet.inputs[name]``; None for
        the built-in kinds, whose arrays are the :class:`~gtzan_core.feature_cache.FeatureSet`'s
        own fields (kept so the caches written before stay valid)."""
        return None

    def params_of(self, d: dict):
        """:meth:`params` from what a cache entry stored (``as_dict()``)."""
        return type(self.params())(**d)

    def extract(self, audio: DecodedAudio, params) -> tuple[np.ndarray, bool]:
        """One track's rows of this kind (n, ...) and whether they are a repeat-padded short clip
        (kinds with :meth:`params`)."""
        raise NotImplementedError

    # -- a FeatureSet seen by this kind ----------------------------------------------------------
    def samples(self, fs) -> tuple[np.ndarray, np.ndarray]:
        """The samples of this kind in ``fs`` and the track of each (a kind with its own
        :meth:`params`: its entry of ``fs.inputs``)."""
        own = fs.inputs[self.name]
        return own.x, own.track

    def has(self, fs) -> np.ndarray:
        """Per track of ``fs``: whether it has input of this kind."""
        own = fs.inputs.get(self.name)
        if own is None:
            return np.zeros(len(fs.tracks), bool)
        return np.bincount(own.track, minlength=len(fs.tracks)) > 0

    def padded_count(self, fs) -> int:
        col = self.padded_column
        return int(fs.tracks[col].sum()) if col and col in fs.tracks else 0

    def check_features(self, fs, spec) -> None:
        """Raise :class:`ConfigError` when ``fs`` was extracted without what ``spec`` reads."""
        if self.params() is not None and self.name not in fs.inputs:
            raise ConfigError(f"these features were extracted without the {self.name} input "
                              f"(load them with feature_request('{spec.name}'))")

    # -- training --------------------------------------------------------------------------------
    def build_options(self, fs) -> dict:
        """The builder options a model of this kind gets from its features (the MFCC models'
        frames and coefficients; the image and musicnn builders ignore them)."""
        frames, n_mfcc = fs.mfcc.shape[1:]
        return {"frames": frames, "n_mfcc": n_mfcc}

    def batch_prep(self, spec) -> Callable:
        """A batch of stored samples -> the tensor the model takes."""
        return _identity

    def standardize(self, model, x_train, spec) -> None:
        """Fit the model's input standardisation on the training samples (kinds that offer it)."""

    def record_facts(self, fs) -> dict:
        """What a run records about its inputs when training starts."""
        padded = ({"tracks": self.padded_count(fs), "of": int(len(fs.tracks)), "unit": self.unit}
                  if self.padded_column else None)
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
