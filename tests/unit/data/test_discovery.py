import pytest

from gtzan_core import GENRES
from gtzan_core.data import discover_dataset
from gtzan_core.data.synth import generate_demo
from gtzan_core.errors import DatasetError
from tests.helpers import make_gtzan, write_clip


def test_kaggle_layout_with_images(tmp_path):
    root = make_gtzan(tmp_path / "Data", "kaggle", per_genre=1, seconds=3.5, images=True)
    ds = discover_dataset(root)
    assert (ds.layout, ds.kind, ds.label) == ("kaggle", "gtzan", "GTZAN")
    assert len(ds.tracks) == 10 and ds.has_images
    row = ds.tracks.iloc[0]
    assert row.track_id == "blues.00000" and row.image_path.endswith("images_original/blues/blues00000.png")
    assert row.duration == pytest.approx(3.5, abs=0.01)
    assert list(ds.counts().index) == list(GENRES)


def test_original_au_layout_found_from_parent_folder(tmp_path):
    make_gtzan(tmp_path / "download" / "gtzan", "original", per_genre=1, seconds=3.5)
    ds = discover_dataset(tmp_path / "download" / "gtzan")
    assert ds.layout == "original" and ds.tracks.audio_path.str.endswith(".au").all()
    # a folder that only *contains* the dataset folder works too
    assert discover_dataset(tmp_path / "download").layout == "original"


def test_flat_layout(tmp_path):
    make_gtzan(tmp_path / "flat", "flat", per_genre=1, seconds=3.5, genres=("blues", "rock"))
    ds = discover_dataset(tmp_path / "flat")
    assert ds.layout == "flat" and sorted(ds.tracks.genre) == ["blues", "rock"]
    assert any("no folder for genre" in w for w in ds.warnings)


def test_corrupt_known_bad_and_resource_fork_files(tmp_path):
    root = make_gtzan(tmp_path / "g", per_genre=1, seconds=3.5)
    jazz = root / "genres_original" / "jazz"
    write_clip(jazz / "jazz.00054.wav", "jazz", 3.5)  # on the known-bad list
    (jazz / "jazz.00007.wav").write_bytes(b"RIFF\x00\x00garbage")  # corrupt
    (jazz / "._jazz.00000.wav").write_bytes(b"\x00\x05\x16\x07")  # macOS resource fork
    (jazz / "notes.txt").write_text("ignored")
    ds = discover_dataset(root)
    skipped = dict(ds.skipped)
    assert "known-corrupt" in skipped["genres_original/jazz/jazz.00054.wav"]
    assert "not a readable audio file" in skipped["genres_original/jazz/jazz.00007.wav"]
    assert not any("._" in p for p in skipped)
    assert set(ds.tracks.track_id[ds.tracks.genre == "jazz"]) == {"jazz.00000"}


def test_fifos_sockets_and_broken_links_are_reported_never_opened(tmp_path, monkeypatch):
    import os
    import socket

    root = make_gtzan(tmp_path / "g", per_genre=1, seconds=3.5, images=True)
    rock, pictures = root / "genres_original" / "rock", root / "images_original" / "rock"
    os.mkfifo(rock / "rock.00001.wav")  # opening it to read would wait forever
    os.mkfifo(pictures / "rock00002.png")
    (rock / "rock.00003.wav").symlink_to(tmp_path / "gone.wav")
    monkeypatch.chdir(rock)  # a socket's path is short (108 bytes at most): bound by its relative name
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind("rock.00004.wav")
        ds = discover_dataset(root)  # returns: nothing was opened
    skipped = dict(ds.skipped)
    assert "named pipe" in skipped["genres_original/rock/rock.00001.wav"]
    assert "named pipe" in skipped["images_original/rock/rock00002.png"]
    assert "broken symbolic link" in skipped["genres_original/rock/rock.00003.wav"]
    assert "socket" in skipped["genres_original/rock/rock.00004.wav"]
    assert set(ds.tracks.track_id[ds.tracks.genre == "rock"]) == {"rock.00000"}
    assert any(s["path"] == "genres_original/rock/rock.00001.wav" for s in ds.summary()["skipped"])


def test_duplicate_track_in_two_formats_is_skipped(tmp_path):
    root = make_gtzan(tmp_path / "g", per_genre=1, seconds=3.5)
    write_clip(root / "genres_original" / "rock" / "rock.00000.flac", "rock", 3.5)
    ds = discover_dataset(root)
    assert (ds.tracks.track_id == "rock.00000").sum() == 1
    assert any("duplicate of" in r for _, r in ds.skipped)


def test_empty_genre_is_a_warning(tmp_path):
    root = make_gtzan(tmp_path / "g", per_genre=1, seconds=3.5, genres=("blues",))
    (root / "genres_original" / "metal").mkdir()
    ds = discover_dataset(root)
    assert "genre 'metal' has no usable tracks" in ds.warnings


@pytest.mark.parametrize("setup,message", [
    (lambda p: None, "no such folder"),
    (lambda p: p.mkdir(), "no GTZAN layout found"),
    (lambda p: (p / "genres" / "polka").mkdir(parents=True), "unknown genre folder(s) 'polka'"),
    (lambda p: (p / "genres" / "blues").mkdir(parents=True), "no readable audio files"),
])
def test_unusable_folders_are_clear_errors(tmp_path, setup, message):
    target = tmp_path / "data"
    setup(target)
    with pytest.raises(DatasetError) as exc:
        discover_dataset(target)
    assert message in str(exc.value)


def test_synthetic_demo_is_labelled_synthetic(tmp_path):
    out = generate_demo(tmp_path / "demo", per_genre=1, seconds=3.2, seed=5)
    ds = discover_dataset(out)
    assert ds.is_synthetic and ds.label == "synthetic demo" and len(ds.tracks) == 10
    assert ds.synth_params["seed"] == 5


def test_fingerprint_changes_when_a_file_changes(tmp_path):
    root = make_gtzan(tmp_path / "g", per_genre=1, seconds=3.5, genres=("blues", "rock"))
    before = discover_dataset(root).fingerprint
    write_clip(root / "genres_original" / "rock" / "rock.00000.wav", "rock", 4.0, index=3)
    assert discover_dataset(root).fingerprint != before
