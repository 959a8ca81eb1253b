"""The bad-input corpus: every case through the CLI and the app's Predict page.

Each case gets a correct result or a clear message naming the problem: the CLI
exits 2 with an ``error:`` line and no traceback; the app shows ``st.error`` and
stays usable.
"""

import json
import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from streamlit.testing.v1 import AppTest

from gtzan_core.cli import main
from gtzan_core.features import MFCCParams
from gtzan_core.hparams import make_config
from gtzan_core.jobs import train
from gtzan_core.runs import RunStore
from tests.helpers import ROOT, make_gtzan, write_bomb, write_clip


def _lying_header(path: Path) -> Path:
    data = bytearray(write_clip(path, "rock", 8.0).read_bytes())
    i = data.find(b"data")
    n = struct.unpack("<I", data[i + 4:i + 8])[0]
    data[i + 4:i + 8] = struct.pack("<I", n * 10)  # claims ten times the samples it has
    path.write_bytes(bytes(data))
    return path


def _truncated(path: Path) -> Path:
    data = write_clip(path, "rock", 12.0).read_bytes()
    path.write_bytes(data[: len(data) // 2])  # cut mid-stream: 6 s left
    return path


def _sample_rate(path: Path, rate: int) -> Path:
    """A WAV whose header claims ``rate`` Hz (the samples are ordinary noise)."""
    y = (np.random.default_rng(0).standard_normal(600) * 0.1).astype(np.float32)
    sf.write(path, y, 22050, subtype="PCM_16")
    data = bytearray(path.read_bytes())
    i = data.find(b"fmt ") + 8
    data[i + 4:i + 8] = struct.pack("<I", rate)
    data[i + 8:i + 12] = struct.pack("<I", rate * 2)  # byte rate
    path.write_bytes(bytes(data))
    return path


def _channels(path: Path, channels: int) -> Path:
    sf.write(path, (np.random.default_rng(0).standard_normal((22050 * 4, channels)) * 0.1).astype(np.float32),
             22050, subtype="PCM_16")
    return path


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _folder(path: Path) -> Path:
    path.mkdir()
    write_clip(path / "track.wav", "rock", 4.0)
    return path


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _silence(path: Path) -> Path:
    sf.write(path, np.zeros(22050 * 5, np.float32), 22050)
    return path


def _square(path: Path) -> Path:
    t = np.arange(22050 * 6)
    sf.write(path, np.where((t // 50) % 2 == 0, 1.0, -1.0).astype(np.float32), 22050, subtype="PCM_16")
    return path


# name -> (builder(tmp_dir) -> path, expected: "ok" or the error text, expected warning or None)
AUDIO_CASES = {
    "empty": (lambda d: _write(d / "empty.wav", b""), "empty.wav: the file is empty", None),
    "text named wav": (lambda d: _write(d / "notes.wav", b"not audio\n" * 50), "notes.wav: not a readable audio file", None),
    "truncated wav": (lambda d: _truncated(d / "cut.wav"), "ok",
                      "cut.wav ends early: its header says 12.0 s, only 6.0 s are there"),
    "lying header": (lambda d: _lying_header(d / "liar.wav"), "ok",
                     "liar.wav ends early: its header says 80.0 s, only 8.0 s are there"),
    "truncated mp3": (lambda d: _truncated(d / "cut.mp3"), "ok", "cut.mp3 ends early"),
    "1 Hz header": (lambda d: _sample_rate(d / "onehz.wav", 1),
                    "onehz.wav: sample rate 1 Hz is outside what the studio accepts (4000–384000 Hz)", None),
    "1 MHz header": (lambda d: _sample_rate(d / "mega.wav", 1_000_000),
                     "mega.wav: sample rate 1000000 Hz is outside", None),
    # a folder is predicted file by file (predict FOLDER); a demo-set run enters no answer
    "a folder": (lambda d: _folder(d / "album.wav"), "no file was answered (1 skipped; the first: ", None),
    "a FIFO": (lambda d: _fifo(d / "song.wav"), "song.wav: is a FIFO (named pipe), not a regular file", None),
    "HTML named mp3": (lambda d: _write(d / "song.mp3", b"<!DOCTYPE html>\n<html><body>Sign in</body></html>\n"),
                       "song.mp3: not a readable audio file: it looks like an HTML page, not audio", None),
    "9 channels": (lambda d: _channels(d / "nine.wav", 9),
                   "nine.wav: 9 channels, more than the studio decodes (at most 8)", None),
    "8 channels at 384 kHz": (lambda d: write_bomb(d / "bomb.flac", seconds=5.0), "ok", None),
    "0.5 s clip": (lambda d: write_clip(d / "tiny.wav", "pop", 0.5),
                   "tiny.wav: clip is 0.5 s long; at least 1.5 s is needed", None),
    "1.6 s clip": (lambda d: write_clip(d / "short.wav", "pop", 1.6), "ok", "1.6 s long, under one 3 s segment"),
    "2.9 s clip": (lambda d: write_clip(d / "short.wav", "pop", 2.9), "ok", "repeat-padded to one"),
    "silence": (lambda d: _silence(d / "silence.wav"), "ok", "the clip is silent"),
    "full-scale square": (lambda d: _square(d / "square.wav"), "ok", "clipped at full scale"),
    "10 minutes": (lambda d: write_clip(d / "long.flac", "metal", 600.0), "ok", None),
    "8 kHz": (lambda d: write_clip(d / "phone.wav", "jazz", 5.0, sr=8000), "ok", None),
    "96 kHz 24-bit": (lambda d: write_clip(d / "hires.wav", "jazz", 5.0, sr=96000, subtype="PCM_24"), "ok", None),
    "6 channels": (lambda d: write_clip(d / "surround.wav", "jazz", 5.0, sr=48000, channels=6), "ok", None),
    "mp3": (lambda d: write_clip(d / "a.mp3", "disco", 5.0), "ok", None),
    "ogg": (lambda d: write_clip(d / "a.ogg", "disco", 5.0), "ok", None),
    "flac": (lambda d: write_clip(d / "a.flac", "disco", 5.0), "ok", None),
    "au": (lambda d: write_clip(d / "a.au", "disco", 5.0), "ok", None),
    "spaces and unicode": (lambda d: write_clip(d / "my sóng ♫ (live).wav", "blues", 5.0), "ok", None),
}


@pytest.fixture(scope="module")
def runs(tiny_features, tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    store = RunStore(root)
    rid = train(make_config("cnn", epochs=1, device="cpu"), tiny_features, store)["run_id"]
    return root, rid


def cli(capsys, *argv):
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def error_line(err: str) -> str:
    lines = [l for l in err.strip().splitlines() if l.startswith("error: ")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.heavy) if c == "10 minutes" else c
                                  for c in AUDIO_CASES])
def test_predict_cli(case, runs, tmp_path, capsys):
    build, expected, warning = AUDIO_CASES[case]
    path = build(tmp_path)
    root, rid = runs
    code, out, err = cli(capsys, "predict", path, "--run", rid, "--runs", root, "--json")
    if expected == "ok":
        assert code == 0, err
        res = json.loads(out)[rid]
        assert sum(res["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
        assert all(np.isfinite(list(res["probabilities"].values())))
        if warning:
            assert warning in err
    else:
        assert code == 2 and out == ""
        assert expected in error_line(err)


@pytest.mark.parametrize("case", ["empty", "text named wav", "2.9 s clip", "silence", "6 channels", "lying header",
                                  "1 Hz header", "HTML named mp3", "9 channels", "8 channels at 384 kHz"])
def test_predict_page(case, runs, tmp_path, monkeypatch):
    build, expected, warning = AUDIO_CASES[case]
    path = build(tmp_path)
    root, rid = runs
    monkeypatch.setenv("GTZAN_STUDIO_RUNS", str(root))
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page("pages/predict.py")
    at.run()
    at.file_uploader[0].set_value((path.name, path.read_bytes(), "audio/wav")).run()
    assert not at.exception
    errors = [e.value for e in at.error]
    if expected == "ok":
        assert not errors and any(s.value == "Genre probabilities" for s in at.subheader)
        if warning:
            assert any(warning in w.value.lower() for w in at.warning)
    else:
        assert any(expected in e for e in errors), errors
    # still usable: a good file right after works
    good = write_clip(tmp_path / "good.wav", "rock", 4.0)
    at.file_uploader[0].set_value(("good.wav", good.read_bytes(), "audio/wav")).run()
    assert not at.exception and not at.error
    assert any(s.value == "Genre probabilities" for s in at.subheader)


def test_a_name_with_a_newline_stays_on_one_line(runs, tmp_path, capsys):
    path = write_clip(tmp_path / "two\nlines.wav", "rock", 4.0)
    root, rid = runs
    code, out, err = cli(capsys, "predict", path, "--run", rid, "--runs", root)
    assert code == 0, err
    assert out.splitlines()[0].startswith("two\\nlines.wav: 4.0 s")
    code, out, err = cli(capsys, "predict", tmp_path / "gone\nfile.wav", "--run", rid, "--runs", root)
    assert code == 2 and "gone\\nfile.wav: no such file" in error_line(err)


# ---------------------------------------------------------------------------- datasets


def _no_genres(d):
    (d / "music").mkdir(parents=True)
    write_clip(d / "music" / "song.wav", "rock", 4.0)


def _unknown_genre(d):
    make_gtzan(d, per_genre=1, seconds=3.5, genres=("blues", "rock"))
    write_clip(d / "genres_original" / "polka" / "polka.00000.wav", "pop", 3.5)


def _empty_genre(d):
    make_gtzan(d, per_genre=4, seconds=6.2)
    shutil.rmtree(d / "genres_original" / "metal")
    (d / "genres_original" / "metal").mkdir()


def _duplicates(d):
    make_gtzan(d, per_genre=4, seconds=6.2)
    src = d / "genres_original" / "rock" / "rock.00000.wav"
    shutil.copy(src, d / "genres_original" / "rock" / "rock.00000.flac.wav")  # same content, other name
    write_clip(d / "genres_original" / "rock" / "rock.00001.au", "rock", 6.2)  # same id, other format


def _absurd_rate(d):
    make_gtzan(d, per_genre=4, seconds=6.2)
    _sample_rate(d / "genres_original" / "rock" / "rock.00007.wav", 1)


def _nine_channels(d):
    make_gtzan(d, per_genre=4, seconds=6.2)
    _channels(d / "genres_original" / "rock" / "rock.00007.wav", 9)


def _pictures_only(d):
    make_gtzan(d, per_genre=4, seconds=6.2, images=True)
    shutil.rmtree(d / "genres_original")


DATASET_CASES = {
    "no genre folders": (_no_genres, "no GTZAN layout found"),
    "a 1 Hz file": (_absurd_rate, "ok"),
    "a 9-channel file": (_nine_channels, "ok"),
    "unknown genre folder": (_unknown_genre, "unknown genre folder(s) 'polka'"),
    "one genre empty": (_empty_genre, "ok"),
    "duplicate files": (_duplicates, "ok"),
}


@pytest.mark.parametrize("case", list(DATASET_CASES))
@pytest.mark.parametrize("command", ["features", "train"])
def test_dataset_folders(case, command, tmp_path, capsys):
    build, expected = DATASET_CASES[case]
    data = tmp_path / "data"
    build(data)
    argv = ["features", "--data", data] if command == "features" else \
        ["train", "mlp", "--data", data, "--epochs", "1", "--device", "cpu", "--runs", tmp_path / "runs",
         "--allow-weak-split"]
    code, out, err = cli(capsys, *argv)
    if expected != "ok":
        assert code == 2 and expected in error_line(err)
        return
    assert code == 0, err
    if case == "one genre empty" and command == "features":
        assert "warning: genre 'metal' has no usable tracks" in out
    if case == "a 1 Hz file" and command == "features":
        assert "rock.00007.wav: sample rate 1 Hz is outside what the studio accepts" in out
    if case == "a 9-channel file" and command == "features":
        assert "rock.00007.wav: 9 channels, more than the studio decodes (at most 8)" in out
    if case == "duplicate files" and command == "features":
        assert "genres_original/rock/rock.00001.wav: duplicate of genres_original/rock/rock.00001.au" in out
        assert "genres_original/rock/rock.00000.flac.wav: identical to genres_original/rock/rock.00000.wav" in out


def test_a_folder_of_pictures_only_trains_image_models_and_refuses_audio_models(tmp_path, capsys):
    data = tmp_path / "data"
    _pictures_only(data)
    code, out, err = cli(capsys, "features", "--data", data)
    assert code == 0, err
    assert "tracks: 40   segments: 0" in out and "pictures only (no audio)" in out
    for model in ("mlp", "musicnn"):
        code, out, err = cli(capsys, "train", model, "--data", data, "--epochs", "1", "--device", "cpu",
                             "--runs", tmp_path / "runs", "--no-pretrained")
        assert code == 2 and "no audio (pictures only): only the image models can train on it" in error_line(err)
    code, out, err = cli(capsys, "train", "squeezenet", "--data", data, "--epochs", "1", "--device", "cpu",
                         "--runs", tmp_path / "runs", "--allow-weak-split")
    assert code == 0, err
    assert "test image   accuracy" in out


# ---------------------------------------------------------------------------- checkpoints


class Exploit:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ['EXPLOIT_MARKER']}",))


def _not_a_checkpoint(store, rid):
    store.checkpoint_path(rid).write_bytes(os.urandom(2048))


def _cut_checkpoint(store, rid):
    path = store.checkpoint_path(rid)
    path.write_bytes(path.read_bytes()[:-300])  # a copy cut short: the zip's end is gone


def _other_config(store, rid):
    ck = store.load_checkpoint(rid)
    store.save_checkpoint(rid, ck["state_dict"], {**ck["meta"], "mfcc_params": MFCCParams(n_mfcc=20).as_dict()})


def _pickled_code(store, rid):
    torch.save({"format": 1, "meta": {"model": "cnn"}, "state_dict": {}, "x": Exploit()}, store.checkpoint_path(rid))


CHECKPOINT_CASES = {
    "not a checkpoint": (_not_a_checkpoint, "model.pt is not a checkpoint (not a PyTorch file)"),
    "truncated": (_cut_checkpoint, "model.pt is truncated or damaged ("),
    "another feature config": (_other_config, "was trained with different feature parameters: n_mfcc=20 (here 13)"),
    "pickled object": (_pickled_code, "refused to load: it holds a pickled object (posix.system)"),
}


@pytest.mark.parametrize("case", list(CHECKPOINT_CASES))
def test_bad_checkpoints(case, runs, tmp_path, capsys, monkeypatch):
    marker = tmp_path / "pwned"
    monkeypatch.setenv("EXPLOIT_MARKER", str(marker))
    root, rid = runs
    copy_root = tmp_path / "runs"
    shutil.copytree(root, copy_root)
    store = RunStore(copy_root)
    build, expected = CHECKPOINT_CASES[case]
    build(store, rid)
    clip = write_clip(tmp_path / "c.wav", "rock", 4.0)
    code, out, err = cli(capsys, "predict", clip, "--run", rid, "--runs", copy_root)
    assert code == 2 and expected in error_line(err)
    assert f"run {rid}" in error_line(err)  # which run, not only which file
    assert not marker.exists()
    # the app's Predict page says the same and stays up
    monkeypatch.setenv("GTZAN_STUDIO_RUNS", str(copy_root))
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page("pages/predict.py")
    at.run()
    at.file_uploader[0].set_value(("c.wav", clip.read_bytes(), "audio/wav")).run()
    assert not at.exception and any(expected in e.value for e in at.error)
    assert not marker.exists()


def test_upload_limits_are_configured():
    """Streamlit refuses uploads over maxUploadSize (MB) before our code runs; decoding is capped too."""
    import tomllib

    from gtzan_core.inference import MAX_PREDICT_SECONDS

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == 50 and config["server"]["headless"] is True
    assert MAX_PREDICT_SECONDS == 600
