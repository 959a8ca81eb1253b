"""Runs evaluated on another labelled folder (`evaluate RUN --data FOLDER`): the folder's
files one by one (refused ones named with why, the evaluation going on), labels mapped
or out of scope, tracks the run trained on left out, the result saved with the run and
shown by the card, Compare and the Leaderboard."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gtzan_core import GENRES
from gtzan_core.cli import main
from gtzan_core.runs import RunRecord, RunStore, record_problems
from tests.helpers import ROOT, labelled_folder, tone

SHARED = ROOT.parent / "shared" / "data" / "gtzan-real"


@pytest.fixture(scope="module")
def trained(tiny_demo_set, tiny_features, tmp_path_factory):
    """A store holding one tiny MLP run trained on the tiny demo set, and that set's folder."""
    from gtzan_core.hparams import make_config
    from gtzan_core.jobs import train

    root = tmp_path_factory.mktemp("external-store")
    record = train(make_config("mlp", epochs=1, device="cpu"), tiny_features, RunStore(root),
                   dataset_info=tiny_demo_set.run_info())
    return root, record["run_id"], Path(tiny_demo_set.root)


@pytest.fixture
def store(trained, tmp_path):
    """A copy of the trained store for one test (each test saves its own evaluations)."""
    root, rid, demo = trained
    shutil.copytree(root, tmp_path / "runs")
    return RunStore(tmp_path / "runs"), rid, demo


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.heavy
def test_the_cli_scores_what_it_can_read_and_names_what_it_refuses(store, tmp_path, capsys):
    from gtzan_core.inference import predict

    st, rid, _ = store
    folder = labelled_folder(tmp_path / "other")
    code, out, err = cli(capsys, "evaluate", rid, "--data", folder, "--map", "Hip-Hop=hiphop", "--runs", st.root)
    assert code == 0, err
    assert f"run {rid}: mlp (trained on synthetic demo), evaluated on other" in out
    assert "files 10: scored 5, refused 4, out of scope 1 (polka 1), left out as seen in training 0" in out
    refused = {line.split(":", 1)[0].split()[-1]: line for line in out.splitlines() if line.startswith("  refused ")}
    assert set(refused) == {"rock/notes.txt", "rock/fake.wav", "rock/bad.wav", "jazz/short.wav"}
    assert "not an audio file" in refused["rock/notes.txt"]
    assert "looks like a text file" in refused["rock/fake.wav"]
    assert "not a readable audio file" in refused["rock/bad.wav"]
    assert "at least 1.5 s is needed" in refused["jazz/short.wav"]
    assert "per-class report (clips)" in out and "confusion matrix" in out and "a handful" in out
    # JSON: the same evaluation (it replaces the first: one per folder)
    code, out, _ = cli(capsys, "evaluate", rid, "--data", folder, "--map", "Hip-Hop=hiphop", "--runs", st.root,
                       "--json")
    result = json.loads(out)
    ev = result["runs"][rid]
    assert code == 0 and result["data"] == str(folder.resolve()) and ev["saved"]
    assert (ev["n_files"], ev["n_scored"], ev["n_refused"], ev["n_out_of_scope"], ev["n_dropped"]) == (10, 5, 4, 1, 0)
    assert ev["label_map"] == {"Hip-Hop": "hiphop"} and ev["out_of_scope"] == {"polka": 1}
    cm = np.array(ev["scores"]["confusion"])
    assert cm.shape == (10, 10) and cm.sum() == 5 and ev["accuracy"] == pytest.approx(np.trace(cm) / 5)
    assert cm[GENRES.index("rock")].sum() == 2 and cm[GENRES.index("hiphop")].sum() == 1
    assert set(ev["scores"]["report"]) == {"hiphop", "jazz", "rock", "macro avg", "weighted avg"}
    # each clip predicted as Predict does: the confusion's columns are predict()'s answers
    tops = [predict(f, [rid], st).results[rid].top for f in sorted(folder.glob("rock/clip*.wav"))]
    assert all(cm[GENRES.index("rock"), GENRES.index(t)] >= tops.count(t) for t in tops)
    # saved with the run, once for the folder, valid
    record = st.read(rid)
    assert list(record["external_evaluations"]) == [str(folder.resolve())] and record_problems(record) == []
    saved = RunRecord(record).external_evaluations[0]
    assert saved.n_scored == 5 and saved.accuracy == ev["accuracy"] and saved.scores.n == 5
    # evaluate shows it without --data; --json carries it
    code, out, _ = cli(capsys, "evaluate", rid, "--runs", st.root)
    assert code == 0 and f"evaluated on other: clip accuracy {ev['accuracy']:.3f} (n=5 of 10 files" in out
    code, out, _ = cli(capsys, "evaluate", rid, "--runs", st.root, "--json")
    assert code == 0 and json.loads(out)["external_evaluations"][str(folder.resolve())]["n_scored"] == 5


