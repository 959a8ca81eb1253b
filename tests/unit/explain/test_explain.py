"""Explanations: occlusion, Grad-CAM and the per-segment view, and whether they are
real (Adebayo et al. 2018 sanity checks; a planted cue found where it was planted)."""

import json

import numpy as np
import pytest
import soundfile as sf

from gtzan_core import GENRES
from gtzan_core.errors import AudioError, ConfigError
from gtzan_core.explain import explain
from gtzan_core.explain.occlusion import occlusion_map
from gtzan_core.explain.sanity import randomized_copy, rank_correlation
from gtzan_core.hparams import make_config
from gtzan_core.jobs import train
from gtzan_core.runs import RunStore
from tests.helpers import CUE, cue_clip, write_cue_set

SR = 22050


@pytest.fixture(scope="module")
def cue_run(tmp_path_factory):
    """A CNN trained on a set whose two genres differ only in a time span."""
    from gtzan_core.data import discover_dataset
    from gtzan_core.feature_cache import load_features
    from gtzan_core.features import ImageParams

    base = tmp_path_factory.mktemp("cue")
    rng = write_cue_set(base / "data")
    fs = load_features(discover_dataset(base / "data"), image=ImageParams(source="none"), cache_dir=base / "f")
    store = RunStore(base / "runs")
    record = train(make_config("cnn", recipe="studio", epochs=12, patience=12, device="cpu", seed=1), fs, store)
    assert record["evaluation"]["segment"]["accuracy"] >= 0.9, record["evaluation"]["segment"]["accuracy"]
    return store, record["run_id"], rng


def test_occlusion_finds_the_planted_time_span(cue_run):
    store, rid, rng = cue_run
    ex = explain(cue_clip(rng, rock=True), rid, store, genre="rock", methods=("occlusion", "gradcam", "segments"))
    assert GENRES[ex.predicted] == "rock"
    occ = ex.maps["occlusion"]
    assert occ.values.shape == (13, 2 * 130) and occ.band_unit == "MFCC coefficient"
    start, end = occ.top_time
    in_segment = start % 3.0
    assert CUE[0] - 0.3 <= in_segment <= CUE[1] - 0.5, occ.top_time  # the top 1 s span sits on the cue
    over_time = np.clip(occ.values, 0, None).sum(0)
    t = occ.times % 3.0
    inside = (t >= CUE[0]) & (t < CUE[1])
    assert over_time[inside].mean() > 3 * over_time[~inside].mean()
    assert "gradcam" in ex.maps and ex.maps["gradcam"].values.shape == (13, 260)
    assert ex.maps["segments"].values.shape == (1, 2)


def test_maps_of_a_rerandomised_model_differ(cue_run):
    """Adebayo et al.'s model-randomisation test: trained vs re-initialised weights.

    Occlusion passes it clearly. Grad-CAM on this small CNN only partly does: its map
    keeps some of the input's structure under random weights (rank correlation
    0.4-0.8 over seeds here), but only the trained model's map sits on the cue."""
    from gtzan_core.explain.gradcam import gradcam_map
    from gtzan_core.explain.inputs import model_input
    from gtzan_core.inference import load_run_model

    store, rid, rng = cue_run
    model, meta = load_run_model(store, rid)
    inp = model_input(cue_clip(rng, rock=True), meta, "mfcc")
    rock = GENRES.index("rock")
    trained = occlusion_map(model, inp)[rock]
    assert rank_correlation(trained, trained) == pytest.approx(1.0)
    frame_t = (np.arange(130) * 512 / SR) % 3.0
    inside = (frame_t >= CUE[0]) & (frame_t < CUE[1])

    def on_cue(cam):  # how much more of the map lies on the cue than off it
        profile = cam.sum(2).mean(0)
        return profile[inside].mean() / profile[~inside].mean()

    cam = gradcam_map(model, "cnn", inp, rock)
    occ_corr, cam_corr, cam_cue = [], [], []
    for seed in range(3):
        random_model = randomized_copy(model, seed)
        occ_corr.append(rank_correlation(trained, occlusion_map(random_model, inp)[rock]))
        random_cam = gradcam_map(random_model, "cnn", inp, rock)
        cam_corr.append(rank_correlation(cam, random_cam))
        cam_cue.append(on_cue(random_cam))
    assert max(occ_corr) < 0.5, occ_corr
    assert np.mean(cam_corr) < 0.85, cam_corr
    assert on_cue(cam) > 2.0 and on_cue(cam) > max(cam_cue) + 0.3, (on_cue(cam), cam_cue)


