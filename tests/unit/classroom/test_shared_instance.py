"""A shared instance a class can trust: claimed names, limited guessing, a trash
instead of deletion, an audit log, storage quotas, a full disk, a readable board."""

import errno
import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from gtzan_core.audit import read_audit
from gtzan_core.classroom import QuotaExceeded, Settings
from gtzan_core.classroom.attempts import AttemptLimiter, TooManyAttempts
from gtzan_core.classroom.names import NameRegistry
from gtzan_core.classroom.quota import check_storage
from gtzan_core.errors import CheckpointError, StudioError
from gtzan_core.hparams import make_config
from gtzan_core.inference import predict
from gtzan_core.jobs import train
from gtzan_core.runs import RunStore
from gtzan_core.runs.trash import list_trash, move_to_trash, purge_entry, purge_expired, restore_run, usage_by_owner
from tests.helpers import ROOT, write_clip

# -- names -----------------------------------------------------------------------------------------------------


def test_a_claimed_name_is_stored_as_a_salted_slow_hash_only(studio_home):
    reg = NameRegistry()
    assert reg.claim("  Alice ", "correct horse") == "Alice"
    assert reg.is_claimed("alice") and reg.is_claimed("ALICE")  # case-insensitive
    assert reg.verify("alice", "correct horse") and not reg.verify("alice", "wrong horse")
    assert not reg.verify("bob", "correct horse")  # unclaimed: nothing to verify against
    text = (studio_home / "names.json").read_text()
    assert "correct horse" not in text
    entry = json.loads(text)["names"]["alice"]
    assert len(bytes.fromhex(entry["salt"])) == 16 and entry["n"] == 2 ** 14
    other = NameRegistry()
    other.claim("carol", "correct horse")  # the same passcode, another salt, another hash
    assert json.loads((studio_home / "names.json").read_text())["names"]["carol"]["hash"] != entry["hash"]
    with pytest.raises(StudioError, match="already taken"):
        reg.claim("ALICE", "another one")
    assert reg.reset("Alice") and not reg.is_claimed("alice")
    assert reg.claim("alice", "a new passcode") and reg.verify("alice", "a new passcode")


@pytest.mark.parametrize("name,passcode,message", [
    ("bob", "", "enter a passcode"),
    ("bob", "abc", "at least 4 characters"),
    ("bob", "x" * 129, "at most 128 characters"),
    ("   ", "good passcode", "at least one letter or digit"),
    ("\x00\x07\t", "good passcode", "at least one letter or digit"),
    ("---", "good passcode", "is not a name"),
])
def test_bad_names_and_passcodes_are_refused_and_change_nothing(studio_home, name, passcode, message):
    reg = NameRegistry()
    with pytest.raises(StudioError, match=message):
        reg.claim(name, passcode)
    assert reg.claimed() == []


def test_wrong_attempts_wait_longer_and_longer_and_a_right_one_is_never_delayed():
    now = [1000.0]
    lim = AttemptLimiter(clock=lambda: now[0], free_tries=5, base_wait=30, max_wait=3600)
    keys = (("name", "alice"), ("session", "bob's"))
    for _ in range(5):
        assert lim.attempt("passcode", keys, lambda: False) is False
    with pytest.raises(TooManyAttempts, match=r"try again in 31 s"):
        lim.attempt("passcode", keys, lambda: True)  # refused before it is even compared
    now[0] += 31
    assert lim.attempt("passcode", keys, lambda: False) is False  # the 6th wrong one: 60 s now
    assert 59 < lim.wait_left(*keys) <= 60
    now[0] += 61
    calls = []
    assert lim.attempt("passcode", keys, lambda: calls.append(1) or True) is True and calls == [1]
    assert lim.wait_left(*keys) == 0  # a right answer clears the count
    # another session guessing alice's passcode is held by the name's count too
    for _ in range(5):
        lim.failed(("name", "alice"), ("session", "mallory"))
    with pytest.raises(TooManyAttempts):
        lim.check("passcode", ("name", "alice"), ("session", "someone else"))