@pytest.mark.heavy
def test_an_unmapped_label_is_out_of_scope_and_a_second_folder_is_kept_beside_the_first(store, tmp_path, capsys):
    st, rid, _ = store
    first = labelled_folder(tmp_path / "first")
    code, out, _ = cli(capsys, "evaluate", rid, "--data", first, "--runs", st.root, "--json")
    ev = json.loads(out)["runs"][rid]
    assert code == 0 and ev["out_of_scope"] == {"Hip-Hop": 1, "polka": 1} and ev["n_scored"] == 4
    second = tmp_path / "second"
    tone(second / "genres_original" / "metal" / "m.wav", "metal")  # the Kaggle layout
    code, out, _ = cli(capsys, "evaluate", rid, "--data", second, "--runs", st.root, "--json")
    assert code == 0 and json.loads(out)["runs"][rid]["name"] == "second"
    evs = RunRecord(st.read(rid)).external_evaluations
    assert [e.name for e in evs] == ["second", "first"]  # newest first


@pytest.mark.parametrize("make,says", [
    (lambda p: p.mkdir(), "no label folders"),
    (lambda p: (p / "rock").mkdir(parents=True), "its label folders (rock) hold no files"),
    (lambda p: None, "no such folder"),
])
def test_a_folder_without_labelled_files_is_one_clear_line(store, tmp_path, capsys, make, says):
    st, rid, _ = store
    make(tmp_path / "empty")
    code, out, err = cli(capsys, "evaluate", rid, "--data", tmp_path / "empty", "--runs", st.root)
    assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("error: ") and says in err
    assert "external_evaluations" not in st.read(rid)


def test_nothing_to_score_saves_nothing_and_a_bad_map_is_refused(store, tmp_path, capsys):
    st, rid, _ = store
    folder = tmp_path / "polkas"
    tone(folder / "polka" / "p.wav", "pop")
    (folder / "rock").mkdir()
    (folder / "rock" / "x.wav").write_text("text")
    code, out, err = cli(capsys, "evaluate", rid, "--data", folder, "--runs", st.root)
    assert code == 2 and "nothing was scored" in err and "nothing scored: not saved" in out
    assert "external_evaluations" not in st.read(rid)
    for bad, says in (("polka=techno", "'techno' is not one of GTZAN's genres"), ("polka", "expected LABEL=GENRE"),
                      ("waltz=pop", "no label folder named 'waltz'")):
        code, _, err = cli(capsys, "evaluate", rid, "--data", folder, "--map", bad, "--runs", st.root)
        assert code == 2 and says in err and err.count("\n") == 1, (bad, err)
    code, out, _ = cli(capsys, "evaluate", rid, "--data", folder, "--map", "polka=pop", "--runs", st.root, "--json")
    assert code == 0 and json.loads(out)["runs"][rid]["n_scored"] == 1


def test_tracks_the_run_trained_on_are_left_out_and_said(store, tmp_path, capsys):
    st, rid, demo = store
    record = st.read(rid)
    seen = record["split"]["seen_tracks"]
    assert len(seen) == record["split"]["train"] // 2 + record["split"]["val"] // 2  # 2 segments a track
    demo_tracks = {p.stem: p for p in demo.rglob("*.wav")}
    unseen = sorted(set(demo_tracks) - set(seen))
    assert unseen and seen  # the test part is unseen
    folder = tmp_path / "demo-again"
    for tid in (seen[0], unseen[0]):
        genre = tid.split(".")[0]
        (folder / genre).mkdir(parents=True, exist_ok=True)
        shutil.copy(demo_tracks[tid], folder / genre / demo_tracks[tid].name)
    (folder / "SYNTHETIC_DEMO.json").write_text("{}")  # a synthetic set: its names are the demo set's tracks
    code, out, _ = cli(capsys, "evaluate", rid, "--data", folder, "--runs", st.root, "--json")
    ev = json.loads(out)["runs"][rid]
    assert code == 0 and (ev["n_scored"], ev["n_dropped"]) == (1, 1)
    assert ev["dropped"] == [{"path": f"{seen[0].split('.')[0]}/{demo_tracks[seen[0]].name}",
                              "reason": f"the run trained or was chosen on track {seen[0]}"}]
    # the same names in a folder of real music name other tracks: nothing is left out
    (folder / "SYNTHETIC_DEMO.json").unlink()
    code, out, _ = cli(capsys, "evaluate", rid, "--data", folder, "--runs", st.root, "--json")
    assert code == 0 and (json.loads(out)["runs"][rid]["n_scored"], json.loads(out)["runs"][rid]["n_dropped"]) == (2, 0)