def test_occlusion_is_batched(cue_run, monkeypatch):
    """All occluded copies go through the model in a few large forward passes."""
    from gtzan_core.explain.inputs import model_input
    from gtzan_core.inference import load_run_model

    store, rid, rng = cue_run
    model, meta = load_run_model(store, rid)
    inp = model_input(cue_clip(rng, rock=True), meta, "mfcc")
    calls = []
    model.register_forward_hook(lambda m, i, o: calls.append(len(i[0])))
    occlusion_map(model, inp, batch=256)
    assert sum(calls) == 2 + 2 * 13 * 5 and len(calls) <= 3  # base + 65 patches per segment


def test_image_model_explanations(tiny_features_for, tmp_path):
    from tests.helpers import write_clip

    store = RunStore(tmp_path / "runs")
    rid = train(make_config("squeezenet", epochs=1, device="cpu"), tiny_features_for("squeezenet"), store)["run_id"]
    clip = write_clip(tmp_path / "song.wav", "metal", seconds=12.0)
    ex = explain(clip, rid, store, genre="jazz")
    assert GENRES[ex.genre] == "jazz" and ex.kind == "image" and ex.display.shape == (256, 256, 3)
    occ, cam = ex.maps["occlusion"], ex.maps["gradcam"]
    # the maps cover the Kaggle picture's plot box (the clip), not its white margin
    from gtzan_core.spectrogram.similarity import box_at

    rows, cols = box_at(256)
    box = (rows.stop - rows.start, cols.stop - cols.start)
    assert occ.values.shape == cam.values.shape == box and occ.band_unit == "Hz"
    assert 0 <= occ.top_time[0] < occ.top_time[1] <= 30.5 and 0 < occ.top_band[0] < occ.top_band[1] <= 11025
    assert 0 <= cam.values.min() and cam.values.max() <= 1.0 + 1e-6
    json.dumps(ex.as_dict())


def test_explain_cli_json_and_errors(cue_run, tmp_path, capsys):
    from gtzan_core.cli import main

    store, rid, rng = cue_run
    clip = tmp_path / "cue.wav"
    sf.write(clip, cue_clip(rng, rock=True), SR)
    assert main(["explain", str(clip), "--run", rid, "--runs", str(store.root), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["predicted"] == "rock" and set(out["methods"]) == {"occlusion", "gradcam", "segments"}
    assert out["methods"]["occlusion"]["shape"] == [13, 260]
    assert len(out["methods"]["occlusion"]["top_time_span_s"]) == 2
    assert out["methods"]["occlusion"]["top_band"]["unit"] == "MFCC coefficient"
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio")
    short = tmp_path / "short.wav"
    sf.write(short, np.zeros(SR), SR)
    for path, message in ((bad, "notes.wav: not a readable audio file"), (short, "short.wav: clip is 1.0 s long")):
        assert main(["explain", str(path), "--run", rid, "--runs", str(store.root), "--json"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    assert main(["explain", str(clip), "--run", rid, "--runs", str(store.root), "--genre", "polka"]) == 2
    assert "unknown genre 'polka'" in capsys.readouterr().err


def test_unknown_method_is_refused(cue_run):
    store, rid, rng = cue_run
    with pytest.raises(ConfigError, match="unknown explanation method"):
        explain(cue_clip(rng, True), rid, store, methods=("lime",))
    with pytest.raises(AudioError):
        explain(np.zeros(100, np.float32), rid, store)
