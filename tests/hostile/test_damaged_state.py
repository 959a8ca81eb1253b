"""Issue 41, item 6: the run store's own state files survive damage. A study journal with
a garbage line or a cut tail is reported as damaged (whose, which studies, what is wrong)
with a repair that keeps a backup, while other owners' studies, the listing and the Train
page go on; the change journal and lock files the same."""

from __future__ import annotations

import os

import pytest

from gtzan_core.errors import StudioError
from gtzan_core.runs import RunStore, lifecycle
from gtzan_core.runs.studies import DamagedJournal, journal_path, open_storage, repair_journal, study_names
from tests.helpers import run


def make_study(root, owner, name):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    optuna.create_study(study_name=f"{owner or 'local'}/{name}", storage=open_storage(root, owner))


@pytest.fixture
def store(tmp_path):
    store = RunStore(tmp_path / "runs")
    store.root.mkdir(parents=True)
    for owner in ("alice", "bob"):
        make_study(store.root, owner, "first")
    return store


def test_a_garbage_line_is_reported_naming_the_study_and_repaired_keeping_a_backup(store):
    path = journal_path(store.root, "alice")
    whole = path.read_bytes()
    with path.open("ab") as f:
        f.write(b"\xff\xfe\x00 not a record\n")
    with pytest.raises(DamagedJournal) as info:
        study_names(store.root, "alice")
    message = str(info.value)
    assert "the study journal of alice" in message and "studies: first" in message
    assert "line 2 is not UTF-8 text" in message and "backed up" in message and "\n" not in message
    assert study_names(store.root, "bob") == ["first"]  # another owner's studies go on
    backup = repair_journal(store.root, "alice")
    assert backup is not None and backup.read_bytes() == whole + b"\xff\xfe\x00 not a record\n"
    assert path.read_bytes() == whole and study_names(store.root, "alice") == ["first"]
    make_study(store.root, "alice", "second")
    assert study_names(store.root, "alice") == ["first", "second"]


def test_a_cut_tail_is_reported_and_new_studies_work_after_the_repair(store):
    path = journal_path(store.root, "bob")
    make_study(store.root, "bob", "second")
    data = path.read_bytes()
    path.write_bytes(data[:-10])  # the last record cut short
    with pytest.raises(DamagedJournal, match="line 2 is cut short"):
        study_names(store.root, "bob")
    with pytest.raises(DamagedJournal):  # (optuna's "AssertionError: Should not reach." before)
        make_study(store.root, "bob", "third")
    repair_journal(store.root, "bob")
    assert study_names(store.root, "bob") == ["first"]
    make_study(store.root, "bob", "third")
    assert study_names(store.root, "bob") == ["first", "third"]


def test_the_cli_checks_and_repairs_every_state_file(store, capsys):
    with journal_path(store.root, "alice").open("ab") as f:
        f.write(b"{not json\n")
    os.mkdir(store.root / ".changes")  # the change journal: a folder put in its place
    os.mkdir(store.root / ".audit.lock")
    code, out, _ = run(capsys, "repair", "--check", "--runs", store.root)
    assert code == 1 and "3 damaged state file(s)" in out
    assert "line 2 is not a JSON record" in out and "is a folder, not the change journal" in out
    code, out, _ = run(capsys, "repair", "--runs", store.root)
    assert code == 0 and "repaired 3 state file(s)" in out and out.count(".damaged-") == 3
    code, out, _ = run(capsys, "repair", "--check", "--runs", store.root)
    assert code == 0 and "no damaged state file" in out
    assert study_names(store.root, "alice") == ["first"]


def test_a_change_journal_that_is_a_folder_or_a_pipe_leaves_the_listing_working(tmp_path):
    from gtzan_core.hparams import make_config
    from gtzan_core.jobs import JobSpec, describe_job

    store = RunStore(tmp_path / "runs")
    rid = lifecycle.create(store, describe_job(JobSpec(make_config("mlp", epochs=1))))
    os.remove(store.root / ".changes")
    os.mkfifo(store.root / ".changes")  # a pipe: opening it to append or read would wait for ever
    store.update(rid, owner="alice")  # the change is still recorded (the listing rescans by stat)
    assert [r["run_id"] for r in RunStore(store.root).list()] == [rid]
    os.remove(store.root / ".changes")
    os.mkdir(store.root / ".changes")
    assert [r["run_id"] for r in RunStore(store.root).list()] == [rid]


def test_a_lock_file_that_is_a_folder_or_a_link_is_refused_in_one_line_and_repaired(tmp_path, capsys):
    from gtzan_core.hparams import make_config
    from gtzan_core.jobs import JobSpec, describe_job

    store = RunStore(tmp_path / "runs")
    rid = lifecycle.create(store, describe_job(JobSpec(make_config("mlp", epochs=1))))
    lock = store.path(rid) / ".lock"
    if lock.exists():
        lock.unlink()
    outside = tmp_path / "elsewhere.txt"
    lock.symlink_to(outside)
    with pytest.raises(StudioError, match=f"the lock file {lock} is a symbolic link, not a lock file"):
        store.update(rid, owner="alice")
    assert not outside.exists()  # nothing created through the link
    lock.unlink()
    os.mkdir(lock)
    with pytest.raises(StudioError, match="is a folder, not a lock file: the studio's state is damaged there"):
        store.update(rid, owner="alice")
    code, out, _ = run(capsys, "repair", "--runs", store.root)
    assert code == 0 and "repaired 1 state file(s)" in out
    assert store.update(rid, owner="alice")["owner"] == "alice"


@pytest.mark.heavy
def test_the_train_page_says_the_journal_is_damaged_offers_the_repair_and_draws_its_jobs(demo_app):
    store = RunStore()
    store.root.mkdir(parents=True, exist_ok=True)
    make_study(store.root, None, "mine")
    with journal_path(store.root, None).open("ab") as f:
        f.write(b"\x80garbage\n")
    at = demo_app("train")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("the study journal of local" in e.value and "is damaged" in e.value for e in at.error)
    assert "Jobs" in [h.value for h in at.subheader]
    at.button(key="search-repair").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert study_names(store.root, None) == ["mine"]
