import json

import numpy as np
import pytest
import torch

from gtzan_core import GENRES
from gtzan_core.errors import AudioError
from gtzan_core.features import MFCCParams
from gtzan_core.hparams import make_config
from gtzan_core.inference import clear_model_cache, load_run_model, predict
from gtzan_core.jobs import train
from gtzan_core.runs import RunRecord, RunStore
from tests.helpers import write_clip


@pytest.fixture(scope="module")
def trained(tiny_features_for, tmp_path_factory):
    store = RunStore(tmp_path_factory.mktemp("runs"))
    ids = {}
    for name in ("cnn", "lstm", "squeezenet"):
        rec = train(make_config(name, epochs=2, device="cpu"), tiny_features_for(name), store)
        ids[name] = rec["run_id"]
    return store, ids


def test_predict_with_every_run(trained, tmp_path):
    store, ids = trained
    clip = write_clip(tmp_path / "song.wav", "metal", seconds=40.0)
    pred = predict(clip, store=store)
    assert set(pred.results) == set(ids.values()) and not pred.refused
    cnn = pred.results[ids["cnn"]]
    assert cnn.unit == "segment" and cnn.segment_probs.shape == (13, 10)  # 40 s -> 13 whole segments
    np.testing.assert_allclose(cnn.segment_probs.sum(1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(cnn.probs, cnn.segment_probs.mean(0), rtol=1e-6)
    assert cnn.top in GENRES and cnn.dataset == "synthetic demo"
    sq = pred.results[ids["squeezenet"]]
    assert sq.unit == "window" and sq.segment_probs.shape == (2, 10) and sq.starts.tolist() == [0.0, 30.0]
    # each row's real place in the clip: the last picture is the clip's last 10 s (zero-padded to a window)
    assert sq.ends.tolist() == [30.0, 40.0] and not sq.whole and sq.seen == "scored 2 windows of 30 s"
    assert cnn.ends.tolist() == (cnn.starts + 3.0).tolist() and cnn.seen == "scored 13 segments of 3 s"
    assert store.load_checkpoint(ids["squeezenet"])["meta"]["image_params"]["size"] == 256  # its own input size
    assert pred.view("mfcc").shape == (13, 130, 13) and pred.view("image").shape == (224, 224, 3)
    assert pred.ensemble().shape == (10,) and 0 < pred.agreement() <= 1
    json.dumps({k: r.as_dict() for k, r in pred.results.items()})
    assert sq.as_dict()["windows"] == [[0.0, 30.0], [30.0, 40.0]]


def test_a_clip_of_gtzans_length_is_one_picture_of_all_of_it(trained, tmp_path):
    """An image model sees a 30 s clip (up to 31.5 s) as one picture drawn whole: it says so,
    with the picture's real span, instead of a timeline of one point; the MFCC model's
    segments still make a timeline."""
    store, ids = trained
    clip = write_clip(tmp_path / "song.wav", "jazz", seconds=31.0)
    pred = predict(clip, [ids["squeezenet"], ids["cnn"]], store=store)
    sq, cnn = pred.results[ids["squeezenet"]], pred.results[ids["cnn"]]
    assert sq.whole and sq.starts.tolist() == [0.0] and sq.ends.tolist() == [pytest.approx(31.0, abs=1e-3)]
    assert sq.seen == "saw the clip as a whole (one spectrogram picture of its 31.0 s)"
    assert sq.as_dict()["windows"] == [[0.0, 31.0]]
    assert not cnn.whole and len(cnn.starts) == 10 and cnn.ends[-1] == 30.0


def test_predict_matches_the_model_on_cached_features(trained, tiny_features, tiny_demo_set):
    """Inference on a training track reproduces the model's output on the cached MFCCs."""
    from gtzan_core.audio import load_audio

    store, ids = trained
    ds = tiny_demo_set
    y = load_audio(ds.tracks.audio_path[0])
    pred = predict(y, [ids["cnn"]], store=store)
    model, _ = load_run_model(store, ids["cnn"])
    with torch.no_grad():
        expected = torch.softmax(model(torch.from_numpy(tiny_features.samples("mfcc")[0][:2])), 1).numpy()
    np.testing.assert_allclose(pred.results[ids["cnn"]].segment_probs, expected, atol=2e-4)


def test_loaded_models_are_cached(trained):
    store, ids = trained
    clear_model_cache()
    a, _ = load_run_model(store, ids["lstm"])
    b, _ = load_run_model(store, ids["lstm"])
    assert a is b


def test_mismatched_feature_parameters_are_refused(trained, tmp_path):
    store, ids = trained
    clip = write_clip(tmp_path / "c.wav", "pop", seconds=7.0)
    pred = predict(clip, [ids["cnn"]], store=store, params={"mfcc": MFCCParams(n_mfcc=20)})
    assert not pred.results
    assert "different feature parameters: n_mfcc=13 (here 20)" in pred.refused[ids["cnn"]]


def test_checkpoint_that_does_not_fit_its_model_is_refused(trained, tmp_path):
    store, ids = trained
    src = store.load_checkpoint(ids["cnn"])
    rid = store.new_run(RunRecord({"model": "cnn", "input_kind": "mfcc", "status": "finished"}))
    meta = dict(src["meta"], model="mlp", options={"frames": 130, "n_mfcc": 13})  # cnn weights, mlp config
    store.save_checkpoint(rid, src["state_dict"], meta)
    pred = predict(write_clip(tmp_path / "c.wav", "pop", seconds=4.0), [rid], store=store)
    assert "does not fit model 'mlp'" in pred.refused[rid]


def test_too_short_clip_and_unknown_run(trained, tmp_path):
    store, ids = trained
    with pytest.raises(AudioError, match="clip is 1.0 s long; at least 1.5 s is needed"):
        predict(write_clip(tmp_path / "short.wav", "pop", seconds=1.0), store=store)
    padded = predict(write_clip(tmp_path / "two.wav", "pop", seconds=2.0), store=store)
    assert len(padded.view("mfcc")) == 1 and padded.results
    assert any("2.0 s long, under one 3 s segment: it was repeat-padded" in w for w in padded.warnings)
    pred = predict(write_clip(tmp_path / "ok.wav", "pop", seconds=4.0), ["nope-run"], store=store)
    assert "no run 'nope-run'" in pred.refused["nope-run"]


def test_long_upload_is_truncated(trained, tmp_path):
    store, ids = trained
    clip = write_clip(tmp_path / "long.flac", "jazz", seconds=20.0)
    pred = predict(clip, [ids["cnn"]], store=store, max_seconds=9.0)
    assert pred.truncated and pred.duration == pytest.approx(9.0) and len(pred.view("mfcc")) == 3


def test_a_decoded_upload_predicts_as_its_file_does(trained, tmp_path):
    from gtzan_core.audio import decode_audio

    store, ids = trained
    clip = write_clip(tmp_path / "song.flac", "rock", seconds=12.0)
    from_file = predict(clip, [ids["cnn"]], store=store)
    from_decoded = predict(decode_audio(clip), [ids["cnn"]], store=store)  # what the Predict page hands over
    assert np.array_equal(from_file.results[ids["cnn"]].probs, from_decoded.results[ids["cnn"]].probs)
    cut = predict(decode_audio(clip), [ids["cnn"]], store=store, max_seconds=6.0)
    assert cut.truncated and cut.duration == pytest.approx(6.0)


def test_a_long_clip_is_predicted_in_slices_with_the_one_pass_result(trained, tmp_path, monkeypatch):
    """A long upload's MFCCs and model inputs go through in slices (bounded memory); the
    probabilities are those of one pass."""
    import gtzan_core.features as features
    from gtzan_core.inputs import KINDS

    store, ids = trained
    clip = write_clip(tmp_path / "long.wav", "disco", seconds=100.0)  # 33 segments, 4 windows
    monkeypatch.setattr(features, "MFCC_BATCH", 10 ** 6)
    for kind in KINDS.values():  # each input kind's rows per forward pass
        monkeypatch.setattr(kind, "predict_batch", 10 ** 6)
    whole = predict(clip, store=store)
    monkeypatch.setattr(features, "MFCC_BATCH", 5)
    for kind in KINDS.values():
        monkeypatch.setattr(kind, "predict_batch", 1)
    sliced = predict(clip, store=store)
    assert np.array_equal(whole.view("mfcc"), sliced.view("mfcc"))
    for rid in ids.values():
        assert whole.results[rid].segment_probs.shape == sliced.results[rid].segment_probs.shape
        np.testing.assert_allclose(whole.results[rid].segment_probs, sliced.results[rid].segment_probs, atol=1e-5)
