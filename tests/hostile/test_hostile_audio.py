"""Bounded decoding (issue 30): a file's header is checked before a sample is read, the
samples are streamed so that memory follows the decoded clip (mono, ≤ 48 kHz, ≤ 10
minutes) and not what the file declares, a server decodes one upload at a time, and a
FIFO, a device or an HTML page named like audio is named for what it is."""

from __future__ import annotations

import io
import os
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gtzan_core import audio
from gtzan_core.audio import MAX_CHANNELS, MAX_DECODE_SECONDS, MAX_WORKING_RATE, audio_info, decode_audio, decoding_turn
from gtzan_core.errors import AudioError
from tests.helpers import decode_growth, write_bomb, write_clip


class CountingReads:
    """Wraps ``soundfile.SoundFile.read``: how many calls, and how many frames they returned."""

    def __init__(self, monkeypatch):
        self.calls, self.frames = 0, 0
        real = sf.SoundFile.read

        def read(f, *args, **kwargs):
            out = real(f, *args, **kwargs)
            self.calls += 1
            self.frames += len(out)
            return out

        monkeypatch.setattr(sf.SoundFile, "read", read)


# -- 1. the header first ---------------------------------------------------------------------------------------------


def test_more_channels_than_the_limit_is_refused_from_the_header_before_a_sample_is_read(tmp_path, monkeypatch):
    path = tmp_path / "many.wav"  # FLAC stops at 8 channels; WAV goes to 65,535
    sf.write(path, np.zeros((4000, MAX_CHANNELS + 1), np.float32), 44100)
    reads = CountingReads(monkeypatch)
    expected = f"many.wav: {MAX_CHANNELS + 1} channels, more than the studio decodes (at most {MAX_CHANNELS})"
    with pytest.raises(AudioError) as exc:
        decode_audio(path)
    assert str(exc.value) == expected and "\n" not in str(exc.value)
    with pytest.raises(AudioError, match="more than the studio decodes"):
        audio_info(path)  # what dataset discovery asks: the same refusal
    assert reads.calls == 0
    sf.write(path, np.zeros((4000, MAX_CHANNELS), np.float32), 44100)  # at the limit: decoded
    assert decode_audio(path).sr == 44100


def test_a_file_longer_than_10_minutes_is_cut_there_and_the_rest_never_read(tmp_path, monkeypatch):
    path = tmp_path / "long.wav"
    sr = 8000
    with sf.SoundFile(path, "w", sr, 1, subtype="PCM_16") as f:
        for _ in range(int(MAX_DECODE_SECONDS / 60) + 2):  # 12 minutes
            f.write(np.full(60 * sr, 0.1, np.float32))
    reads = CountingReads(monkeypatch)
    decoded = decode_audio(path)
    assert decoded.duration == MAX_DECODE_SECONDS and decoded.continues
    assert reads.frames == MAX_DECODE_SECONDS * sr + 1  # the limit, and one frame to tell that the file goes on
    assert decoded.warnings == ["long.wav is longer than 10 minutes: only its first 10 minutes were decoded"]
    # a caller that asks for less gets that, without the warning (it cut the clip itself)
    short = decode_audio(path, max_seconds=5.0)
    assert short.duration == 5.0 and short.continues and short.warnings == []
    # exactly the limit: nothing left over, nothing to say
    sf.write(path, np.full(int(MAX_DECODE_SECONDS * sr), 0.1, np.float32), sr, subtype="PCM_16")
    exact = decode_audio(path)
    assert not exact.continues and exact.duration == MAX_DECODE_SECONDS and exact.warnings == []


# -- 2. streamed: the same samples, memory of the output ------------------------------------------------------------


@pytest.mark.parametrize("name,sr,channels,subtype", [("a.wav", 44100, 2, "PCM_16"), ("a.flac", 48000, 6, "PCM_24"),
                                                      ("a.ogg", 44100, 2, "VORBIS"), ("a.mp3", 44100, 2, None),
                                                      ("a.au", 22050, 3, "PCM_16")])
def test_streaming_in_small_blocks_gives_the_whole_file_reads_samples(tmp_path, monkeypatch, name, sr, channels,
                                                                      subtype):
    path = write_clip(tmp_path / name, "jazz", seconds=4.0, sr=sr, channels=channels,
                      **({"subtype": subtype} if subtype else {}))
    whole = sf.read(path, dtype="float32", always_2d=True)[0].mean(axis=1)
    monkeypatch.setattr(audio, "BLOCK_SAMPLES", 3001 * channels)  # dozens of blocks, an odd size
    decoded = decode_audio(path)
    assert decoded.sr == sr
    assert np.array_equal(decoded.y, whole)  # bit for bit below 8 channels