# -- the trash and the audit log -----------------------------------------------------------------------------------


@pytest.fixture
def run_and_clip(tiny_features, tmp_path):
    store = RunStore(tmp_path / "runs")
    rid = train(make_config("cnn", epochs=1, device="cpu"), tiny_features, store)["run_id"]
    store.update(rid, owner="alice")
    return store, rid, write_clip(tmp_path / "clip.wav", "jazz", 6.5)


def test_delete_then_restore_gives_back_the_same_run_and_the_audit_log_shows_both(run_and_clip):
    store, rid, clip = run_and_clip
    before = predict(clip, [rid], store).results[rid].probs
    entry = move_to_trash(store, rid, who="alice")
    assert rid not in [r["run_id"] for r in store.list()] and not store.path(rid).exists()
    assert [e.run_id for e in list_trash(store)] == [rid] and entry.owner == "alice"
    assert restore_run(store, rid, "alice") == rid
    after = predict(clip, [rid], store).results[rid].probs
    np.testing.assert_array_equal(before, after)
    log = read_audit(store.root)
    assert [(e["what"], e["who"], e["run_id"]) for e in log[:2]] == [("restore", "alice", rid),
                                                                     ("delete", "alice", rid)]
    assert not list_trash(store)


def test_restore_refuses_a_run_id_that_exists_again_and_a_damaged_entry(run_and_clip, tmp_path):
    store, rid, _ = run_and_clip
    move_to_trash(store, rid, who="alice")
    [entry] = list_trash(store)
    twin = store.path(rid)
    twin.mkdir()
    (twin / "record.json").write_text(json.dumps({"run_id": rid, "status": "finished"}))
    with pytest.raises(CheckpointError, match="a run with that id exists again"):
        restore_run(store, rid, "alice")
    assert json.loads((twin / "record.json").read_text()) == {"run_id": rid, "status": "finished"}  # untouched
    assert [e.entry for e in list_trash(store)] == [entry.entry]  # still in the trash
    (store.root / ".trash" / entry.entry / "record.json").write_text("{ not json")  # damaged by hand
    [damaged] = list_trash(store)
    assert "record.json is missing or unreadable" in damaged.problem
    import shutil

    shutil.rmtree(twin)
    with pytest.raises(CheckpointError, match="cannot be restored: record.json"):
        restore_run(store, rid, "alice")
    assert not store.path(rid).exists()
    assert purge_entry(store, damaged.entry, "admin") == rid and not list_trash(store)  # the admin clears it


def test_trash_is_purged_after_its_days(run_and_clip, monkeypatch):
    store, rid, _ = run_and_clip
    entry = move_to_trash(store, rid, who="alice")
    assert purge_expired(store, days=7, now=entry.trashed_at + 6.9 * 86400) == []
    assert purge_expired(store, days=7, now=entry.trashed_at + 7.1 * 86400) == [rid]
    assert not list_trash(store) and read_audit(store.root)[0]["what"] == "purge"
    monkeypatch.setenv("GTZAN_STUDIO_TRASH_DAYS", "soon")
    with pytest.raises(StudioError, match="GTZAN_STUDIO_TRASH_DAYS"):
        purge_expired(store)


