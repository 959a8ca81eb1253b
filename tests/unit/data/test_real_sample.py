"""Real GTZAN material: the clips and Kaggle PNGs in ../shared/data/gtzan-real-sample
(read there, never copied into this repository; skipped when the folder is absent).
Eleven clips say nothing about accuracy: these tests check formats, names, pictures
and that the pipeline runs end to end on real files."""

import json
from pathlib import Path

import numpy as np
import pytest

from gtzan_core import GENRES
from tests.helpers import SHARED_DATA

SAMPLE = SHARED_DATA / "gtzan-real-sample"
pytestmark = pytest.mark.skipif(not (SAMPLE / "genres_original").is_dir(),
                                reason=f"real GTZAN sample not found at {SAMPLE}")

#: Below these the picture is not the Kaggle one (issue: "below 0.97 / 0.80 is not done").
MIN_WHOLE, MIN_INSIDE = 0.97, 0.80


@pytest.fixture(scope="module")
def real_dataset():
    from gtzan_core.data import discover_dataset

    return discover_dataset(SAMPLE)


def pairs():
    return [(g, SAMPLE / "genres_original" / g / f"{g}.00000.wav",
             SAMPLE / "images_original" / g / f"{g}00000.png") for g in GENRES]


def test_discovery_reads_the_real_kaggle_layout_and_names(real_dataset):
    ds = real_dataset
    assert ds.kind == "gtzan" and ds.layout == "kaggle" and not ds.is_synthetic
    assert len(ds.tracks) == 11 and set(ds.tracks.genre) == set(GENRES)
    with_png = ds.tracks.dropna(subset=["image_path"])
    assert len(with_png) == 10
    rock16 = ds.tracks.set_index("track_id").loc["rock.00016"]
    assert rock16.image_path is None or rock16.image_path != rock16.image_path  # no PNG: None / NaN
    for row in with_png.itertuples():  # each clip paired with its own PNG (Kaggle drops the dot)
        assert Path(row.image_path).name == row.track_id.replace(".", "") + ".png"
    assert 29.9 < ds.tracks.duration.min() and ds.tracks.duration.max() < 30.7


@pytest.mark.parametrize("genre,wav,png", pairs(), ids=list(GENRES))
def test_the_kaggle_style_matches_the_real_png(genre, wav, png):
    from gtzan_core.audio import load_audio
    from gtzan_core.features import MFCCParams, read_image_file, render_spectrogram_image
    from gtzan_core.spectrogram.similarity import similarity

    y = load_audio(wav)
    mine, kaggle = render_spectrogram_image(y), read_image_file(png)
    assert mine.shape == kaggle.shape == (288, 432, 3)
    for size in (224, 256):
        s = similarity(mine, kaggle, size)
        assert s.whole >= MIN_WHOLE and s.inside >= MIN_INSIDE, (genre, s)
    # the studio's first picture shares nothing with the PNG (the defect this style fixes)
    from gtzan_core.features import ImageParams

    old = render_spectrogram_image(y, MFCCParams(), ImageParams(style="fullbleed-v1"))
    assert similarity(old, kaggle, 224).whole < 0.5


@pytest.mark.parametrize("genre,wav,png", pairs()[:3], ids=list(GENRES)[:3])
def test_matplotlib_reference_is_close_to_the_real_png(genre, wav, png):
    """The librosa.display + matplotlib reference the benchmark times is the same picture."""
    pytest.importorskip("matplotlib")
    from gtzan_core.audio import load_audio
    from gtzan_core.features import read_image_file, render_spectrogram_image
    from gtzan_core.spectrogram.reference import render_reference
    from gtzan_core.spectrogram.similarity import similarity

    y = load_audio(wav)
    ref = render_reference(y)
    assert ref.shape == (288, 432, 3)
    assert similarity(ref, read_image_file(png), 224).whole > 0.95
    assert similarity(ref, render_spectrogram_image(y), 224).whole > 0.95


def test_features_cli_on_the_real_sample_renders_the_missing_png(capsys):
    from gtzan_core.cli import main

    assert main(["features", "--data", str(SAMPLE), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["tracks"] == 11 and out["extracted_tracks"] == 11 and out["failed"] == []
    assert out["image_sources"] == {"png": 10, "render": 1} and out["image_style"] == "kaggle"
    assert out["image_shape"] == [11, 224, 224, 3]


def test_the_missing_png_track_gets_a_kaggle_picture_like_the_others(real_dataset):
    from gtzan_core.feature_cache import load_features
    from gtzan_core.features import ImageParams
    from gtzan_core.spectrogram.similarity import _corr

    fs = load_features(real_dataset, image=ImageParams(size=224))
    tracks = fs.tracks.reset_index(drop=True)
    i16 = int(tracks.index[tracks.track_id == "rock.00016"][0])
    i00 = int(tracks.index[tracks.track_id == "rock.00000"][0])
    assert tracks.image_source[i16] == "render" and tracks.image_source[i00] == "png"
    # the drawn picture sits in the same frame as the PNG of another rock clip
    assert _corr(fs.samples("image")[0][i16], fs.samples("image")[0][i00]) > 0.9


def test_real_clips_train_and_predict_end_to_end(real_dataset, tmp_path, capsys):
    """Runs, not accuracy: a short CNN run on the eleven clips, then a prediction."""
    from gtzan_core.cli import main

    runs = tmp_path / "runs"
    assert main(["train", "cnn", "--data", str(SAMPLE), "--epochs", "2", "--device", "cpu", "--runs", str(runs),
                 "--protocol", "filtered"]) == 2  # the artist-filtered split of 11 tracks says nothing: refused
    err = capsys.readouterr().err
    assert "filtered split" in err and "no blues" in err
    assert main(["train", "cnn", "--data", str(SAMPLE), "--epochs", "2", "--device", "cpu", "--runs", str(runs),
                 "--protocol", "paper", "--allow-weak-split"]) == 0
    out = capsys.readouterr().out
    rid = out.split("run ")[1].split(":")[0]
    assert "WEAK SPLIT" in out
    assert main(["predict", str(SAMPLE / "genres_original" / "jazz" / "jazz.00000.wav"), "--run", rid,
                 "--runs", str(runs), "--json"]) == 0
    pred = json.loads(capsys.readouterr().out)
    probs = pred[rid]["probabilities"]
    assert len(probs) == 10 and abs(sum(probs.values()) - 1) < 1e-4


def test_image_models_paper_protocol_on_the_real_pngs(real_dataset, tmp_path):
    """The paper's image protocol (80:20 of images, seed 42) trains on the dataset's PNGs."""
    from gtzan_core.feature_cache import load_features
    from gtzan_core.models import image_params_for
    from gtzan_core.hparams import make_config
    from gtzan_core.jobs import train
    from gtzan_core.runs import RunStore

    fs = load_features(real_dataset, image=image_params_for("squeezenet"))
    record = train(make_config("squeezenet", protocol="paper", epochs=2, device="cpu"), fs, RunStore(tmp_path))
    assert record["status"] == "finished" and record["image_sources"] == {"png": 10, "render": 1}
    assert record["image_params"]["style"] == "kaggle" and record["image_params"]["size"] == 256
    assert record["split"]["monitor"] == "test" and record["split_warnings"]  # 11 tracks: said, not hidden
    assert np.isfinite(record["history"][-1]["train_loss"])
