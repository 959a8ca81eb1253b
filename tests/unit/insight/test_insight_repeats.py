"""Repeated recordings: found from feature vectors (a table's rows or the studio's own
vector of each audio track), across genres too; whether a split puts copies on both
sides; whether a run's errors fall on them more than chance; `repeats` from the CLI. On
the real Kaggle table of all 1,000 GTZAN tracks where it is beside the checkout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from gtzan_core.cli import main
from gtzan_core.insight import repeats
from tests.helpers import ROOT

KAGGLE_CSV = ROOT.parent / "shared" / "data" / "gtzan-real" / "kaggle-csv" / "features_30_sec.csv"


def table_with_copies(path: Path) -> Path:
    """40 tracks of random features; pop.00003 is a copy of pop.00001 (identical row),
    rock.00002 of metal.00000 (a tiny difference: the same recording cut elsewhere)."""
    rng = np.random.default_rng(3)
    rows = []
    for g in ("pop", "rock", "metal", "jazz"):
        for i in range(10):
            rows.append({"filename": f"{g}.{i:05d}.wav", "length": 661794, "label": g,
                         **{f"f{k}": float(v) for k, v in enumerate(rng.normal(size=12))}})
    df = pd.DataFrame(rows)
    cols = [f"f{k}" for k in range(12)]
    df.loc[df.filename == "pop.00003.wav", cols] = df.loc[df.filename == "pop.00001.wav", cols].to_numpy()
    df.loc[df.filename == "rock.00002.wav", cols] = df.loc[df.filename == "metal.00000.wav", cols].to_numpy() + 0.01
    df.to_csv(path, index=False)
    return path


def test_copies_in_a_table_are_found_and_a_copy_under_two_genres_is_flagged(tmp_path):
    ids, genres, x = repeats.dataset_vectors(table_with_copies(tmp_path / "t.csv"))
    found = repeats.find_repeats(ids, genres, x)
    assert [(p.a, p.b) for p in found.pairs] == [("pop.00001", "pop.00003"), ("metal.00000", "rock.00002")]
    same, across = found.pairs
    assert same.identical and not same.across_genres
    assert across.across_genres and not across.identical and 0 < across.relative < found.fraction
    assert found.groups == [["metal.00000", "rock.00002"], ["pop.00001", "pop.00003"]]


def test_copies_chain_into_one_group():
    x = np.random.default_rng(0).normal(size=(20, 6))
    x[5] = x[4] + 0.05
    x[6] = x[5] + 0.05
    found = repeats.find_repeats([f"t{k:02d}" for k in range(20)], ["pop"] * 20, x)
    assert found.groups == [["t04", "t05", "t06"]]


def test_a_split_with_copies_on_both_sides_and_errors_against_chance():
    x = np.random.default_rng(0).normal(size=(12, 5))
    x[1] = x[0]
    x[3] = x[2]
    ids = [f"t{k:02d}" for k in range(12)]
    found = repeats.find_repeats(ids, ["pop"] * 12, x)
    both = repeats.straddling(found, {"t00": "train", "t01": "test", "t02": "test", "t03": "test"})
    assert both == [{"tracks": {"t00": "train", "t01": "test"}, "test_and_seen": True}]
    preds = {"tracks": [{"track": t, "true": 0, "pred": 1 if t in ("t01", "t02") else 0} for t in ids[1:11]]}
    r = repeats.errors_on_repeats(found, preds)
    assert (r["test"], r["errors"], r["test_repeated"], r["errors_repeated"]) == (10, 2, 3, 2)
    assert r["expected"] == pytest.approx(0.6)
    assert r["p_more"] == pytest.approx(3 / 45, abs=1e-4)  # C(3,2)/C(10,2): both errors on the 3 repeats


@pytest.mark.heavy
def test_an_audio_folder_is_read_through_the_studios_feature_vector(tmp_path):
    from tests.helpers import make_gtzan

    root = make_gtzan(tmp_path / "g", per_genre=2, seconds=4, genres=("pop", "rock", "jazz", "blues", "metal"))
    y, sr = sf.read(root / "genres_original" / "pop" / "pop.00000.wav")
    sf.write(root / "genres_original" / "rock" / "rock.00005.wav", y * 0.999, sr)  # not byte-identical: read
    ids, genres, x = repeats.dataset_vectors(root)
    assert len(ids) == 11
    found = repeats.find_repeats(ids, genres, x)
    assert [(p.a, p.b, p.across_genres) for p in found.pairs] == [("pop.00000", "rock.00005", True)]


def test_the_cli_lists_them_as_text_and_json(tmp_path, capsys):
    table = table_with_copies(tmp_path / "t.csv")
    assert main(["repeats", "--data", str(table), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(p["a"], p["b"], p["across_genres"]) for p in out["pairs"]] == [
        ("pop.00001", "pop.00003", False), ("metal.00000", "rock.00002", True)]
    assert set(out["splits"]) == {"paper", "track", "filtered"}
    for s in out["splits"].values():  # each split's copies on both sides are named
        assert s["groups_split"] == len(s["groups"])
    assert main(["repeats", "--data", str(table)]) == 0
    text = capsys.readouterr().out
    assert "2 pairs of copies" in text and "metal.00000      rock.00002" in text and "ACROSS GENRES" in text


@pytest.mark.skipif(not KAGGLE_CSV.is_file(), reason="no real Kaggle table in ../shared (features_30_sec.csv)")
def test_the_real_tables_repeats_include_gtzans_known_copies(tmp_path):
    ids, genres, x = repeats.dataset_vectors(KAGGLE_CSV)
    found = repeats.find_repeats(ids, genres, x)
    pairs = {(p.a, p.b) for p in found.pairs}
    # among the exact repetitions Sturm (2013) lists, one of them filed under two genres
    for pair in [("metal.00058", "rock.00016"), ("pop.00015", "pop.00022"), ("reggae.00081", "reggae.00082"),
                 ("disco.00098", "disco.00099"), ("jazz.00033", "jazz.00051"), ("hiphop.00039", "hiphop.00045")]:
        assert pair in pairs, pair
    assert [(p.a, p.b) for p in found.pairs if p.across_genres] == [("metal.00058", "rock.00016")]
    assert 20 <= len(found.pairs) <= 40  # copies, not a genre's ordinary neighbours
    # the artist-filtered split keeps every copy on one side; the paper's random 80:20 does not
    assert repeats.straddling(found, repeats.protocol_parts(ids, genres, "filtered")) == []
    assert repeats.straddling(found, repeats.protocol_parts(ids, genres, "paper"))
