"""The mel spectrogram in torch: the one spectral primitive every input shares (MFCCs,
the spectrogram pictures, musicnn's log-mel patches), on the CPU or a GPU.

:func:`mel_power` equals ``librosa.feature.melspectrogram`` (Hann window, centred
frames with constant padding, power 2, librosa's Slaney mel filters); the tests
check it against librosa.
"""

from __future__ import annotations

import functools


@functools.lru_cache(maxsize=16)
def _window_and_filters(sr: int, n_fft: int, n_mels: int, device: str):
    """Hann window and librosa's mel filter bank (Slaney norm) on ``device``."""
    import torch

    from .numba_cache import librosa_module

    librosa = librosa_module()  # never librosa itself: see numba_cache

    mel = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels)
    return torch.hann_window(n_fft, periodic=True, device=device), torch.as_tensor(mel, dtype=torch.float32,
                                                                                    device=device)


def mel_power(x, params, n_mels: int):
    """(B, samples) tensor -> (B, n_mels, frames) power mel spectrogram. ``params``: any
    object with ``sr``, ``n_fft`` and ``hop_length`` (MFCC or musicnn parameters)."""
    import torch

    window, mel = _window_and_filters(params.sr, params.n_fft, n_mels, str(x.device))
    spec = torch.stft(
        x, params.n_fft, params.hop_length, window=window, center=True, pad_mode="constant", return_complex=True
    )
    power = spec.real.square() + spec.imag.square()  # (B, 1 + n_fft/2, T)
    return torch.matmul(mel, power)


def mel_db(x, params, n_mels: int):
    """(B, samples) tensor -> (B, n_mels, frames) dB, clipped at each row's max - 80 dB
    (librosa's ``power_to_db(..., top_db=80)`` applied per row)."""
    import torch

    db = 10.0 * torch.log10(torch.clamp(mel_power(x, params, n_mels), min=1e-10))
    return torch.maximum(db, db.amax(dim=(1, 2), keepdim=True) - 80.0)
