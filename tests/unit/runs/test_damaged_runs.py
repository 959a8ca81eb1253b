"""Damaged run records: a record.json that is not JSON, not a record, or a record with a
missing or mistyped field is a damaged run, listed apart with what is wrong on every
page and command (never a traceback), and deleted like any run."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from gtzan_core import tables
from gtzan_core.cli import main
from gtzan_core.errors import CheckpointError
from gtzan_core.evaluation import evaluate
from gtzan_core.runs import RecordError, RunRecord, RunStore, lifecycle, record_problems
from gtzan_core.runs.record import RECORD, Spec
from gtzan_core.runs.trash import list_trash, move_to_trash, purge_entry, restore_run
from tests.helpers import ROOT, write_clip

#: A real record, every field the trainer writes (the shipped starter model's).
STARTER = json.loads((ROOT / "checkpoints" / "starter-gtzan-efficientnet_lite0" / "record.json").read_text())


def mistyped(**fields) -> dict:
    """A plain finished run's record with ``fields`` (its run id is its folder's unless given)."""
    return {"model": "cnn", "status": "finished", "protocol": "track", "owner": "bob", "created": 1.7e9, **fields}


#: folder -> (what record.json holds: text, bytes or a record, what the damaged list says)
DAMAGED = {
    "a-list": ("[]", "it holds a list, not a record"),
    "a-null": ("null", "it holds null, not a record"),
    "a-text": ('"x"', "it holds text, not a record"),
    "an-empty-object": ("{}", "it has no run_id; it has no model; it has no status"),
    "history-text": (mistyped(history="x"), "history is text ('x'), not a list"),
    "evaluation-list": (mistyped(evaluation=[]), "evaluation is a list, not an object"),
    "accuracy-text": (mistyped(evaluation={"segment": {**evaluate(np.eye(10), np.arange(10))["segment"],
                                                       "accuracy": "high"}}),
                      "evaluation.segment.accuracy is text ('high'), not a number"),
    "created-text": (mistyped(created="yesterday"), "created is text ('yesterday'), not a time"),
    "epochs-text": (mistyped(status="running", phase="training", config={"epochs": "many"}),
                    "config.epochs is text ('many'), not a number >= 1"),
    "unknown-status": (mistyped(status="exploded"), "status 'exploded' is not a status (queued, running"),
    "someone-elses": (mistyped(run_id="another-run"), "its run_id 'another-run' is not its folder's (someone-elses)"),
    "not-json": ("{not json", "record.json is not valid JSON"),
    "not-utf8": (b"\xff\xfe{\x00", "record.json is not valid JSON"),
}
#: The ones the brief names for every page (each kind of damage once).
PAGE_CASES = ["a-list", "a-null", "a-text", "an-empty-object", "history-text", "evaluation-list", "accuracy-text",
              "created-text", "epochs-text", "not-json"]


def damage(root: Path, names=tuple(DAMAGED)) -> None:
    for name in names:
        content, _ = DAMAGED[name]
        (root / name).mkdir(parents=True)
        if isinstance(content, dict):
            content = json.dumps({"run_id": name, **content})
        path = root / name / "record.json"
        path.write_bytes(content if isinstance(content, bytes) else content.encode())


def finished_run(store: RunStore, owner: str | None = None) -> str:
    rid = lifecycle.create(store, {"model": "cnn", "title": "CNN", "protocol": "track", "owner": owner})
    lifecycle.start(store, rid, "training")
    lifecycle.finish(store, rid, evaluation=evaluate(np.eye(10)[[0, 1, 1, 3]], np.array([0, 1, 2, 3])))
    return rid


# -- the store -----------------------------------------------------------------------

def test_the_store_lists_damaged_runs_apart_with_what_is_wrong(tmp_path):
    store = RunStore(tmp_path)
    good = finished_run(store)
    damage(tmp_path)
    (tmp_path / "a-fifo").mkdir()
    os.mkfifo(tmp_path / "a-fifo" / "record.json")  # never opened: reading it would wait forever
    assert [r["run_id"] for r in store.list()] == [good]
    found = {d.run_id: d for d in store.damaged()}
    assert sorted(found) == sorted([*DAMAGED, "a-fifo"])
    for name, (_, says) in DAMAGED.items():
        assert says in found[name].problem, (name, found[name].problem)
        with pytest.raises(RecordError) as exc:
            store.read(name)
        assert str(exc.value) == f"run {name}: {found[name].problem}" and "\n" not in str(exc.value)
    assert found["a-fifo"].problem == "record.json is not a regular file"
    assert found["history-text"].owner == "bob" and found["a-list"].owner is None  # when it can still be read
    records, damaged = store.scan()
    assert [r["run_id"] for r in records] == [good] and len(damaged) == len(found)


def test_a_damaged_field_is_named_with_its_place_and_what_it_needs():
    good = copy.deepcopy(STARTER)
    assert record_problems(good, good["run_id"]) == []
    bad = copy.deepcopy(good)
    bad["history"][3]["val_loss"] = [1]
    bad["evaluation"]["track"]["confusion"] = [[1, 2], [3]]
    bad["starter"].pop("mean")
    assert record_problems(bad) == [
        "history[3].val_loss is a list, not a number",
        "evaluation.track.confusion is a list, not a square matrix (a list of n lists of n numbers, n from 1 to 10)",
        "starter has no mean"]
    assert record_problems({**good, "pid": 2 ** 40}) == ["pid is a number (1099511627776), not a number from 0 to "
                                                         "2147483647"]
    assert record_problems({**good, "created": float("nan")}) == ["created is a number (nan), not a time (seconds "
                                                                  "since 1970)"]
    assert record_problems({**good, "evaluation": {}, "history": [], "split_warnings": None}) == []  # none yet


# every JSON value of a wrong kind, and the numbers that break readers (NaN, huge, negative)
HOSTILE = ["x", "", 3, -1, 0.5, 1e300, float("nan"), float("inf"), True, [], [1], {}, {"a": 1}]


def _paths(spec: dict[str, Spec], prefix=()):
    for key, sub in spec.items():
        yield (*prefix, key)
        yield from _paths(sub.fields, (*prefix, key))


def _set(record: dict, path: tuple, value) -> bool:
    node = record
    for key in path[:-1]:
        node = node.get(key)
        if not isinstance(node, dict):
            return False
    node[path[-1]] = value
    return True


def _every_reader(record: dict) -> None:
    """What the pages, the CLI and the reports read from a record of the store."""
    from gtzan_core.cli.training import _print_evaluation
    from gtzan_core.reproduction import comparison_table, protocol_table
    from gtzan_core.reproduction.transfer import transfer_table
    from gtzan_core.share.card import model_card
    from gtzan_core.webapp.formatting import empty_jobs_text, job_progress, plan_estimate, run_label

    records = [record]
    for frame in (tables.runs_frame, tables.unfinished_frame, tables.home_frame):
        tables.strings(frame(records))
    evaluation = record.get("evaluation")
    if evaluation:
        for level in ("track", "segment"):
            tables.compare_frame(records, level)
            tables.report_table(evaluation.get(level) or evaluation["segment"])
        model_card(record)
        _print_evaluation(record)
    for status in ("queued", "running", record["status"]):
        job_progress({**record, "status": status})
    run_label(record)
    empty_jobs_text(records, "bob", "mine")
    plan_estimate([], records, 100)
    protocol_table(records)
    comparison_table(records)
    transfer_table(records)


def test_every_reader_survives_any_record_the_store_accepts(tmp_path, capsys):
    """Each field the readers use, set to each hostile value: the record is damaged, or
    every reader copes with it (nothing in between)."""
    from gtzan_core.leaderboard import leaderboard

    store = RunStore(tmp_path)
    accepted = 0
    store.path("r1").mkdir(parents=True)
    base = json.dumps({**STARTER, "run_id": "r1", "history": STARTER["history"][:3]})  # (a short history: quicker)
    for path in _paths(RECORD):
        for value in HOSTILE:
            record = json.loads(base)
            if not _set(record, path, value) or record_problems(record, "r1"):
                continue
            accepted += 1
            try:
                _every_reader(record)  # (a job's progress at each status too)
                store.write_record("r1", RunRecord(record))
                leaderboard(store)
            except Exception as exc:  # pragma: no cover - what the test is for
                pytest.fail(f"{'.'.join(path)} = {value!r} passed as valid, and broke a reader: "
                            f"{type(exc).__name__}: {exc}")
    assert accepted > 100  # free fields (texts, flags, objects) took values of their own kind


# -- deleting and purging ------------------------------------------------------------

def test_damaged_runs_are_deleted_to_the_trash_and_purged(tmp_path):
    store = RunStore(tmp_path)
    damage(tmp_path, ["a-list", "history-text", "not-json"])
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "record.json").write_text(json.dumps(mistyped(run_id="busy", status="running",
                                                                       history="x")))
    with pytest.raises(CheckpointError, match=r"run 'busy' is running \(its record is damaged\); stop it before"):
        move_to_trash(store, "busy")
    for name in ("a-list", "history-text", "not-json"):
        entry = move_to_trash(store, name, who="admin")
        assert entry.record is None and not (tmp_path / name).exists()
    assert [d.run_id for d in store.damaged()] == ["busy"]
    trash = {e.run_id: e for e in list_trash(store)}
    assert trash["history-text"].owner == "bob" and trash["a-list"].owner is None
    assert "history is text" in trash["history-text"].problem
    assert trash["not-json"].problem == "record.json is missing or unreadable"
    with pytest.raises(CheckpointError, match="trash entry a-list@.* cannot be restored: record.json is not a valid"):
        restore_run(store, "a-list", "admin")
    for name in ("a-list", "history-text", "not-json"):
        assert purge_entry(store, name, "admin") == name
    assert list_trash(store) == []


# -- the CLI -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def trained(tiny_features, tmp_path_factory):
    """A store with a trained run (its checkpoint too) and every kind of damaged run."""
    from gtzan_core.hparams import make_config
    from gtzan_core.jobs import train

    root = tmp_path_factory.mktemp("damaged-store")
    rid = train(make_config("mlp", epochs=1, device="cpu"), tiny_features, RunStore(root))["run_id"]
    damage(root)
    return root, rid


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_runs_lists_the_damaged_runs_after_the_table(trained, capsys):
    root, rid = trained
    code, out, err = cli(capsys, "runs", "--runs", root, "--no-paper")
    assert code == 0 and not err and rid in out
    lines = [line for line in out.splitlines() if line.startswith("damaged: ")]
    assert len(lines) == len(DAMAGED)
    for name, (_, says) in DAMAGED.items():
        assert any(line.startswith(f"damaged: {name}: ") and says in line and f"--delete {name}" in line
                   for line in lines), name
    code, out, err = cli(capsys, "runs", "--runs", root, "--json", "--no-paper")
    assert code == 0 and [row["run_id"] for row in json.loads(out)] == [rid]  # the list, as before
    assert err.startswith(f"warning: {len(DAMAGED)} damaged run(s) left out: ") and "runs --damaged" in err
    code, out, err = cli(capsys, "runs", "--runs", root, "--damaged", "--json")
    listed = {d["run_id"]: d for d in json.loads(out)}
    assert code == 0 and sorted(listed) == sorted(DAMAGED) and listed["history-text"]["owner"] == "bob"
    assert all(DAMAGED[n][1] in d["problem"] for n, d in listed.items())


def test_evaluate_predict_and_export_work_beside_damaged_runs_and_name_them(trained, tmp_path, capsys):
    root, rid = trained
    code, out, _ = cli(capsys, "evaluate", rid, "--runs", root)
    assert code == 0 and "accuracy" in out
    clip = write_clip(tmp_path / "c.wav", "rock", 4.0)
    code, out, err = cli(capsys, "predict", clip, "--runs", root, "--json")
    assert code == 0 and list(json.loads(out)) == [rid, "answer"] and "Traceback" not in err  # the default answer last
    code, _, _ = cli(capsys, "export", rid, "--out", tmp_path / "run.zip", "--runs", root)
    assert code == 0 and (tmp_path / "run.zip").is_file()
    for name in PAGE_CASES:
        for argv in (("evaluate", name), ("export", name, "--out", tmp_path / f"{name}.zip"),
                     ("predict", clip, "--run", name)):
            code, out, err = cli(capsys, *argv, "--runs", root)
            assert code == 2 and err.count("\n") == 1 and err.startswith("error: run ") and name in err, (argv, err)
            assert DAMAGED[name][1] in err and "Traceback" not in err, (argv, err)
        assert not (tmp_path / f"{name}.zip").exists()


def test_the_cli_deletes_and_purges_a_damaged_run(tmp_path, capsys):
    damage(tmp_path, ["a-null"])
    code, out, _ = cli(capsys, "runs", "--runs", tmp_path, "--delete", "a-null")
    assert code == 0 and out.startswith("moved damaged run a-null to the trash") and "--purge a-null" in out
    code, out, _ = cli(capsys, "runs", "--runs", tmp_path, "--purge", "a-null")
    assert code == 0 and out.strip() == "purged run a-null for good"
    assert not list(tmp_path.glob("a-null*")) and not list_trash(RunStore(tmp_path))


# -- every page ----------------------------------------------------------------------

@pytest.fixture
def app_store(tiny_features, monkeypatch):
    """The studio's store: two trained runs (Compare, Predict) and every damaged record."""
    from gtzan_core.hparams import make_config
    from gtzan_core.jobs import train

    monkeypatch.setenv("GTZAN_STUDIO_DEMO_PER_GENRE", "4")
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_SECONDS", "6.2")
    monkeypatch.chdir(ROOT)
    store = RunStore()
    ids = [train(make_config(m, epochs=1, device="cpu"), tiny_features, store)["run_id"] for m in ("mlp", "cnn")]
    damage(store.root, PAGE_CASES)
    return store, ids


