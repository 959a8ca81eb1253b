import numpy as np
import pytest
import soundfile as sf

from gtzan_core.audio import MAX_WORKING_RATE, audio_info, load_audio
from gtzan_core.errors import AudioError
from tests.helpers import write_clip


@pytest.mark.parametrize("suffix", [".wav", ".au", ".flac", ".ogg", ".mp3"])
def test_every_format_decodes_to_mono_22050(tmp_path, suffix):
    path = write_clip(tmp_path / f"clip{suffix}", "jazz", seconds=4.0)
    y = load_audio(path)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) / 22050 - 4.0) < 0.1  # mp3 may add encoder padding
    assert np.isfinite(y).all() and np.abs(y).max() > 0.1


@pytest.mark.parametrize("sr,channels,subtype", [(8000, 1, "PCM_16"), (44100, 2, "PCM_16"),
                                                 (96000, 1, "PCM_24"), (48000, 6, "PCM_16")])
def test_any_rate_and_channel_count_is_resampled_and_mixed(tmp_path, sr, channels, subtype):
    path = write_clip(tmp_path / "c.wav", "pop", seconds=3.5, sr=sr, channels=channels, subtype=subtype)
    info = audio_info(path)
    assert (info.samplerate, info.channels) == (sr, channels)
    y = load_audio(path)
    assert len(y) == pytest.approx(3.5 * 22050, abs=2)
    ref = sf.read(path, dtype="float32", always_2d=True)[0].mean(axis=1)
    import librosa

    direct = librosa.resample(ref, orig_sr=sr, target_sr=22050)
    if sr <= MAX_WORKING_RATE:  # kept at its own rate while streamed: one resampling, as librosa.load
        assert np.allclose(y, direct, atol=1e-6)
    else:  # streamed down to 48 kHz first: exactly two one-shot resamplings, and within -70 dB of one
        two = librosa.resample(librosa.resample(ref, orig_sr=sr, target_sr=MAX_WORKING_RATE),
                               orig_sr=MAX_WORKING_RATE, target_sr=22050)
        assert np.allclose(y, two, atol=1e-6)
        assert np.sqrt(np.mean((y - direct) ** 2)) < 3e-4 * np.sqrt(np.mean(direct ** 2))


def test_uploaded_bytes_decode_like_the_file(tmp_path):
    path = write_clip(tmp_path / "c.flac", "rock", seconds=3.2)
    assert np.array_equal(load_audio(path.read_bytes()), load_audio(path))


def test_max_seconds_limits_decoding(tmp_path):
    path = write_clip(tmp_path / "c.wav", "rock", seconds=8.0)
    assert len(load_audio(path, max_seconds=3.0)) == 3 * 22050


def test_empty_file_is_a_clear_error(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(AudioError, match="empty.wav: the file is empty"):
        load_audio(path)


def test_text_file_named_wav_is_a_clear_error(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("this is not audio\n" * 20)
    with pytest.raises(AudioError, match="notes.wav: not a readable audio file"):
        load_audio(path)


def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match="no such file"):
        load_audio(tmp_path / "nope.wav")