def test_a_run_recorded_before_it_kept_its_tracks_drops_its_whole_training_folder(store, tmp_path):
    from gtzan_core.external import evaluate_folder

    st, rid, demo = store
    record = st.read(rid)
    del record["split"]["seen_tracks"]
    st.write_record(rid, record)
    folder = tmp_path / "copy"
    shutil.copytree(demo, folder)
    ev = evaluate_folder([rid], folder, st, save=False)[rid]
    assert ev.n_scored == 0 and ev.n_dropped == ev.n_files == len(list(demo.rglob("*.wav")))
    assert "does not record which tracks it trained on: every track of its training folder" in ev.notes[0]


def test_a_record_without_the_field_loads_and_a_damaged_one_is_named(store):
    st, rid, _ = store
    record = st.read(rid)
    assert "external_evaluations" not in record and RunRecord(record).external_evaluations == []
    bad = {**record, "external_evaluations": {"/x": {"folder": "/x", "accuracy": "high", "n_files": -1}}}
    problems = record_problems(bad)
    assert any("external_evaluations./x.accuracy" in p for p in problems)
    assert any("external_evaluations./x.n_files" in p for p in problems)
    assert record_problems({**record, "external_evaluations": {"/x": {"name": "x"}}}) == [
        "external_evaluations./x has no folder"]


def test_only_the_owner_or_the_admin_attaches_an_evaluation_on_a_classroom_instance(store, tmp_path):
    from gtzan_core.classroom import PermissionDenied
    from gtzan_core.classroom.rules import Settings
    from gtzan_core.external import evaluate_folder

    st, rid, _ = store
    st.update(rid, owner="alice")
    folder = tmp_path / "f"
    tone(folder / "rock" / "r.wav")
    classroom = Settings(mode="classroom")
    with pytest.raises(PermissionDenied, match=f"attach an evaluation to only your own runs .*run {rid} belongs to "
                                               "alice"):
        evaluate_folder([rid], folder, st, settings=classroom, user="bob", admin=False)
    assert "external_evaluations" not in st.read(rid)
    assert evaluate_folder([rid], folder, st, settings=classroom, user="alice", admin=False)[rid].n_scored == 1
    assert evaluate_folder([rid], folder, st, settings=classroom, user="bob", admin=True)[rid].n_scored == 1


def test_the_card_has_a_section_per_folder_with_its_name_as_text(store, tmp_path):
    from gtzan_core.external import evaluate_folder
    from gtzan_core.share.card import model_card

    st, rid, _ = store
    folder = tmp_path / "a*b[x](http:__e.com)"
    tone(folder / "rock" / "r.wav")
    tone(folder / "<i>Waltz&amp;" / "w.wav", "pop")
    evaluate_folder([rid], folder, st)
    card = model_card(st.read(rid))
    assert "## Evaluated on a\\*b\\[x\\]\\(http\\:\u2060\\_\\_e\\.com\\)" in card
    assert f"Folder `{folder.resolve()}`" in card
    assert "\\<i\\>Waltz\\&amp; (1)" in card and "<i>" not in card
    assert "| 2 | 1 | 0 | 1 | 0 |" in card and "| rock |" in card and "a handful" in card
    assert "## Evaluated on" not in model_card(st.read(rid).updated(external_evaluations=None))