def page(name: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page(f"pages/{name}.py")
    return at.run()


def table(at: AppTest, *columns: str):
    """The page's st.dataframe with these columns (the damaged runs', the trash's), or None."""
    return next((d.value for d in at.dataframe if list(d.value.columns[:len(columns)]) == list(columns)), None)


DAMAGED_TABLE, TRASH_TABLE = ("run", "owner", "problem"), ("entry", "run")


def no_exception(at: AppTest, name: str) -> AppTest:
    assert not at.exception, (name, [e.value for e in at.exception])
    return at


def test_every_page_renders_beside_damaged_runs(app_store, tmp_path):
    store, ids = app_store
    for name in ("home", "train", "compare", "predict", "leaderboard", "reproduction"):
        no_exception(page(name), name)
    at = page("predict")
    clip = write_clip(tmp_path / "song.wav", "metal", seconds=4.0)
    at.file_uploader[0].set_value(("song.wav", clip.read_bytes(), "audio/wav")).run()
    no_exception(at, "predict with an upload")
    assert any("Default answer" in m.label for m in at.metric)
    board = no_exception(page("leaderboard"), "leaderboard")
    assert set(ids) <= set(board.dataframe[0].value["run"])
    damaged = table(board, *DAMAGED_TABLE)
    assert sorted(damaged["run"]) == sorted(PAGE_CASES)
    for name in PAGE_CASES:
        assert DAMAGED[name][1] in damaged.set_index("run").loc[name, "problem"], name
    # deleted from the page (a personal studio: anyone may)
    board.selectbox(key="delete-damaged").set_value("a-list").run()
    board.button(key="delete-damaged-run").click().run()
    no_exception(board, "leaderboard after a delete")
    assert any("Moved damaged run a-list to the trash" in s.value for s in board.success)
    assert "a-list" not in table(board, *DAMAGED_TABLE)["run"].tolist()
    assert "a-list" in table(board, *TRASH_TABLE)["run"].tolist()


def test_on_a_classroom_instance_the_owner_or_the_admin_deletes_a_damaged_run(classroom, monkeypatch):
    from tests.helpers.classroom import visitor

    store = RunStore()
    store.root.mkdir(parents=True, exist_ok=True)
    damage(store.root, ["history-text", "a-list"])  # bob's (its owner can still be read), nobody's
    alice = visitor("leaderboard", "alice")
    assert not alice.exception and sorted(table(alice, *DAMAGED_TABLE)["run"]) == ["a-list",
                                                                                                   "history-text"]
    assert not [s for s in alice.selectbox if s.key == "delete-damaged"]  # neither is hers
    assert any("owner cannot be read" in c.value and "admin only" in c.value for c in alice.caption)
    bob = visitor("leaderboard", "bob")
    assert bob.selectbox(key="delete-damaged").options == ["history-text"]
    bob.selectbox(key="delete-damaged").set_value("history-text").run()
    bob.button(key="delete-damaged-run").click().run()
    assert not bob.exception and [d.run_id for d in store.damaged()] == ["a-list"]
    bob.sidebar.text_input(key="admin-password").input("s3cret")
    bob.sidebar.button(key="admin-sign-in").click().run()
    assert bob.selectbox(key="delete-damaged").options == ["a-list"]
    bob.selectbox(key="delete-damaged").set_value("a-list").run()
    bob.button(key="delete-damaged-run").click().run()
    assert not bob.exception and store.damaged() == []
    assert sorted(e.run_id for e in list_trash(store)) == ["a-list", "history-text"]
