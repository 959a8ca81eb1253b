import numpy as np
import pytest

from gtzan_core.data.synth import synth_track
from gtzan_core.errors import AudioError
from gtzan_core.features import (
    IMAGENET_MEAN,
    MFCCParams,
    mfcc_reference,
    mfcc_segments,
    normalize_images,
    read_image_file,
    render_spectrogram_image,
    segment_audio,
    spectrogram_input,
)


def test_paper_geometry():
    p = MFCCParams()
    assert (p.samples_per_segment, p.frames_per_segment, p.n_mfcc) == (66150, 130, 13)


@pytest.mark.parametrize("genre", ["classical", "metal", "hiphop"])
def test_mfcc_matches_the_per_segment_librosa_reference(genre):
    y = synth_track(genre, 30.0, seed=3, index=1)
    y[5 * 66150:6 * 66150] = 0.0  # one silent segment: exercises the per-segment top_db clip
    ours, ref = mfcc_segments(y), mfcc_reference(y)
    assert ours.shape == ref.shape == (10, 130, 13)
    # float32 FFTs in different libraries: agree to ~1e-3 on values in the hundreds
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=5e-3)


def test_mfcc_on_noise_matches_reference():
    y = np.random.default_rng(0).standard_normal(66150 * 3).astype(np.float32) * 0.1
    np.testing.assert_allclose(mfcc_segments(y), mfcc_reference(y), rtol=1e-4, atol=5e-3)


def test_trailing_partial_segment_is_dropped_short_clip_padded_and_too_short_refused():
    from gtzan_core.features import MIN_CLIP_SECONDS, is_padded

    p = MFCCParams()
    assert segment_audio(np.zeros(66150 * 2 + 1000, np.float32)).shape == (2, 66150)
    assert mfcc_segments(np.zeros(66150 * 12, np.float32), max_segments=10).shape[0] == 10
    # 2.5 s: one segment, the clip looped end to end (not zeros)
    y = np.random.default_rng(1).standard_normal(int(2.5 * p.sr)).astype(np.float32)
    seg = segment_audio(y)
    assert seg.shape == (1, 66150) and is_padded(len(y), p) and not is_padded(66150, p)
    np.testing.assert_array_equal(seg[0, :len(y)], y)
    np.testing.assert_array_equal(seg[0, len(y):2 * len(y)][: 66150 - len(y)], y[: 66150 - len(y)])
    assert mfcc_segments(y).shape == (1, 130, 13)
    assert MIN_CLIP_SECONDS == 1.5
    with pytest.raises(AudioError, match=r"clip is 1.4 s long; at least 1.5 s is needed"):
        segment_audio(np.zeros(int(1.4 * p.sr), np.float32))


def test_rendered_image_has_kaggle_geometry_and_model_size():
    from gtzan_core.spectrogram.kaggle import COLS, ROWS

    y = synth_track("disco", 12.0, seed=0)
    img = render_spectrogram_image(y)
    assert img.shape == (288, 432, 3) and img.dtype == np.uint8
    # a white figure margin around the plot box, as in the Kaggle PNGs
    assert (img[: ROWS[0]] == 255).all() and (img[ROWS[1] + 1:] == 255).all()
    assert (img[:, : COLS[0]] == 255).all() and (img[:, COLS[1] + 1:] == 255).all()
    data = img[ROWS[0] + 1: ROWS[1], COLS[0] + 1: COLS[1]].astype(int)
    # 12 s zero-padded to the 30 s span: the right 60 % of the box is silence (black)
    w = data.shape[1]
    assert data[:, int(w * 0.45):].mean() < 5 < data[:, : int(w * 0.35)].mean()
    assert spectrogram_input(y).shape == (224, 224, 3)


def test_legacy_full_bleed_picture_is_kept_by_name():
    from gtzan_core.features import ImageParams

    y = synth_track("disco", 12.0, seed=0)
    img = render_spectrogram_image(y, image=ImageParams(style="fullbleed-v1"))
    assert img.shape == (288, 432, 3)
    assert img[:, -40:].mean() < img[:, :40].mean()  # no margin; padding dark at the right
    with pytest.raises(ValueError, match="image style 'nope'"):
        ImageParams(style="nope")


def test_png_is_read_as_rgb(tmp_path):
    import cv2

    bgr = np.zeros((288, 432, 3), np.uint8)
    bgr[..., 0] = 255  # pure blue in OpenCV's BGR order
    cv2.imwrite(str(tmp_path / "x.png"), bgr)
    rgb = read_image_file(tmp_path / "x.png")
    assert rgb.shape == (288, 432, 3) and rgb[0, 0].tolist() == [0, 0, 255]
    with pytest.raises(AudioError, match="not a readable image"):
        (tmp_path / "bad.png").write_text("nope")
        read_image_file(tmp_path / "bad.png")


def test_imagenet_normalisation():
    batch = np.full((2, 4, 4, 3), 255, np.uint8)
    x = normalize_images(batch)
    assert tuple(x.shape) == (2, 3, 4, 4)
    expected = (1.0 - IMAGENET_MEAN) / np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(x[0, :, 0, 0].numpy(), expected, rtol=1e-5)


def test_image_mel_spectrogram_matches_librosa():
    import librosa
    import torch

    from gtzan_core.mel import mel_db

    y = synth_track("jazz", 30.0, seed=2)
    ref = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=22050, n_fft=2048, hop_length=512, n_mels=128),
                              ref=np.max, top_db=80.0)
    ours = mel_db(torch.from_numpy(y)[None], MFCCParams(), 128)[0]
    ours = (ours - ours.max()).numpy()
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, atol=2e-3)


def test_a_long_clips_mfccs_are_computed_in_slices_equal_to_one_pass(monkeypatch):
    import gtzan_core.features as features

    y = (np.random.default_rng(3).standard_normal(22050 * 40) * 0.1).astype(np.float32)  # 13 segments
    monkeypatch.setattr(features, "MFCC_BATCH", 10 ** 6)
    whole = mfcc_segments(y)
    monkeypatch.setattr(features, "MFCC_BATCH", 4)  # 4 + 4 + 4 + 1
    assert np.array_equal(mfcc_segments(y), whole) and whole.shape == (13, 130, 13)
