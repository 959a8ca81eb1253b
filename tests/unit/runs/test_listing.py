"""The store's listing is shared by every caller of a process and refreshed only when
something changed: an unchanged store is not parsed again, whatever its size; after a
change only the records whose file changed are."""

import json
import os
import time

import pytest

import gtzan_core.runs.store as store_module
from gtzan_core.runs import RunStore, lifecycle
from tests.helpers import ROOT


@pytest.fixture
def parses(monkeypatch):
    """How many records the store has parsed (and checked) since the test began."""
    count = [0]
    real = store_module.parse_record

    def counted(run_id, data):
        count[0] += 1
        return real(run_id, data)

    monkeypatch.setattr(store_module, "parse_record", counted)
    return count


def settle(store: RunStore) -> None:
    """Date every file of the store a minute back (as if written long ago), so the
    listing may keep what it parsed."""
    old = time.time() - 60
    for path in [store.root, *store.root.rglob("*")]:
        os.utime(path, (old, old), follow_symlinks=False)


def test_an_unchanged_store_is_listed_without_reading_its_records(tmp_path, parses):
    store = RunStore(tmp_path)
    ids = [lifecycle.create(store, {"model": "mlp", "n": k}) for k in range(30)]
    settle(store)
    first = store.list()
    assert [r["run_id"] for r in first] == ids[::-1] and parses[0] >= 30
    before = parses[0]
    for _ in range(5):  # every page run of every visitor
        assert store.list() == first
        assert RunStore(tmp_path).list() == first  # another RunStore of the same folder shares it
    assert parses[0] == before


def test_after_a_change_only_the_changed_record_is_parsed_again(tmp_path, parses):
    store = RunStore(tmp_path)
    ids = [lifecycle.create(store, {"model": "mlp"}) for _ in range(20)]
    settle(store)
    store.list()
    before = parses[0]
    store.update(ids[3], note="new")
    listed = {r["run_id"]: r for r in store.list()}
    assert listed[ids[3]]["note"] == "new"
    assert parses[0] - before == 1


def test_runs_added_removed_or_damaged_by_hand_are_seen(tmp_path):
    store = RunStore(tmp_path)
    a = lifecycle.create(store, {"model": "mlp"})
    assert [r["run_id"] for r in store.list()] == [a]
    (tmp_path / "by-hand").mkdir()
    (tmp_path / "by-hand" / "record.json").write_text(json.dumps([]))  # a new folder: the store folder changed
    assert [d.run_id for d in store.damaged()] == ["by-hand"]
    b = lifecycle.create(store, {"model": "cnn"})
    assert {r["run_id"] for r in store.list()} == {a, b}
    import shutil

    shutil.rmtree(tmp_path / a)
    assert [r["run_id"] for r in store.list()] == [b]


def test_a_caller_changing_its_copy_changes_no_other_callers(tmp_path):
    store = RunStore(tmp_path)
    lifecycle.create(store, {"model": "mlp"})
    store.list()[0].data["model"] = "scribbled"  # (a record is read-only: only its JSON object could be changed)
    assert store.list()[0]["model"] == "mlp"


def test_another_process_writing_a_record_is_seen(tmp_path):
    import subprocess
    import sys

    store = RunStore(tmp_path)
    rid = lifecycle.create(store, {"model": "mlp"})
    settle(store)
    assert "from_child" not in store.list()[0]
    code = ("import sys; from gtzan_core.runs import RunStore; "
            "RunStore(sys.argv[1]).update(sys.argv[2], from_child=1)")
    subprocess.run([sys.executable, "-c", code, str(tmp_path), rid], check=True,
                   cwd=str(ROOT))
    assert store.list()[0]["from_child"] == 1


def test_the_pages_read_the_listing_itself_and_the_library_gets_copies(tmp_path):
    store = RunStore(tmp_path)
    lifecycle.create(store, {"model": "mlp"})
    settle(store)
    assert store.list(shared=True)[0] is store.list(shared=True)[0]
    assert store.list()[0] is not store.list(shared=True)[0]