def test_eight_channels_mix_to_the_channel_mean(tmp_path, monkeypatch):
    path = write_clip(tmp_path / "a.wav", "jazz", seconds=2.0, sr=32000, channels=8, subtype="FLOAT")
    whole = sf.read(path, dtype="float32", always_2d=True)[0].mean(axis=1)
    monkeypatch.setattr(audio, "BLOCK_SAMPLES", 2000 * 8)
    assert np.allclose(decode_audio(path).y, whole, atol=1e-7)


def test_above_48_khz_the_stream_is_resampled_block_by_block_as_a_one_shot_resampling_would(tmp_path, monkeypatch):
    import librosa

    path = write_clip(tmp_path / "hires.flac", "pop", seconds=3.0, sr=192000, channels=4, subtype="PCM_24")
    whole = sf.read(path, dtype="float32", always_2d=True)[0].mean(axis=1)
    monkeypatch.setattr(audio, "BLOCK_SAMPLES", 40000 * 4)  # 15 blocks
    decoded = decode_audio(path)
    assert decoded.sr == MAX_WORKING_RATE
    one_shot = librosa.resample(whole, orig_sr=192000, target_sr=MAX_WORKING_RATE)
    assert len(decoded.y) == len(one_shot)
    assert np.allclose(decoded.y, one_shot, atol=1e-6)


def test_nan_samples_are_refused_in_the_block_they_are_in(tmp_path, monkeypatch):
    y = np.zeros((20000, 2), np.float32)
    y[15000, 1] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, y, 22050, subtype="FLOAT")
    monkeypatch.setattr(audio, "BLOCK_SAMPLES", 4000 * 2)
    reads = CountingReads(monkeypatch)
    with pytest.raises(AudioError, match="nan.wav: the audio contains NaN or infinite samples"):
        decode_audio(path)
    assert reads.frames == 16000  # stopped at the fourth block of 4000, the rest never read


def _output_mb(seconds: float) -> float:
    """What the decoded clip takes: mono float32 at the working rate, and at 22.05 and 16 kHz."""
    return seconds * (MAX_WORKING_RATE + 22050 + 16000) * 4 / 2 ** 20


@pytest.mark.heavy
@pytest.mark.parametrize("suffix,seconds", [(".flac", 20.0), (".wav", 8.0)])
def test_peak_memory_follows_the_output_not_the_files_channels_and_rate(tmp_path, suffix, seconds):
    """8 channels at 384 kHz: the raw float32 samples are 98 MB a second; the decode's peak
    growth must stay within a few blocks of the clip it returns."""
    path = write_bomb(tmp_path / f"bomb{suffix}", seconds=seconds)
    raw_mb = 8 * 384000 * seconds * 4 / 2 ** 20
    got = decode_growth(path)
    assert got["message"] is None and got["seconds"] == pytest.approx(seconds, abs=1e-3)
    assert got["growth_mb"] < 32 + 2 * _output_mb(seconds), got
    assert got["growth_mb"] < raw_mb / 5, got


# -- 3. one decode at a time per server -------------------------------------------------------------------------------


class Flag:
    """A context manager that sets ``entered`` when a decode starts waiting for its turn."""

    def __init__(self):
        self.entered = threading.Event()

    def __call__(self):
        return self

    def __enter__(self):
        self.entered.set()

    def __exit__(self, *exc):
        return False


def test_a_second_decode_waits_for_the_first_and_then_runs(tmp_path):
    path = write_clip(tmp_path / "a.wav", "rock", seconds=2.0)
    waiting, done, result = Flag(), threading.Event(), {}

    def second():
        with decoding_turn(waiting=waiting):
            result["decoded"] = decode_audio(path)
        done.set()

    with decoding_turn():  # the first decode holds the turn
        worker = threading.Thread(target=second)
        worker.start()
        assert waiting.entered.wait(30)  # the second is waiting for its turn ...
        assert not done.is_set()  # ... and cannot have decoded: the turn is held here
    assert done.wait(30)  # released: it ran
    worker.join(30)
    assert result["decoded"].duration == pytest.approx(2.0)
    free = Flag()
    with decoding_turn(waiting=free):  # free again: taken without waiting
        assert not free.entered.is_set()


