"""The map of how a run hears its dataset: every track's embedding (the input of the
model's last linear layer, averaged over its samples), PCA then t-SNE, the test errors
marked from the run's kept predictions, cached per run and dataset (the second drawing
reads the cache); `map RUN` prints it as a table or draws it as a picture."""

from __future__ import annotations

import csv
import json
import shutil
import time

import pytest

from gtzan_core.cli import main
from gtzan_core.insight import cells, embedding_map
from gtzan_core.runs import RunStore
from tests.helpers import train_tiny_mlp


@pytest.fixture(scope="module")
def trained(tiny_demo_set, tiny_features, tmp_path_factory):
    root = tmp_path_factory.mktemp("map-store")
    return root, train_tiny_mlp(tiny_demo_set, tiny_features, root)["run_id"], tiny_demo_set


@pytest.fixture
def store(trained, tmp_path):
    root, rid, ds = trained
    shutil.copytree(root, tmp_path / "runs")
    return RunStore(tmp_path / "runs"), rid, ds


@pytest.mark.heavy
def test_every_track_is_placed_with_its_errors_marked_and_the_second_drawing_is_cached(store):
    st, rid, ds = store
    said = []
    t0 = time.perf_counter()
    first = embedding_map.run_map(st, rid, progress=lambda done, total, msg: said.append((done, total, msg)))
    made = time.perf_counter() - t0
    assert sorted(t["track"] for t in first["tracks"]) == sorted(ds.tracks["track_id"])
    assert first["dimensions"] == 64 and "last linear layer" in first["layer"]  # the MLP's penultimate layer
    kept = {t["track"]: t for t in cells.stored(st, rid)["tracks"]}
    for t in first["tracks"]:
        assert t["part"] == ("test" if t["track"] in kept else "seen")
        if t["track"] in kept:
            assert t["error"] == (kept[t["track"]]["pred"] != kept[t["track"]]["true"])
        else:
            assert not t["error"]
    assert sum(t["error"] for t in first["tracks"]) == len(cells.errors(cells.stored(st, rid)))
    assert said and said[-1][2] == "done"
    t0 = time.perf_counter()
    again = embedding_map.run_map(st, rid, progress=lambda *a: pytest.fail("the cache was not read"))
    assert time.perf_counter() - t0 < min(1.0, made) and again == first


@pytest.mark.heavy
def test_the_cli_prints_the_map_as_a_table_and_draws_it(store, tmp_path, capsys):
    st, rid, ds = store
    out_csv, out_png = tmp_path / "map.csv", tmp_path / "map.png"
    assert main(["map", rid, "--runs", str(st.root), "--csv", str(out_csv), "--png", str(out_png)]) == 0
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == len(ds.tracks) and {"track", "genre", "pred", "x", "y", "part", "error"} <= set(rows[0])
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    capsys.readouterr()
    assert main(["map", rid, "--runs", str(st.root), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["tracks"]) == len(ds.tracks)


def test_a_small_set_projects_without_t_sne_failing():
    import numpy as np

    xy = embedding_map.project(np.random.default_rng(0).normal(size=(12, 5)))
    assert xy.shape == (12, 2) and np.isfinite(xy).all()
