"""MFCC segments: the paper's input for the MLP, CNN, LSTM and GRU.

Each 30 s track is cut into 10 segments of 3 s (22.05 kHz), each 130 frames x 13
MFCCs (:mod:`gtzan_core.features`); a clip of 1.5-3 s is repeat-padded to one
segment and counted (``tracks.padded_mfcc``). The split follows tracks (the paper
protocol splits the segments themselves: leaky). A clip is predicted segment by
segment; a model may standardise the coefficients on the training split (its
``norm`` layer, kept in its checkpoint).
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..features import MFCCParams, count_segments, is_padded, mfcc_segments
from .base import Clip, InputKind, KindRows, ModelInput, TrackSource, grid_times, mfcc_mismatch


def clip_segments(clip: Clip) -> np.ndarray:
    """The clip's MFCC segments (n, frames, n_mfcc) with the clip's MFCC parameters, computed
    once (shared with the MFCC runs that read them): what the Predict page draws."""
    return clip.segments()


def segment_count(clip: Clip) -> int:
    """How many 3 s MFCC segments the clip makes (a short clip padded to one), without
    computing them."""
    return max(1, count_segments(len(clip.y), clip.mfcc))


class MFCCKind(InputKind):
    name = "mfcc"
    unit = "segment"
    window_unit = "segment"
    per_track = True
    needs_audio = True
    pads = True
    missing_what = "audio for MFCCs"
    standardizes = True
    grid = True
    #: 10 frames (~0.23 s) x 3 coefficients
    occlusion_patch = (10, 3)
    #: ~1 s of frames (43), 3 coefficients
    top_span = (43, 3)
    #: a batch is (batch, frames, coefficients)
    mask_axes = (1, 2)

    def param_mismatch(self, clip: Clip, meta: dict) -> list[str]:
        return mfcc_mismatch(clip, meta)

    def params(self) -> MFCCParams:
        return MFCCParams()

    def decode_seconds(self, params) -> float:
        return params.track_seconds

    def extract_track(self, track: TrackSource, params) -> KindRows | None:
        if track.audio is None:
            return None
        y = track.audio.at(params.sr)
        x = mfcc_segments(y, params.sr, params, max_segments=params.n_segments, device=track.device)
        return KindRows(params, x, np.zeros(len(x), np.int32), padded=is_padded(len(y), params))

    def build_options(self, fs) -> dict:
        frames, n_mfcc = fs.samples(self.name)[0].shape[1:]
        return {"frames": frames, "n_mfcc": n_mfcc}

    def view(self, clip: Clip, params=None) -> np.ndarray:
        return clip_segments(clip)

    def standardize(self, model, x_train, spec) -> None:
        norm = getattr(model, "norm", None)
        if norm is None:
            raise ConfigError(f"{spec.title} has no input standardisation (a `norm` layer): train it with "
                              "standardize off")
        norm.fit(x_train)

    def input_shape(self, spec, frames: int = 130, n_mfcc: int = 13):
        return (frames, n_mfcc)

    def run_input_shape(self, meta: dict):
        options = meta.get("options") or {}
        return (int(options.get("frames", 130)), int(options.get("n_mfcc", 13)))

    def model_input(self, clip: Clip, meta: dict, spec=None) -> ModelInput:
        import torch

        feats = clip.segments()
        step = clip.mfcc.segment_seconds
        return ModelInput(self.name, torch.from_numpy(feats), np.arange(len(feats)) * step, step, feats)

    def layout(self, values_rows, inp, mfcc, meta):
        # (rows, frames, coefs) -> (coefs, rows*frames), coefficient 0 at the bottom
        values = np.concatenate(list(values_rows), axis=0).T
        times = grid_times(inp, values_rows.shape[1], mfcc.hop_length / mfcc.sr)
        return values, times, np.arange(values.shape[0], dtype=float), "MFCC coefficient"

    def heatmap(self, display, times, bands):
        return (dict(z=display, x=times, colorscale="Viridis", hovertemplate="%{x:.2f} s, coef %{y}<extra></extra>"),
                bands, "MFCC coefficient")

    def preprocessing_text(self, record: dict, spec=None) -> str:
        m = record.get("mfcc_params") or {}
        return (f"Decode to mono float32 at {m.get('sr')} Hz. Cut into segments of "
                f"{int(m.get('sr', 22050) * m.get('track_seconds', 30) / m.get('n_segments', 10))} samples "
                f"({m.get('track_seconds', 30) / m.get('n_segments', 10):g} s). Per segment: "
                f"`librosa.feature.mfcc(y, sr={m.get('sr')}, n_mfcc={m.get('n_mfcc')}, n_fft={m.get('n_fft')}, "
                f"hop_length={m.get('hop_length')}, n_mels={m.get('n_mels')})`, transposed to (frames, "
                f"{m.get('n_mfcc')}). Input: float32 (batch, frames, n_mfcc); any standardisation is inside the "
                "model. Output: logits over the genres below; softmax, then average a clip's segments. A clip of "
                "1.5-3 s is repeated end to end to fill one segment.")


KIND = MFCCKind()
