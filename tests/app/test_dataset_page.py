"""The Dataset page under AppTest (small demo set): a genre's tracks with the split part
each is in, a track's player and its waveform, MFCC and mel views, and the repeated
recordings the studio finds, each pair with both players."""

from __future__ import annotations

import pytest
import soundfile as sf


@pytest.mark.heavy
def test_browse_a_genre_hear_a_track_and_find_a_planted_copy(demo_app):
    from gtzan_core.data.synth import ensure_demo_dataset

    # a copy of a rock track filed under pop (not byte-identical: discovery keeps it)
    root = ensure_demo_dataset()
    y, sr = sf.read(next(root.rglob("rock.00001.wav")))
    sf.write(next(root.rglob("pop.00001.wav")).parent / "pop.00099.wav", y * 0.999, sr)
    at = demo_app("dataset", timeout=400).run()
    assert not at.exception, [e.value for e in at.exception]
    listing = at.dataframe[0].value
    assert list(listing["track"]) == [f"blues.{i:05d}" for i in range(4)]
    assert set(listing["split part"]) <= {"train", "val", "test"}
    assert len(at.get("audio")) == 1 and len(at.get("plotly_chart")) == 3  # waveform, MFCC, mel
    at.selectbox(key="dataset-genre").set_value("pop").run()
    assert list(at.dataframe[0].value["track"]) == [*(f"pop.{i:05d}" for i in range(4)), "pop.00099"]
    next(b for b in at.button if b.key == "dataset-repeats").click().run()
    assert not at.exception, [e.value for e in at.exception]
    said = [m.value for m in at.markdown if "rock.00001" in m.value and "pop.00099" in m.value]
    assert said and "filed under two genres" in said[0]
    assert any("**1 pairs of copies** among 41 tracks" in m.value for m in at.markdown)
    assert len(at.get("audio")) == 3  # the track's player and both copies'
