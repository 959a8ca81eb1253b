import numpy as np
import pytest

import gtzan_core.feature_cache as fc
from gtzan_core.audio import load_audio
from gtzan_core.data import discover_dataset
from gtzan_core.features import ImageParams, MFCCParams, mfcc_reference
from tests.helpers import make_gtzan


@pytest.fixture
def ds(tmp_path):
    return discover_dataset(make_gtzan(tmp_path / "g", per_genre=1, seconds=6.5, genres=("blues", "metal", "pop")))


def test_miss_then_hit(ds):
    calls = []
    first = fc.load_features(ds, progress=lambda d, t, m: calls.append((d, t)))
    assert not first.cache_hit and calls[-1] == (3, 3)
    assert first.samples("mfcc")[0].shape == (6, 130, 13) and first.samples("image")[0].shape == (3, 224, 224, 3)
    assert first.samples("mfcc")[1].tolist() == [0, 0, 1, 1, 2, 2]
    assert first.tracks.n_mfcc.tolist() == [2, 2, 2] and set(first.tracks.image_source) == {"render"}
    again = fc.load_features(ds)
    assert again.cache_hit and again.path == first.path
    np.testing.assert_array_equal(again.samples("mfcc")[0], first.samples("mfcc")[0])
    np.testing.assert_array_equal(again.samples("image")[0], first.samples("image")[0])
    # the cached MFCCs are the reference pipeline's
    ref = mfcc_reference(load_audio(ds.tracks.audio_path[1]))
    np.testing.assert_allclose(first.samples("mfcc")[0][2:4], ref, rtol=1e-4, atol=5e-3)


def test_parameter_change_invalidates(ds):
    a = fc.load_features(ds)
    b = fc.load_features(ds, mfcc=MFCCParams(n_mfcc=20))
    c = fc.load_features(ds, image=ImageParams(size=112))
    assert len({a.path, b.path, c.path}) == 3 and not b.cache_hit and not c.cache_hit
    assert b.samples("mfcc")[0].shape[-1] == 20 and c.samples("image")[0].shape[1:3] == (112, 112)


def test_dataset_change_invalidates(ds, tmp_path):
    a = fc.load_features(ds)
    from tests.helpers import write_clip

    write_clip(ds.audio_root / "pop" / "pop.00001.wav", "pop", 6.5, index=4)
    b = fc.load_features(discover_dataset(ds.root))
    assert b.path != a.path and len(b.tracks) == 4


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete_meta"])
def test_corrupt_cache_is_rebuilt(ds, damage):
    a = fc.load_features(ds)
    target = a.path / ("meta.json" if damage == "delete_meta" else "input-mfcc.npy")
    if damage == "truncate":
        target.write_bytes(target.read_bytes()[:100])
    elif damage == "flip":
        data = bytearray(target.read_bytes())
        data[-10] ^= 0xFF
        target.write_bytes(bytes(data))
    else:
        target.unlink()
    b = fc.load_features(ds)
    assert not b.cache_hit
    np.testing.assert_array_equal(a.samples("mfcc")[0], b.samples("mfcc")[0])
    assert fc.load_features(ds).cache_hit


def test_undecodable_track_is_reported_and_left_out(ds):
    # passes the header check at discovery, fails on decode: a short clip
    from tests.helpers import write_clip

    write_clip(ds.audio_root / "blues" / "blues.00009.wav", "blues", 1.0)
    ds2 = discover_dataset(ds.root)
    fs = fc.load_features(ds2)
    assert "blues.00009" not in set(fs.tracks.track_id)
    assert fs.failed and fs.failed[0][0] == "blues.00009" and "at least 1.5 s is needed" in fs.failed[0][1]


def test_png_images_are_used_when_present(tmp_path):
    ds = discover_dataset(make_gtzan(tmp_path / "k", per_genre=1, seconds=3.5, genres=("rock",), images=True))
    fs = fc.load_features(ds)
    assert fs.tracks.image_source.tolist() == ["png"]
    assert fs.samples("image")[0][0, 0, 0].tolist() == [200, 0, 0]  # the red PNG, as RGB


def test_parallel_extraction_equals_serial(ds, tmp_path):
    serial = fc.load_features(ds, workers=1, cache_dir=tmp_path / "c1")
    parallel = fc.load_features(ds, workers=2, cache_dir=tmp_path / "c2")
    np.testing.assert_array_equal(serial.samples("mfcc")[0], parallel.samples("mfcc")[0])
    np.testing.assert_array_equal(serial.samples("image")[0], parallel.samples("image")[0])


def test_mfcc_only_extraction(ds, tmp_path):
    fs = fc.load_features(ds, image=ImageParams(source="none"), cache_dir=tmp_path)
    assert list(fs.inputs) == ["mfcc"] and fs.samples("mfcc")[0].shape == (6, 130, 13)  # no pictures at all
    assert fc.load_features(ds, image=ImageParams(source="none"), cache_dir=tmp_path).cache_hit


def test_a_stop_during_parallel_extraction_drops_the_tracks_not_started(tmp_path, monkeypatch):
    """A Stop (raised from the progress callback) must not wait for every queued track:
    the pool's not-yet-started tracks are dropped (Executor.map's iterator cancels them when
    the loop is left). Held deterministically: tracks after the first two block until the
    Stop is raised."""
    import threading

    ds = discover_dataset(make_gtzan(tmp_path / "g", per_genre=4, seconds=3.1, genres=("blues", "metal")))
    release, started = threading.Event(), []
    real = fc.extract_track

    def slow_after_two(job):
        started.append(job[0])
        if len(started) > 2:
            release.wait(30)
        return real(job)

    monkeypatch.setattr(fc, "extract_track", slow_after_two)

    class Stop(Exception):
        pass

    def progress(done, total, message):
        if message == "extracting features" and done == 1:
            release.set()
            raise Stop

    with pytest.raises(Stop):
        fc.load_features(ds, workers=2, progress=progress)
    assert len(started) <= 4 < len(ds.tracks)  # at most the two running when it stopped, never all eight
