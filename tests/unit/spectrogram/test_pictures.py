"""Spectrogram pictures: styles, the old renderer kept for old runs, the Predict
warning only where a picture really differs from a run's training pictures."""

import json
import shutil

import numpy as np
import pytest

from gtzan_core.data.synth import synth_track
from gtzan_core.features import ImageParams, MFCCParams, spectrogram_input
from gtzan_core.inference import predict
from gtzan_core.inputs.image import picture_warning
from gtzan_core.runs import RunStore
from tests.helpers import TEST_DATA

OLD_RUN = TEST_DATA / "fullbleed_run"


def test_a_run_trained_before_picture_styles_predicts_exactly_as_before(tmp_path):
    """tests/data/fullbleed_run was trained and its predictions written by the studio as it
    was before picture styles (commit 68ae41f): same probabilities now, to float precision."""
    expected = json.loads((OLD_RUN / "expected.json").read_text())
    rid = expected["run_id"]
    shutil.copytree(OLD_RUN, tmp_path / "runs" / rid, ignore=shutil.ignore_patterns("expected.json"))
    store = RunStore(tmp_path / "runs")
    assert "style" not in store.read(rid)["image_params"]
    for case in expected["predictions"].values():
        y = synth_track(case["genre"], case["seconds"], seed=case["seed"])
        got = predict(y, [rid], store).results[rid]
        np.testing.assert_allclose(got.segment_probs, np.array(case["segment_probs"]), rtol=0, atol=1e-6)
        np.testing.assert_allclose(got.probs, np.array(case["probs"]), rtol=0, atol=1e-6)


def test_old_runs_draw_the_old_picture_and_new_runs_the_kaggle_one():
    y = synth_track("jazz", 12.0, seed=1)
    old = ImageParams.of_run({"size": 256, "source": "auto", "render_width": 432, "render_height": 288,
                              "n_mels": 128})
    new = ImageParams.of_run(ImageParams(size=256).as_dict())
    assert old.style == "fullbleed-v1" and new.style == "kaggle"
    a, b = spectrogram_input(y, MFCCParams(), old), spectrogram_input(y, MFCCParams(), new)
    assert a.shape == b.shape == (256, 256, 3)
    assert (a[0] != 255).any() and (b[0] == 255).all()  # full bleed vs the Kaggle figure's white margin


def test_predict_warns_only_where_the_picture_differs_from_training():
    record = {"title": "SqueezeNet", "run_id": "r1", "image_sources": {"png": 9, "render": 1}}
    legacy = ImageParams(style="fullbleed-v1")
    # trained on PNGs, pictures of uploads in the Kaggle style: the same kind of picture
    assert picture_warning(record, ImageParams()) is None
    # trained on PNGs, pictures drawn by the first renderer: they share nothing
    warning = picture_warning(record, legacy)
    assert "fullbleed-v1" in warning and "9 png, 1 render" in warning
    # trained on its own renderings: what it sees on uploads is what it trained on
    assert picture_warning({**record, "image_sources": {"render": 10}}, legacy) is None


def test_unknown_picture_style_in_a_run_is_refused_not_crashed(tmp_path):
    expected = json.loads((OLD_RUN / "expected.json").read_text())
    rid = expected["run_id"]
    shutil.copytree(OLD_RUN, tmp_path / "runs" / rid, ignore=shutil.ignore_patterns("expected.json"))
    store = RunStore(tmp_path / "runs")
    import torch

    path = store.checkpoint_path(rid)
    ckpt = torch.load(path, weights_only=True)
    ckpt["meta"]["image_params"]["style"] = "watercolour-v9"
    torch.save(ckpt, path)
    pred = predict(synth_track("rock", 6.0, seed=2), [rid], store)
    assert rid not in pred.results and "watercolour-v9" in pred.refused[rid]


def test_short_and_long_clips_keep_the_time_scale():
    from gtzan_core.inputs.image import image_windows
    from gtzan_core.spectrogram.kaggle import span

    mp = MFCCParams()
    n = mp.track_samples
    assert len(span(np.zeros(n // 3, np.float32), mp)) == n  # a 10 s clip: padded to 30 s
    assert len(span(np.zeros(n + 300, np.float32), mp)) == n + 300  # a GTZAN clip of 30.01 s: drawn whole
    assert len(span(np.zeros(2 * n, np.float32), mp)) == n  # longer: its first 30 s
    imgs, starts = image_windows(synth_track("pop", 65.0, seed=0), mp, ImageParams())
    assert imgs.shape[0] == 3 and starts.tolist() == [0.0, 30.0, 60.0]
    imgs, starts = image_windows(synth_track("pop", 30.4, seed=0), mp, ImageParams())
    assert imgs.shape[0] == 1 and starts.tolist() == [0.0]


@pytest.mark.parametrize("db_range", [0.0, 30.0])
def test_flat_or_narrow_spectrograms_draw_without_error(db_range):
    """Silence (a constant spectrogram) and a narrow dB range use matplotlib's min..max normalisation."""
    from gtzan_core.spectrogram.kaggle import draw, magma_lut

    db = np.zeros((128, 1292)) if db_range == 0 else np.linspace(-db_range, 0, 128)[:, None].repeat(1292, 1)
    img = draw(db)
    assert img.shape == (288, 432, 3)
    inside = img[100, 200]
    lut = magma_lut()
    if db_range == 0:
        assert (inside == lut[0]).all()
    else:  # the full colour range is used however narrow the data
        assert (img[36, 200] == lut[255]).all() and (img[251, 200] == lut[0]).all()
