"""musicnn's log-mel patches (Pons & Serra 2019): 16 kHz, 96 mel bands, 187 frames
(~3 s) per patch (:mod:`gtzan_core.mel_patches`).

Extracted only for the models that read them (at most the 10 patches that fit in
30 s per track); a clip of 1.5-3 s is repeat-padded to one patch and counted
(``tracks.padded_musicnn``). Treated as the paper treated its MFCC models: many
samples per track, so the split follows tracks and the paper protocol splits the
patches. The clip is resampled to 16 kHz from its own rate, never twice.

The spectrogram Transformer (``ast``) reads the same patches (one extraction, one
cache); it standardises them itself (:meth:`MusicnnKind.standardize`), masks them
along ``mask_axes`` (time, mel) when its recipe asks for SpecAugment.
"""

from __future__ import annotations

import numpy as np

from ..features import MFCCParams
from ..mel_patches import MusicnnParams
from .base import Clip, InputKind, ModelInput, grid_times


def patches_per_track(params: MusicnnParams, track_seconds: float | None = None) -> int:
    """musicnn patches kept per dataset track: as many as fit in a GTZAN track's span (10 in
    30 s), the span the MFCC segments cover."""
    seconds = track_seconds or MFCCParams().track_seconds
    return max(1, int(seconds * params.sr / params.hop_length) // params.patch_frames)


def musicnn_rows(decoded, params: MusicnnParams) -> tuple[np.ndarray, np.ndarray]:
    """musicnn's input for a clip (a :class:`~gtzan_core.audio.DecodedAudio`): its log-mel
    patches (16 kHz; a short clip repeat-padded to one) and each patch's start time."""
    from ..features import MIN_CLIP_SECONDS
    from ..mel_patches import mel_patches

    patches, _ = mel_patches(decoded.at(params.sr), params, MIN_CLIP_SECONDS)
    seconds = params.patch_frames * params.hop_length / params.sr
    return patches, np.arange(len(patches)) * seconds


def run_params(meta: dict) -> MusicnnParams:
    return MusicnnParams(**(meta.get("musicnn_params") or {}))


class MusicnnKind(InputKind):
    name = "musicnn"
    unit = "patch"
    window_unit = "patch"
    per_track = True
    needs_audio = True
    pads = True
    missing_what = "audio for musicnn's log-mel patches"
    grid = True
    #: 31 frames (~0.5 s) x 12 of its 96 mel bands (48 patches per 3 s)
    occlusion_patch = (31, 12)
    #: ~1 s of frames (62), 12 mel bands
    top_span = (62, 12)
    #: a batch is (batch, frames, mels)
    mask_axes = (1, 2)

    def params(self) -> MusicnnParams:
        return MusicnnParams()

    def extract(self, audio, params) -> tuple[np.ndarray, bool]:
        from ..features import MIN_CLIP_SECONDS
        from ..mel_patches import mel_patches

        patches, padded = mel_patches(audio.at(params.sr), params, MIN_CLIP_SECONDS)
        return patches[:patches_per_track(params)], bool(padded)

    def param_mismatch(self, clip: Clip, meta: dict) -> list[str]:
        try:  # the patches follow the run's own log-mel parameters; only unreadable ones refuse it
            run_params(meta)
        except (TypeError, ValueError) as exc:
            return [f"musicnn_params unreadable ({exc})"]
        return []

    def batch_prep(self, spec):
        import torch

        return torch.as_tensor

    def standardize(self, model, x_train, spec) -> None:
        # a model with its own input standardisation (the AST's one mean and sd) fits it on the
        # training patches; musicnn has none (its released networks read the log-mel as it is)
        norm = getattr(model, "norm", None)
        if norm is not None and hasattr(norm, "fit"):
            norm.fit(x_train)

    def input_shape(self, spec, frames: int = 130, n_mfcc: int = 13):
        p = MusicnnParams()
        return (p.patch_frames, p.n_mels)

    def run_input_shape(self, meta: dict):
        p = run_params(meta)
        return (p.patch_frames, p.n_mels)

    def model_input(self, clip: Clip, meta: dict, spec=None) -> ModelInput:
        import torch

        params = run_params(meta)
        patches, starts = clip.cached(("musicnn", params.key()), lambda: musicnn_rows(clip.audio, params))
        return ModelInput(self.name, torch.from_numpy(patches), starts,
                          params.patch_frames * params.hop_length / params.sr, patches)

    def layout(self, values_rows, inp, mfcc, meta):
        # (rows, frames, mels) -> (mels, rows*frames), low bands at the bottom
        from ..numba_cache import librosa_module

        librosa = librosa_module()  # never librosa itself: see numba_cache

        p = run_params(meta)
        values = np.concatenate(list(values_rows), axis=0).T
        times = grid_times(inp, values_rows.shape[1], p.hop_length / p.sr)
        return values, times, librosa.mel_frequencies(n_mels=p.n_mels, fmax=p.sr / 2), "Hz"

    def heatmap(self, display, times, bands):
        return (dict(z=display, x=times, colorscale="Magma", hovertemplate="%{x:.2f} s, band %{y}<extra></extra>"),
                np.arange(len(bands)), "mel band (low → high)")

    def preprocessing_text(self, record: dict, spec=None) -> str:
        p = record.get("musicnn_params") or {}
        return (f"Decode to mono float32 at {p.get('sr')} Hz. `librosa.feature.melspectrogram(y, sr={p.get('sr')}, "
                f"n_fft={p.get('n_fft')}, hop_length={p.get('hop_length')}, n_mels={p.get('n_mels')})` (power 2, "
                "Slaney), then `log10(1 + 10000 * mel)` in float32, transposed to (frames, mels) and cut into "
                f"non-overlapping patches of {p.get('patch_frames')} frames (~3 s; a trailing part is dropped, a clip "
                "of 1.5-3 s is repeated end to end to fill one patch). Input: float32 (batch, "
                f"{p.get('patch_frames')}, {p.get('n_mels')}). Output: logits over the genres below; softmax, then "
                "average a clip's patches.")


KIND = MusicnnKind()