def test_cli_runs_delete_restore_purge_and_trash_listing(run_and_clip, capsys):
    from gtzan_core.cli import main

    store, rid, _ = run_and_clip
    runs = ["--runs", str(store.root)]
    assert main(["runs", "--delete", rid, *runs]) == 0 and "moved run" in capsys.readouterr().out
    assert main(["runs", "--json", "--no-paper", *runs]) == 0
    assert json.loads(capsys.readouterr().out) == []  # trashed runs are left out...
    assert main(["runs", "--trash", "--json", *runs]) == 0
    [listed] = json.loads(capsys.readouterr().out)  # ...unless asked for
    assert listed["run_id"] == rid and listed["trashed"] is True
    assert main(["runs", "--restore", rid, *runs]) == 0
    capsys.readouterr()
    assert main(["runs", "--json", "--no-paper", *runs]) == 0
    assert [r["run_id"] for r in json.loads(capsys.readouterr().out)] == [rid]
    assert main(["runs", "--delete", rid, *runs]) == 0 and main(["runs", "--purge", rid, *runs]) == 0
    assert not store.path(rid).exists() and not list_trash(store)
    assert main(["runs", "--restore", rid, *runs]) == 2
    assert "nothing called" in capsys.readouterr().err
    assert [e["what"] for e in read_audit(store.root)[:4]] == ["purge", "delete", "restore", "delete"]


# -- storage quota ---------------------------------------------------------------------------------------------------