@pytest.mark.heavy
def test_compare_and_the_leaderboard_show_it(store, tmp_path, monkeypatch, demo_app):
    from gtzan_core.external import evaluate_folder

    st, rid, _ = store
    folder = labelled_folder(tmp_path / "elsewhere")
    ev = evaluate_folder([rid], folder, st, label_map={"Hip-Hop": "hiphop"})[rid]
    monkeypatch.setenv("GTZAN_STUDIO_RUNS", str(st.root))

    def page(name):
        return demo_app(name).run()

    board = page("leaderboard")
    assert not board.exception, [e.value for e in board.exception]
    grid = board.dataframe[0].value.set_index("run")
    assert grid.loc[rid, "external acc."] == pytest.approx(ev.accuracy)
    assert grid.loc[rid, "evaluated on"] == "elsewhere · 5 clips"
    compare = page("compare")
    assert not compare.exception, [e.value for e in compare.exception]
    assert any(s.value == "Evaluated on other folders" for s in compare.subheader)
    shown = next(t.value for t in compare.table if "evaluated on" in t.value.columns)
    assert list(shown["evaluated on"]) == ["elsewhere"] and list(shown["clips scored"]) == ["5"]
    assert list(shown["accuracy there"]) == [f"{ev.accuracy:.3f}"]
    assert any(f"**Evaluated on elsewhere** · 5 clips, accuracy {ev.accuracy:.3f}" in m.value
               for m in compare.markdown)


@pytest.mark.skipif(not (SHARED / "genres_original").is_dir(), reason="no real GTZAN clips in ../shared")
def test_the_real_full_clips_as_a_labelled_folder():
    from gtzan_core.external import scan_folder

    found = scan_folder(SHARED / "genres_original")
    assert found.name == "gtzan-real/genres_original" and not found.synthetic
    assert len(found.files) == 37 and {label for _, label in found.files} == set(GENRES)


def test_several_runs_at_once_each_with_its_own_result(store, tmp_path, capsys):
    st, rid, _ = store
    twin = f"{rid}-twin"
    shutil.copytree(st.path(rid), st.path(twin))
    st.write_record(twin, st.read(rid).updated(run_id=twin))
    folder = tmp_path / "f"
    tone(folder / "rock" / "r.wav")
    tone(folder / "jazz" / "j.wav", "jazz")
    code, out, _ = cli(capsys, "evaluate", rid, twin, "--data", folder, "--runs", st.root, "--json")
    runs = json.loads(out)["runs"]
    assert code == 0 and list(runs) == [rid, twin] and all(ev["n_scored"] == 2 for ev in runs.values())
    assert runs[rid]["scores"]["confusion"] == runs[twin]["scores"]["confusion"]  # the same weights
    code, out, _ = cli(capsys, "evaluate", rid, twin, "--runs", st.root)
    assert code == 0 and out.count("evaluated on f: clip accuracy") == 2
    code, out, _ = cli(capsys, "evaluate", rid, twin, "--runs", st.root, "--json")
    assert code == 0 and [r["run_id"] for r in json.loads(out)] == [rid, twin]
    code, _, err = cli(capsys, "evaluate", rid, "--map", "a=rock", "--runs", st.root)
    assert code == 2 and "--map is for --data FOLDER" in err


def test_hostile_files_are_refused_one_by_one_without_stopping(store, tmp_path):
    import os

    from gtzan_core.external import evaluate_folder

    st, rid, _ = store
    rock = tmp_path / "hostile" / "rock"
    good = tone(rock / "good.wav")
    os.mkfifo(rock / "pipe.wav")  # never opened: reading it would wait forever
    (rock / "empty.flac").write_bytes(b"")
    (rock / "picture.mp3").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    sf.write(rock / "nan.wav", np.array([0.1, np.nan] * 22050, np.float32), 22050, subtype="FLOAT")
    cut = good.read_bytes()
    (rock / "cut.wav").write_bytes(cut[:len(cut) // 2])  # a copy cut short: what is there is analysed
    (rock / "dangling.wav").symlink_to(tmp_path / "nowhere.wav")
    ev = evaluate_folder([rid], tmp_path / "hostile", st, save=False)[rid]
    reasons = {r["path"]: r["reason"] for r in ev.refused}
    assert (ev.n_files, ev.n_scored, ev.n_refused) == (7, 2, 5)
    assert "not a regular file" in reasons["rock/pipe.wav"] and "empty" in reasons["rock/empty.flac"]
    assert "PNG picture" in reasons["rock/picture.mp3"] and "NaN" in reasons["rock/nan.wav"]
    assert "no such file" in reasons["rock/dangling.wav"]
    assert all("\n" not in r for r in reasons.values())