def test_the_predict_pages_upload_decode_takes_the_servers_turn(tmp_path, monkeypatch):
    """Predict decodes every upload through ``decode_upload``: it waits for the turn, under
    a spinner saying why (Streamlit's spinner is replaced by one that records it)."""
    from gtzan_core.webapp import uploads

    shown, spinning = [], threading.Event()

    class Spinner:
        def __init__(self, text):
            shown.append(text)

        def __enter__(self):
            spinning.set()

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(uploads.st, "spinner", Spinner)
    data = write_clip(tmp_path / "a.flac", "rock", seconds=2.0).read_bytes()
    done, result = threading.Event(), {}

    def upload():
        result["decoded"] = uploads.decode_upload(data, "a.flac")
        done.set()

    with decoding_turn():  # another upload is being decoded
        worker = threading.Thread(target=upload)
        worker.start()
        assert spinning.wait(30) and not done.is_set()
    assert done.wait(30)
    worker.join(30)
    assert shown == [uploads.WAITING] and result["decoded"].name == "a.flac"
    assert result["decoded"].duration == pytest.approx(2.0)
    uploads.decode_upload(data, "a.flac")  # the turn is free: no spinner
    assert shown == [uploads.WAITING]


# -- 4. what a file really is -----------------------------------------------------------------------------------------


def test_a_fifo_named_like_audio_is_called_a_fifo_and_never_opened(tmp_path):
    fifo = tmp_path / "song.wav"
    os.mkfifo(fifo)  # opening it would block until a writer came: the message comes first
    with pytest.raises(AudioError) as exc:
        decode_audio(fifo)
    assert str(exc.value) == f"{fifo}: is a FIFO (named pipe), not a regular file"
    with pytest.raises(AudioError, match="is a FIFO"):
        audio_info(fifo)


def test_a_device_is_called_a_device(tmp_path):
    if not Path("/dev/null").exists():
        pytest.skip("no /dev/null here")
    with pytest.raises(AudioError, match=r"^/dev/null: is a device \(character special file\), not a regular file$"):
        decode_audio("/dev/null")
    with pytest.raises(AudioError, match=r": no such file$"):
        decode_audio(tmp_path / "gone.wav")


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("song.mp3", b"x" * 100)
    return buf.getvalue()


def _png() -> bytes:
    import cv2

    return cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))[1].tobytes()


NOT_AUDIO = {
    "HTML page": (b"<!DOCTYPE html>\n<html><head><title>Song</title></head><body>Download</body></html>\n" * 20,
                  "an HTML page"),
    "HTML without a doctype": (b"\n  <html lang='en'><body>404 Not Found</body></html>", "an HTML page"),
    "zip": (_zip(), "a zip archive"),
    "PNG": (_png(), "a PNG picture"),
    "JSON": (b'{"title": "song", "url": "https://example.org/song.mp3"}', "JSON text"),
    "text": ("la la la, the lyrics ♫\n".encode() * 300, "a text file"),
}


@pytest.mark.parametrize("case", list(NOT_AUDIO))
@pytest.mark.parametrize("as_bytes", [False, True])
def test_plain_non_audio_named_mp3_is_named_for_what_it_is_without_decoder_noise(case, as_bytes, tmp_path, capfd):
    data, what = NOT_AUDIO[case]
    path = tmp_path / "song.mp3"
    path.write_bytes(data)
    source = data if as_bytes else path
    with pytest.raises(AudioError) as exc:
        decode_audio(source)
    name = "uploaded audio" if as_bytes else "song.mp3"
    assert str(exc.value) == f"{name}: not a readable audio file: it looks like {what}, not audio"
    err = capfd.readouterr().err
    assert "Illegal Audio-MPEG-Header" not in err and "possibly a pipe" not in str(exc.value)


def test_real_audio_is_never_taken_for_something_else(tmp_path):
    for suffix in (".wav", ".au", ".flac", ".ogg", ".mp3"):
        path = write_clip(tmp_path / f"c{suffix}", "blues", seconds=1.6)
        assert audio.not_audio(path.read_bytes()[: audio.SNIFF_BYTES]) is None, suffix


def test_an_unknown_binary_format_no_longer_says_possibly_a_pipe(tmp_path):
    path = tmp_path / "noise.mp3"
    path.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(AudioError) as exc:
        decode_audio(path)
    assert str(exc.value).startswith("noise.mp3: not a readable audio file (") and "pipe" not in str(exc.value)