def test_storage_quota_counts_an_owners_runs_and_trash(run_and_clip):
    store, rid, _ = run_and_clip
    used = usage_by_owner(store)["alice"]
    assert used > 100_000  # the CNN checkpoint and its record
    roomy = Settings(mode="classroom", max_storage_mb=1 + used // 2 ** 20)
    check_storage(roomy, "alice", store)
    check_storage(roomy, "bob", store)  # bob has nothing yet
    tight = Settings(mode="classroom", max_storage_mb=1)
    if used > 2 ** 20:
        with pytest.raises(QuotaExceeded, match="limit on this shared instance is 1 MB"):
            check_storage(tight, "alice", store)
    with pytest.raises(QuotaExceeded, match="for this one"):
        check_storage(roomy, "alice", store, adding=2 ** 21)  # an import that would not fit
    check_storage(roomy, "alice", store, admin=True, adding=2 ** 30)  # the admin is exempt
    move_to_trash(store, rid, who="alice")
    assert usage_by_owner(store)["alice"] >= used  # a trashed run still takes space until purged


# -- a full disk -----------------------------------------------------------------------------------------------------


def fill_disk(monkeypatch, is_full):
    """Writes of the run store's files fail with ENOSPC where ``is_full(kind)`` says so
    (kind: "checkpoint" or "record"), at the real write: inside the store's own atomic
    write, as a full disk would."""
    import os

    real_fdopen = os.fdopen

    def fdopen(fd, *args, **kw):
        try:
            name = os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            name = ""
        kind = "checkpoint" if name.startswith(".model.pt.") else "record" if name.startswith(".record.json.") \
            else None
        if kind and is_full(kind):
            os.close(fd)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fdopen(fd, *args, **kw)

    monkeypatch.setattr(os, "fdopen", fdopen)


@pytest.mark.parametrize("site", ["checkpoint", "record"])
def test_a_full_disk_fails_the_run_keeps_its_checkpoint_and_touches_no_other_run(tiny_features, tmp_path,
                                                                                  monkeypatch, site):
    store = RunStore(tmp_path / "runs")
    other = train(make_config("mlp", epochs=1, device="cpu"), tiny_features, store)["run_id"]
    other_files = {p.name: p.read_bytes() for p in store.path(other).iterdir() if p.is_file()}
    epochs_done = []
    # the disk fills once the first epoch is recorded (its checkpoint saved), and stays full
    fill_disk(monkeypatch, lambda kind: kind == site and bool(epochs_done))
    config = make_config("cnn", epochs=6, patience=10, lr=0.01, device="cpu")
    with pytest.raises(StudioError, match="disk full"):
        train(config, tiny_features, store, on_epoch=epochs_done.append)
    monkeypatch.undo()
    rid = next(r["run_id"] for r in store.list() if r["run_id"] != other)
    record = store.read(rid)
    assert record["status"] == "failed" and "disk full" in record["error"]
    assert "best checkpoint so far is kept" in record["error"]
    ckpt = store.load_checkpoint(rid)  # the last good checkpoint, loadable
    assert ckpt["meta"]["epoch"] >= 1
    assert predict(write_clip(tmp_path / "c.wav", "rock", 6.5), [rid], store).results[rid].probs.shape == (10,)
    assert not [p for p in store.path(rid).iterdir() if p.name.startswith(".")  and p.name != ".lock"]  # no temp
    assert {p.name: p.read_bytes() for p in store.path(other).iterdir() if p.is_file()} == other_files


@pytest.mark.heavy
def test_the_job_manager_serves_on_after_a_disk_full_run(tiny_features, tmp_path, monkeypatch):
    from gtzan_core.jobs import JobManager

    store = RunStore(tmp_path / "runs")
    full = {"on": True}
    fill_disk(monkeypatch, lambda kind: full["on"] and kind == "checkpoint")
    manager = JobManager(store, feature_loader=lambda ds, progress=None: tiny_features)
    try:
        first = manager.submit(make_config("mlp", epochs=2, device="cpu"))
        assert manager.wait_idle(120)
        assert store.read(first)["status"] == "failed" and "disk full" in store.read(first)["error"]
        full["on"] = False  # space freed: the same server trains the next job
        second = manager.submit(make_config("mlp", epochs=1, device="cpu"))
        assert manager.wait_idle(120) and store.read(second)["status"] == "finished"
    finally:
        manager.shutdown()


# -- the app -----------------------------------------------------------------------------------------------------------


def app(page: str, who: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    if who:
        at.query_params["who"] = who
    at.run()
    at.switch_page(f"pages/{page}.py")
    return at.run()


def sign_in(at: AppTest, passcode: str) -> AppTest:
    at.sidebar.text_input(key="passcode-input").input(passcode)
    return at.sidebar.button(key="name-sign-in").click().run()


@pytest.mark.heavy
def test_who_in_the_url_only_prefills_a_name_its_passcode_signs_in(classroom):
    alice = app("train", who="alice")
    assert alice.sidebar.text_input(key="name-input").value == "alice"
    assert "Signed in as" not in " ".join(c.value for c in alice.sidebar.caption)
    assert alice.sidebar.text_input(key="passcode-input").label == "Choose a passcode to claim this name"
    sign_in(alice, "alice-secret")
    assert "Signed in as **alice**" in " ".join(c.value for c in alice.sidebar.caption)
    assert read_audit(RunStore().root)[0]["what"] == "claim name"

    bob = app("train", who="alice")  # another browser, pretending
    assert "Signed in as" not in " ".join(c.value for c in bob.sidebar.caption)
    assert bob.sidebar.text_input(key="passcode-input").label == "Passcode"
    for k in range(1, 6):
        sign_in(bob, "guess")
        assert any(f"wrong passcode for 'alice' (wrong try {k};" in e.value for e in bob.sidebar.error)
    sign_in(bob, "alice-secret")  # even the right one is refused now: the wait comes first
    assert any("too many wrong passcodes: try again in" in e.value for e in bob.sidebar.error)
    assert "Signed in as" not in " ".join(c.value for c in bob.sidebar.caption)
    assert "alice-secret" not in (RunStore().root / "audit.jsonl").read_text()


def test_the_passcode_is_a_form_that_claims_and_signs_in_and_shows_no_counter(classroom):
    """Enter in the passcode field did nothing until the button was clicked (it is a form now:
    the browser submits it on Enter), and the field drew a "n/129" counter (max_chars): the
    length is checked in code, before anything is tried or counted."""
    alice = app("train", who="alice")
    field = alice.sidebar.text_input(key="passcode-input")
    assert field.form_id and field.max_chars == 0  # inside a form; no max_chars, so no counter
    submit = alice.sidebar.button(key="name-sign-in")
    assert submit.form_id == field.form_id and submit.label == "Claim name"
    field.input("alice-secret")
    alice.run()  # typed, not submitted: nothing happens
    assert "Signed in as" not in " ".join(c.value for c in alice.sidebar.caption) and not NameRegistry().claimed()
    sign_in(alice, "alice-secret")  # typed and submitted (the click: what Enter does in the browser)
    assert "Signed in as **alice**" in " ".join(c.value for c in alice.sidebar.caption)
    assert NameRegistry().verify("alice", "alice-secret")

    bob = app("train", who="alice")  # another browser
    assert bob.sidebar.button(key="name-sign-in").label == "Sign in"
    for typed, said in 3 * [("", "Type the passcode first."),
                            ("x" * 200, "A passcode has at most 128 characters; this one has 200: nothing was tried.")]:
        sign_in(bob, typed)
        assert [e.value for e in bob.sidebar.error] == [said]
    # six submits, none counted as a wrong try (five are free, the sixth would wait): the right one signs in
    sign_in(bob, "alice-secret")
    assert "Signed in as **alice**" in " ".join(c.value for c in bob.sidebar.caption)


def test_the_admin_resets_a_name_and_admin_passwords_are_limited(classroom):
    from gtzan_core.webapp import attempt_limiter

    NameRegistry().claim("alice", "forgotten")
    at = app("leaderboard")
    at.sidebar.text_input(key="admin-password").input("nope")
    for _ in range(5):
        at.sidebar.button(key="admin-sign-in").click().run()
    at.sidebar.text_input(key="admin-password").input("s3cret")
    at.sidebar.button(key="admin-sign-in").click().run()
    assert any("too many wrong admin passwords" in e.value for e in at.sidebar.error)
    attempt_limiter.clear()  # as if the wait had passed
    at.sidebar.button(key="admin-sign-in").click().run()
    assert "signed in as admin" in " ".join(c.value for c in at.sidebar.caption)
    at.sidebar.selectbox(key="reset-name").set_value("alice").run()
    at.sidebar.button(key="reset-passcode").click().run()
    assert not NameRegistry().is_claimed("alice")
    whats = [e["what"] for e in read_audit(RunStore().root)]
    assert whats[:2] == ["reset passcode", "admin sign-in"] and whats.count("admin sign-in refused") == 5


def test_leaderboard_reads_at_a_glance_trash_restore_and_storage(classroom, tiny_features):
    store = RunStore()
    rid = train(make_config("mlp", epochs=1, device="cpu"), tiny_features, store)["run_id"]
    store.update(rid, owner="alice")
    at = app("leaderboard", who="alice")
    sign_in(at, "alice-secret")
    board = at.dataframe[0].value
    # the columns that matter first, as people name them (on screen at 1280 px: tests/e2e/test_seen.py)
    assert list(board.columns[:7]) == ["model", "track acc.", "macro F1", "recipe", "dataset", "owner", "segment acc."]
    text = board[[c for c in board.columns if board[c].dtype == object]]
    assert not text.isin([None, "", "None", "nan"]).any().any()  # empty text cells read "—"
    assert at.dataframe[0].proto.placeholder == "—"  # and so do missing numbers, drawn by the grid
    at.selectbox(key="delete-run").set_value(rid).run()
    at.checkbox(key="delete-confirm").check().run()
    at.button(key="delete").click().run()
    assert any(f"Moved {rid} to the trash" in s.value for s in at.success)
    at.selectbox(key="trash-entry").set_value(list_trash(store)[0].entry).run()
    at.button(key="restore").click().run()
    assert any(f"Restored {rid}" in s.value for s in at.success) and store.path(rid).is_dir()
    assert not [b for b in at.button if b.key == "empty-trash"]  # only the admin empties the trash
    storage = next(d.value for d in at.dataframe if list(d.value.columns) == ["owner", "MB", "of limit"])
    assert "alice" in storage.owner.tolist()


# -- attempts that cannot be turned against the rightful user (issue 24) -----------------------------------------------


def attacker(lim: AttemptLimiter, now: list, hours: float, addresses: int = 1, new_sessions: bool = False) -> list:
    """Guess as fast as ``lim`` lets, from ``addresses`` addresses (opening a new session
    whenever its session must wait, with ``new_sessions``); the times of the guesses."""
    times, sessions, end = [], [0] * addresses, now[0] + hours * 3600
    while now[0] < end:
        for a in range(addresses):
            keys = (("session", f"{a}-{sessions[a]}"), ("address", f"10.0.0.{a}"))
            if new_sessions and lim.wait_left(keys[0]) > 0 and lim.wait_left(keys[1]) == 0:
                sessions[a] += 1
                keys = (("session", f"{a}-{sessions[a]}"), keys[1])
            if lim.wait_left(*keys) == 0:
                assert lim.attempt("passcode", keys, lambda: False) is False
                times.append(now[0])
        now[0] += 5.0  # waits are multiples of 30 s: a try every 5 s misses none
    return times


def most_in_an_hour(times: list) -> int:
    import bisect

    return max(bisect.bisect_left(times, t + 3600) - i for i, t in enumerate(times))


def test_guesses_per_hour_are_the_readmes():
    """The instructor's guide's figures (docs/instructor.md): 11 guesses an hour from one session, 26 from one address
    however many sessions it opens, about 7 an hour per address once the ceiling is hit."""
    now = [0.0]
    assert most_in_an_hour(attacker(AttemptLimiter(clock=lambda: now[0]), now, 6)) == 11
    assert most_in_an_hour(attacker(AttemptLimiter(clock=lambda: now[0]), now, 6, new_sessions=True)) == 26
    lim = AttemptLimiter(clock=lambda: now[0])
    many = attacker(lim, now, 3, addresses=50, new_sessions=True)
    assert lim.ceiling_reached() and most_in_an_hour(many) <= 50 * 7


def test_one_visitors_wrong_tries_never_delay_anothers_right_answer():
    now = [0.0]
    lim = AttemptLimiter(clock=lambda: now[0])
    mallory = (("session", "m"), ("address", "203.0.113.9"))
    for _ in range(40):  # far past every free try, and the session's and address's waits renewed
        lim.failed(*mallory)
    with pytest.raises(TooManyAttempts):
        lim.attempt("admin password", mallory, lambda: True)  # even the right one: the guesser waits
    assert lim.attempt("admin password", (("session", "teacher"), ("address", "198.51.100.7")), lambda: True)
    assert lim.attempt("admin password", (("session", "teacher at the console"),), lambda: True)  # no address
    # a new session from mallory's address is still mallory's address: it waits too
    with pytest.raises(TooManyAttempts):
        lim.check("passcode", ("session", "m2"), ("address", "203.0.113.9"))


def test_rotating_sessions_or_ipv6_addresses_does_not_reset_the_count():
    from gtzan_core.classroom.attempts import address_key

    now = [0.0]
    lim = AttemptLimiter(clock=lambda: now[0])
    net = [address_key(f"2001:db8:1:2::{k:x}") for k in range(25)]  # one /64: one machine's worth
    assert len(set(net)) == 1 and address_key("::ffff:192.0.2.1") == ("address", "192.0.2.1")
    assert address_key(None) is None and address_key("2001:db8:1:3::1") != net[0]
    for k in range(20):  # a fresh session for every guess
        lim.failed(("session", f"s{k}"), net[k])
    with pytest.raises(TooManyAttempts):
        lim.check("passcode", ("session", "s20"), net[20])
    # a right answer (a name of the guesser's own) clears its session, not its address
    now[0] += 31
    assert lim.attempt("passcode", (("session", "s21"), net[21]), lambda: True)
    assert lim.failures(net[0]) == 20
    lim.failed(("session", "s22"), net[22])
    assert lim.wait_left(net[0]) == 60  # the 21st wrong try of that address


def test_the_global_ceiling_slows_guessing_but_refuses_no_right_answer():
    now = [0.0]
    lim = AttemptLimiter(clock=lambda: now[0], ceiling=60)
    for k in range(60):  # sixty addresses, one guess each: within everyone's free tries
        lim.failed(("session", f"s{k}"), ("address", f"10.1.0.{k}"))
    assert lim.ceiling_reached()
    fresh = (("session", "new"), ("address", "10.2.0.1"))
    assert not lim.attempt("passcode", fresh, lambda: False)
    assert lim.wait_left(*fresh) == 30  # no free tries left: the first wrong one waits
    assert lim.attempt("passcode", (("session", "alice"), ("address", "10.2.0.2")), lambda: True)
    now[0] += 3601
    assert not lim.ceiling_reached()  # an hour later the window is empty


def test_many_wrong_admin_passwords_from_one_session_do_not_lock_the_admin_out(classroom):
    mallory = app("leaderboard")
    mallory.sidebar.text_input(key="admin-password").input("guess")
    for _ in range(7):
        mallory.sidebar.button(key="admin-sign-in").click().run()
    mallory.sidebar.text_input(key="admin-password").input("s3cret")
    mallory.sidebar.button(key="admin-sign-in").click().run()
    assert any("too many wrong admin passwords" in e.value for e in mallory.sidebar.error)  # the guesser waits
    admin = app("leaderboard")  # the admin's own browser
    admin.sidebar.text_input(key="admin-password").input("s3cret")
    admin.sidebar.button(key="admin-sign-in").click().run()
    assert "signed in as admin" in " ".join(c.value for c in admin.sidebar.caption), admin.sidebar.error


@pytest.mark.heavy
def test_guessing_a_name_does_not_lock_its_owner_out(classroom):
    NameRegistry().claim("alice", "alice-secret")
    mallory = app("train", who="alice")
    for _ in range(6):
        sign_in(mallory, "guess")
    sign_in(mallory, "alice-secret")
    assert "Signed in as" not in " ".join(c.value for c in mallory.sidebar.caption)
    alice = app("train", who="alice")  # alice, in her own browser
    sign_in(alice, "alice-secret")
    assert "Signed in as **alice**" in " ".join(c.value for c in alice.sidebar.caption), alice.sidebar.error


def test_in_classroom_mode_only_a_signed_in_visitor_may_import(classroom):
    from gtzan_core.classroom import PermissionDenied, check_import

    with pytest.raises(PermissionDenied, match="only a signed-in visitor may import"):
        check_import(Settings(mode="classroom"), None, False)
    check_import(Settings(mode="classroom"), None, True)  # the admin
    check_import(Settings(), None, False)  # personal mode: as before
    anonymous = app("leaderboard")
    assert not anonymous.get("file_uploader")
    assert any("only a signed-in visitor may import" in c.value for c in anonymous.caption)
    bob = app("leaderboard", who="bob")
    sign_in(bob, "bob-secret")
    assert [u.key for u in bob.get("file_uploader")] == ["import-zip"]


def test_an_admin_sign_in_the_audit_log_cannot_hold_does_not_happen(classroom, monkeypatch):
    import os

    real_write = os.write

    def write(fd, data):  # the disk is full for the audit log
        if os.readlink(f"/proc/self/fd/{fd}").endswith("audit.jsonl"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    at = app("leaderboard")
    at.sidebar.text_input(key="admin-password").input("s3cret")
    at.sidebar.button(key="admin-sign-in").click().run()
    assert not at.exception
    assert [e.value for e in at.sidebar.error] == [f"disk full: could not write the audit log "
                                                   f"{RunStore().root / 'audit.jsonl'}"]
    assert "signed in as admin" not in " ".join(c.value for c in at.sidebar.caption)
