"""The Kaggle GTZAN feature vector, computed from audio with librosa, plus groups beyond it.

The Kaggle table ``features_30_sec.csv`` (one row per 30 s GTZAN track) holds 57 numbers per
track: the mean and variance over frames of chroma_stft, RMS, spectral centroid, bandwidth,
rolloff, zero-crossing rate, of the harmonic and percussive waveforms (``harmony``/``perceptr``),
the beat tracker's tempo, and MFCC 1-20. :func:`extract` computes them with librosa's defaults
(22050 Hz, n_fft 2048, hop 512), the definitions the table was made with:

- ``chroma_stft``: ``librosa.feature.chroma_stft(y=y, sr=sr)``, mean/var over all bins and frames;
- ``rms``, ``spectral_centroid``, ``spectral_bandwidth``, ``rolloff`` (``spectral_rolloff``),
  ``zero_crossing_rate``: the librosa feature with its defaults, mean/var over frames;
- ``harmony``/``perceptr``: ``librosa.effects.harmonic(y)`` / ``librosa.effects.percussive(y)``
  (HPSS), mean/var of the *waveform samples* (not of a spectrum: the means are ~0);
- ``tempo``: ``librosa.beat.beat_track(y=y, sr=sr)``'s tempo (BPM; an estimate on a tempo grid,
  so two librosa versions can disagree by a tempo-grid step or an octave);
- ``mfcc1..20``: ``librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20)``, mean/var per coefficient.

Variances are population variances (``numpy.var``, ddof 0), as in the table. Beyond Kaggle
(columns not in the CSV): spectral contrast (7 bands), tonnetz (6 dimensions), and onset /
tempogram statistics. :data:`GROUPS` names every group; :func:`feature_names` lists a choice
of groups' columns in a fixed order.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

_MFCC = tuple(f"mfcc{i}_{stat}" for i in range(1, 21) for stat in ("mean", "var"))

#: the 57 feature columns of the Kaggle ``features_30_sec.csv``, in the CSV's order
KAGGLE_COLUMNS: tuple[str, ...] = (
    "chroma_stft_mean", "chroma_stft_var", "rms_mean", "rms_var",
    "spectral_centroid_mean", "spectral_centroid_var", "spectral_bandwidth_mean", "spectral_bandwidth_var",
    "rolloff_mean", "rolloff_var", "zero_crossing_rate_mean", "zero_crossing_rate_var",
    "harmony_mean", "harmony_var", "perceptr_mean", "perceptr_var", "tempo",
) + _MFCC

#: named feature groups -> their columns. The first four cover the Kaggle 57 exactly; the last
#: three are beyond Kaggle (not in the CSV: the studio computes them from audio only).
GROUPS: dict[str, tuple[str, ...]] = {
    "mfcc": _MFCC,
    "chroma": ("chroma_stft_mean", "chroma_stft_var"),
    "spectral": ("spectral_centroid_mean", "spectral_centroid_var", "spectral_bandwidth_mean",
                 "spectral_bandwidth_var", "rolloff_mean", "rolloff_var", "zero_crossing_rate_mean",
                 "zero_crossing_rate_var", "rms_mean", "rms_var"),
    "rhythm": ("tempo", "harmony_mean", "harmony_var", "perceptr_mean", "perceptr_var"),
    "contrast": tuple(f"spectral_contrast{i}_{stat}" for i in range(1, 8) for stat in ("mean", "var")),
    "tonnetz": tuple(f"tonnetz{i}_{stat}" for i in range(1, 7) for stat in ("mean", "var")),
    "onset": ("onset_strength_mean", "onset_strength_var", "onset_rate", "tempogram_mean", "tempogram_var",
              "tempogram_peak_bpm"),
}

#: the groups whose columns are all in the Kaggle table
KAGGLE_GROUPS: tuple[str, ...] = ("mfcc", "chroma", "spectral", "rhythm")
#: the groups beyond the Kaggle table
EXTRA_GROUPS: tuple[str, ...] = ("contrast", "tonnetz", "onset")

assert sorted(c for g in KAGGLE_GROUPS for c in GROUPS[g]) == sorted(KAGGLE_COLUMNS)


def _check_groups(groups: Iterable[str] | None) -> tuple[str, ...]:
    if groups is None:
        return KAGGLE_GROUPS
    if isinstance(groups, str):
        groups = (groups,)
    groups = tuple(groups)
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        raise ValueError(f"unknown feature group(s) {', '.join(map(repr, unknown))}; "
                         f"the groups are {', '.join(GROUPS)}")
    if not groups:
        raise ValueError(f"no feature group chosen; the groups are {', '.join(GROUPS)}")
    return groups


def feature_names(groups: Iterable[str] | None = None) -> list[str]:
    """The columns of ``groups`` (None: the Kaggle 57 in the CSV's order; otherwise Kaggle
    columns in the CSV's order, then each extra group's columns in :data:`GROUPS` order)."""
    chosen = _check_groups(groups)
    wanted = {c for g in chosen for c in GROUPS[g]}
    names = [c for c in KAGGLE_COLUMNS if c in wanted]
    for g in EXTRA_GROUPS:
        if g in chosen:
            names.extend(GROUPS[g])
    return names


def _mv(prefix: str, values: np.ndarray, out: dict[str, float]) -> None:
    v = np.asarray(values, dtype=np.float64)
    out[f"{prefix}_mean"] = float(v.mean())
    out[f"{prefix}_var"] = float(v.var())


def extract(y: np.ndarray, sr: int, groups: Iterable[str] | None = None) -> dict[str, float]:
    """The feature vector of mono audio ``y`` at ``sr`` Hz: ``{column: value}`` for the
    columns of ``groups`` (None: the Kaggle 57), in :func:`feature_names` order."""
    from .numba_cache import librosa_module

    librosa = librosa_module()  # never librosa itself: see numba_cache

    chosen = _check_groups(groups)
    y = np.ascontiguousarray(np.asarray(y, dtype=np.float32).reshape(-1))
    if y.size == 0:
        raise ValueError("no audio samples to extract features from")
    out: dict[str, float] = {}
    if "chroma" in chosen:
        _mv("chroma_stft", librosa.feature.chroma_stft(y=y, sr=sr), out)
    if "spectral" in chosen:
        _mv("rms", librosa.feature.rms(y=y), out)
        _mv("spectral_centroid", librosa.feature.spectral_centroid(y=y, sr=sr), out)
        _mv("spectral_bandwidth", librosa.feature.spectral_bandwidth(y=y, sr=sr), out)
        _mv("rolloff", librosa.feature.spectral_rolloff(y=y, sr=sr), out)
        _mv("zero_crossing_rate", librosa.feature.zero_crossing_rate(y), out)
    onset_env = None
    if "rhythm" in chosen:
        # harmonic/percussive as in librosa.effects (one STFT, one HPSS: the same waveforms)
        stft = librosa.stft(y)
        harm, perc = librosa.decompose.hpss(stft)
        _mv("harmony", librosa.istft(harm, length=len(y)), out)
        _mv("perceptr", librosa.istft(perc, length=len(y)), out)
        onset_env = librosa.onset.onset_strength(y=y, sr=sr)
        tempo, _ = librosa.beat.beat_track(onset_envelope=onset_env, sr=sr)
        out["tempo"] = float(np.atleast_1d(tempo)[0])
    if "mfcc" in chosen:
        mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20)
        for i in range(20):
            _mv(f"mfcc{i + 1}", mfcc[i], out)
    if "contrast" in chosen:
        contrast = librosa.feature.spectral_contrast(y=y, sr=sr)
        for i in range(contrast.shape[0]):
            _mv(f"spectral_contrast{i + 1}", contrast[i], out)
    if "tonnetz" in chosen:
        tonnetz = librosa.feature.tonnetz(y=y, sr=sr)
        for i in range(tonnetz.shape[0]):
            _mv(f"tonnetz{i + 1}", tonnetz[i], out)
    if "onset" in chosen:
        if onset_env is None:
            onset_env = librosa.onset.onset_strength(y=y, sr=sr)
        _mv("onset_strength", onset_env, out)
        onsets = librosa.onset.onset_detect(onset_envelope=onset_env, sr=sr)
        out["onset_rate"] = float(len(onsets) / max(len(y) / sr, 1e-9))
        tgram = librosa.feature.tempogram(onset_envelope=onset_env, sr=sr)
        _mv("tempogram", tgram, out)
        bpms = librosa.tempo_frequencies(tgram.shape[0], sr=sr)
        # the strongest periodicity between 30 and 300 BPM (bin 0 is infinite BPM)
        band = np.flatnonzero((bpms >= 30) & (bpms <= 300))
        profile = tgram[band].mean(axis=1)
        out["tempogram_peak_bpm"] = float(bpms[band[int(np.argmax(profile))]]) if band.size else 0.0
    names = feature_names(chosen)
    return {name: out[name] for name in names}


def vector(y: np.ndarray, sr: int, groups: Iterable[str] | None = None) -> np.ndarray:
    """:func:`extract` as a float32 array in :func:`feature_names` order."""
    return np.asarray(list(extract(y, sr, groups).values()), dtype=np.float32)


__all__ = ["EXTRA_GROUPS", "GROUPS", "KAGGLE_COLUMNS", "KAGGLE_GROUPS", "extract", "feature_names", "vector"]
