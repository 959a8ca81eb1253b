import numpy as np
import pandas as pd
import pytest

from gtzan_core import GENRES
from gtzan_core.errors import ConfigError, DatasetError
from gtzan_core.splits import fault_filtered_lists, segment_split, track_split


def tracks_table(per_genre=100):
    rows = [{"track_id": f"{g}.{i:05d}", "genre": g, "label": k} for k, g in enumerate(GENRES) for i in range(per_genre)]
    return pd.DataFrame(rows)


def segments_of(tracks, n=10):
    return np.repeat(np.arange(len(tracks)), n)


def test_track_protocol_never_shares_a_track():
    tracks = tracks_table(20)
    seg_track = segments_of(tracks)
    s = segment_split(tracks, seg_track, "track", seed=3)
    sets = [set(seg_track[idx]) for idx in (s.train, s.val, s.test)]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    assert len(s.train) + len(s.val) + len(s.test) == len(seg_track)
    # stratified: every genre has 14/3/3 tracks
    for idx, n in ((s.train, 14), (s.val, 3), (s.test, 3)):
        per_genre = tracks.label[sorted(set(seg_track[idx]))].value_counts()
        assert (per_genre == n).all() and len(per_genre) == 10
    assert not s.leaky


def test_track_protocol_is_seeded():
    tracks = tracks_table(10)
    a, b, c = (track_split(tracks, "track", seed=s) for s in (1, 1, 2))
    assert np.array_equal(a.test, b.test) and not np.array_equal(a.test, c.test)


def test_fault_filtered_lists_are_shipped_and_disjoint():
    lists = fault_filtered_lists()
    assert {k: len(v) for k, v in lists.items()} == {"train": 443, "valid": 197, "test": 290}
    sets = [set(v) for v in lists.values()]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert "blues.00012" in lists["test"]


def test_filtered_protocol_on_gtzan_ids():
    tracks = tracks_table(100).drop(index=554).reset_index(drop=True)  # jazz.00054 missing, like Kaggle
    seg_track = segments_of(tracks)
    s = segment_split(tracks, seg_track, "filtered")
    sizes = [len(set(seg_track[i])) for i in (s.train, s.val, s.test)]
    assert sizes == [442, 197, 290] and "929 of 930" in s.note
    assert not (set(seg_track[s.train]) & set(seg_track[s.test]))


def test_filtered_protocol_refuses_synthetic_data():
    with pytest.raises(DatasetError, match="synthetic demo"):
        track_split(tracks_table(2), "filtered", synthetic=True)


def test_paper_protocol_is_a_leaky_70_30_segment_split():
    tracks = tracks_table(10)
    seg_track = segments_of(tracks)
    s = segment_split(tracks, seg_track, "paper", seed=0)
    assert s.leaky and np.array_equal(s.val, s.test)
    assert len(s.test) == 300 and len(s.train) == 700
    assert not (set(s.train) & set(s.test))
    # the leak: most test tracks also have segments in training
    shared = set(seg_track[s.train]) & set(seg_track[s.test])
    assert len(shared) > 0.9 * len(set(seg_track[s.test]))


def test_unknown_protocol():
    with pytest.raises(ConfigError, match="unknown protocol 'random'"):
        track_split(tracks_table(2), "random")


def test_weak_splits_are_named_with_genres_and_counts():
    import pandas as pd

    from gtzan_core import GENRES
    from gtzan_core.splits import fault_filtered_lists, planned_split_problems

    lists = fault_filtered_lists()
    # a partial copy: every genre's first 5 listed tracks of each part, but metal only in the test part
    ids = [t for part in ("train", "valid", "test") for g in GENRES for t in
           [t for t in lists[part] if t.startswith(g + ".")][:5] if g != "metal" or part == "test"]
    tracks = pd.DataFrame({"track_id": ids, "genre": [t.split(".")[0] for t in ids],
                           "label": [GENRES.index(t.split(".")[0]) for t in ids], "duration": 30.0,
                           "audio_path": [f"{t}.wav" for t in ids]})  # an audio dataset's list (not a feature table)
    problems = planned_split_problems(tracks, "mfcc", "filtered")
    assert problems == ["training part: no metal track", "validation part: no metal track"]
    # 15 tracks a genre: the 70/15/15 track split keeps only 2 of each for testing
    assert planned_split_problems(tracks, "image", "track")[0].startswith("test part: fewer than 3 tracks of blues 2")
    few = tracks[~tracks.track_id.isin([t for t in lists["test"] if t.startswith("pop.")][:3])]
    assert "test part: fewer than 3 tracks of pop 2" in planned_split_problems(few, "mfcc", "filtered")


def test_planned_split_counts_segments_a_short_clip_holds():
    import pandas as pd

    from gtzan_core import GENRES
    from gtzan_core.splits import planned_split_problems

    tracks = pd.DataFrame({"track_id": [f"{g}.{i:05d}" for g in GENRES for i in range(3)],
                           "genre": [g for g in GENRES for _ in range(3)],
                           "label": [k for k in range(10) for _ in range(3)]})
    long = planned_split_problems(tracks.assign(duration=30.0), "mfcc", "paper", synthetic=True)
    short = planned_split_problems(tracks.assign(duration=6.2), "mfcc", "paper", synthetic=True)
    assert long == [] and short  # 30 segments a genre split 70:30 cover every track; 6 do not
