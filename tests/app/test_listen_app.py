"""Compare's listening under AppTest: a cell of a run's confusion matrix (or a row of its
per-class report, or a cell of an evaluation on another folder) lists the test tracks the
run's kept predictions put there, each with a player whose sound comes from the run's own
dataset; a dataset outside the folders the app may read is never played."""

from __future__ import annotations

from pathlib import Path

import pytest

from gtzan_core.insight import cells
from gtzan_core.runs import RunStore


@pytest.fixture
def two_runs(tiny_demo_set, tiny_features, monkeypatch, tmp_path):
    from gtzan_core.hparams import make_config
    from gtzan_core.jobs import JobSpec, train

    store = RunStore(tmp_path / "runs")
    monkeypatch.setenv("GTZAN_STUDIO_RUNS", str(store.root))
    ids = []
    for seed in (0, 1):
        config = make_config("mlp", epochs=1, device="cpu", seed=seed)
        ids.append(train(config, tiny_features, store, dataset_info=tiny_demo_set.run_info(),
                         spec=JobSpec(config, str(tiny_demo_set.root)))["run_id"])
    return store, ids, Path(tiny_demo_set.root)


def _open(demo_app, ids):
    at = demo_app("compare")
    at.session_state["compare_ids"] = ids
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _audio(at) -> list:
    return [e for e in at.main.get("audio")]


@pytest.mark.heavy
def test_a_cell_lists_its_tracks_with_players_and_a_row_lists_the_genre(two_runs, demo_app, monkeypatch):
    store, ids, demo = two_runs
    monkeypatch.setenv("GTZAN_STUDIO_DATA_ROOTS", str(demo.parent))
    at = _open(demo_app, ids)
    rid = ids[0]
    kept = cells.stored(store, rid)
    box = at.selectbox(key=f"listen-{rid}-track")
    wrong = next(t for t in kept["tracks"] if t["true"] != t["pred"])
    true, pred = kept["classes"][wrong["true"]], kept["classes"][wrong["pred"]]
    box.set_value(f"cell:{true}:{pred}").run()
    assert not at.exception, [e.value for e in at.exception]
    expected = [x.track for x in cells.cell_tracks(kept, true, pred)]
    table = next(d.value for d in at.dataframe if "p(predicted)" in d.value.columns)
    assert list(table["track"]) == expected and set(table["true"]) == {true} and set(table["predicted"]) == {pred}
    assert len(_audio(at)) == len(expected)
    # a row of the per-class report: the genre's tracks and those taken for it
    at.selectbox(key=f"listen-{rid}-track").set_value(f"row:{true}").run()
    table = next(d.value for d in at.dataframe if "p(predicted)" in d.value.columns)
    assert list(table["track"]) == [x.track for x in cells.class_tracks(kept, true)]
    assert len(_audio(at)) == min(len(table), 12)
    # the two runs: the tracks one gets right and the other wrong
    other = cells.stored(store, ids[1])
    disagree = cells.disagreements(kept, other)
    if disagree:
        shown = next(d.value for d in at.dataframe if "first predicts" in d.value.columns)
        assert list(shown["track"]) == [d["track"] for d in disagree]


@pytest.mark.heavy
def test_a_dataset_outside_the_readable_folders_is_listed_but_never_played(two_runs, demo_app, monkeypatch,
                                                                          tmp_path):
    store, ids, demo = two_runs
    monkeypatch.setenv("GTZAN_STUDIO_DATA_ROOTS", str(tmp_path / "nothing-here"))
    at = _open(demo_app, ids)
    rid = ids[0]
    kept = cells.stored(store, rid)
    first = kept["tracks"][0]
    true = kept["classes"][first["true"]]
    at.selectbox(key=f"listen-{rid}-track").set_value(f"row:{true}").run()
    assert not at.exception
    assert not _audio(at)
    assert any("Not here to play" in c.value for c in at.caption)


@pytest.mark.heavy
def test_an_external_evaluations_cell_lists_its_clips(two_runs, demo_app, monkeypatch, tmp_path):
    from gtzan_core.external import evaluate_folder
    from tests.helpers import labelled_folder

    store, ids, demo = two_runs
    folder = labelled_folder(tmp_path / "elsewhere")
    monkeypatch.setenv("GTZAN_STUDIO_DATA_ROOTS", str(tmp_path))
    ev = evaluate_folder([ids[0]], folder, store, label_map={"Hip-Hop": "hiphop"})[ids[0]]
    kept = cells.stored(store, ids[0], ev.folder)
    assert kept is not None and len(kept["tracks"]) == ev.n_scored
    assert cells.confusion_of(kept) == ev.scores.confusion
    at = _open(demo_app, ids)
    clip = kept["tracks"][0]
    true, pred = kept["classes"][clip["true"]], kept["classes"][clip["pred"]]
    at.selectbox(key=f"listen-{ids[0]}-ext-{ev.folder}").set_value(f"cell:{true}:{pred}").run()
    assert not at.exception, [e.value for e in at.exception]
    table = next(d.value for d in at.dataframe if "p(predicted)" in d.value.columns)
    assert list(table["track"]) == [x.track for x in cells.cell_tracks(kept, true, pred)]
    assert len(_audio(at)) == len(table)


@pytest.mark.heavy
def test_a_runs_map_is_drawn_on_demand_then_from_the_cache(two_runs, demo_app, monkeypatch):
    from gtzan_core.insight import embedding_map

    store, ids, demo = two_runs
    monkeypatch.setenv("GTZAN_STUDIO_DATA_ROOTS", str(demo.parent))
    at = _open(demo_app, ids)
    charts = len(at.get("plotly_chart"))
    assert embedding_map.cached_map(store, ids[0]) is None
    next(b for b in at.button if b.key == f"map-make-{ids[0]}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.get("plotly_chart")) == charts + 1
    found = embedding_map.cached_map(store, ids[0])
    assert found is not None and len(found["tracks"]) == 40
    at = _open(demo_app, ids)  # a new visit: read from the cache, no button to press
    assert len(at.get("plotly_chart")) == charts + 1
    assert not [b for b in at.button if b.key == f"map-make-{ids[0]}"]
    assert any(f"rings: the {sum(r['error'] for r in found['tracks'])} it got wrong" in c.value for c in at.caption)
