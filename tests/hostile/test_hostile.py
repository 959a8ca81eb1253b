"""A shared instance under attack (issue 24): imports that cannot exhaust memory, run ids
that cannot be the store's own files, imports that belong to (and are charged to) the
importer, and a full disk at every write of delete, restore, purge, import and run
creation. The generated (property-based) attacks are in ``test_hostile_generated.py``;
the attempt limits in ``test_shared_instance.py``."""

from __future__ import annotations

import errno
import io
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from gtzan_core.audit import read_audit
from gtzan_core.classroom import QuotaExceeded, Settings
from gtzan_core.classroom.quota import check_storage
from gtzan_core.cli import main
from gtzan_core.errors import CheckpointError, DiskFullError
from gtzan_core.hparams import make_config
from gtzan_core.jobs import train
from gtzan_core.runs import RunStore
from gtzan_core.runs.trash import list_trash, move_to_trash, purge_entry, restore_run, usage_by_owner
from gtzan_core.share import ArchiveError, archive as archive_mod, import_archive
from gtzan_core.share.archive import archive_members
from tests.helpers import (
    MB,
    bomb_archive,
    import_growth,
    incompressible_archive,
    member,
    renamed,
    resigned,
    write_zip,
    zip_of,
)


@pytest.fixture(scope="module")
def source(tiny_features, tmp_path_factory):
    """A finished CNN run owned by alice, in a store of its own, and its archive's members."""
    store = RunStore(tmp_path_factory.mktemp("hostile-src") / "runs")
    rid = train(make_config("cnn", recipe="studio", epochs=1, device="cpu", seed=4), tiny_features, store)["run_id"]
    store.update(rid, owner="alice")
    return store, rid, archive_members(store, rid)


@pytest.fixture
def members(source):
    return source[2]


def store_is_clean(store: RunStore) -> None:
    """No run folder, nothing half-imported: only the store's own files, if anything."""
    left = sorted(p.name for p in store.root.iterdir()) if store.root.exists() else []
    assert [n for n in left if n not in ("audit.jsonl", ".audit.lock", ".trash", ".trash.lock")] == []


# -- 1. an import cannot exhaust memory ------------------------------------------------------------------------------


def test_a_1_mb_archive_that_unpacks_to_1_gb_is_refused_before_anything_inflates(members, tmp_path):
    path = tmp_path / "bomb.zip"
    path.write_bytes(bomb_archive(members, 1 << 30))
    assert path.stat().st_size < 2 * MB
    got = import_growth(path, tmp_path / "runs")
    assert got["growth_mb"] < 100, got
    assert re.fullmatch(r"bomb\.zip: refused: member model\.pt would inflate \d+-fold \(1\.0 MB to 1024 MB\): "
                        r"a zip bomb", got["message"]), got["message"]
    store_is_clean(RunStore(tmp_path / "runs"))


def test_the_checkpoint_is_streamed_so_a_big_one_never_sits_in_memory(members, tmp_path):
    path = incompressible_archive(members, tmp_path / "big.zip", 160 * MB)  # stored: no ratio to give it away
    got = import_growth(path, tmp_path / "runs")
    assert got["message"] == "big.zip: refused: model.pt does not match its checksum in the manifest " \
                             "(damaged or altered)"
    assert got["growth_mb"] < 100, got  # read whole, as before, it would take 160 MB at least
    store_is_clean(RunStore(tmp_path / "runs"))


def test_identity_duplicate_and_quota_are_checked_before_the_checkpoint_is_read(source, tmp_path, monkeypatch):
    src, rid, members = source
    garbage = resigned({**members, "model.pt": os.urandom(300_000)})  # refused if ever read as a checkpoint
    streamed = []
    real_copy = archive_mod._copy_member
    monkeypatch.setattr(archive_mod, "_copy_member", lambda *a: streamed.append(a[1].filename) or real_copy(*a))
    with pytest.raises(ArchiveError, match=f"run {rid} is already in this studio"):
        import_archive(zip_of(garbage), src)  # the duplicate, found before the checkpoint
    reserved = resigned({**garbage, "record.json": json.dumps({**json.loads(members["record.json"]),
                                                               "run_id": "audit.jsonl"}).encode()})
    with pytest.raises(ArchiveError, match="keeps its audit log under that name"):
        import_archive(zip_of(reserved), src)
    asked = []

    def quota(size):
        asked.append(size)
        raise QuotaExceeded("no room for this one")

    store = RunStore(tmp_path / "runs")
    with pytest.raises(QuotaExceeded, match="no room"):
        import_archive(zip_of(garbage), store, check_quota=quota)
    assert asked == [sum(len(d) for d in garbage.values())]  # the declared sizes, nothing inflated yet
    assert streamed == []
    store_is_clean(store)


def test_an_upload_is_read_in_place_never_copied(members, tmp_path):
    class Upload(io.BytesIO):  # what Streamlit's UploadedFile is
        name = "from-a-browser.zip"

        def getvalue(self):
            raise AssertionError("the upload was copied")

    result = import_archive(Upload(zip_of(members)), RunStore(tmp_path / "runs"), who="bob")
    assert result.record["imported"]["from"] == "from-a-browser.zip"


def test_the_directory_alone_refuses_encryption_odd_compression_and_oversize_archives(members, tmp_path,
                                                                                      monkeypatch):
    def with_model(flags=0, method=0):
        m = member("model.pt", members["model.pt"], deflate=False)
        m.flags, m.method = flags, method
        buf = io.BytesIO()
        write_zip(buf, [member(n, d) for n, d in members.items() if n != "model.pt"] + [m])
        return buf.getvalue()

    store = RunStore(tmp_path / "runs")
    with pytest.raises(ArchiveError, match="model.pt is encrypted"):
        import_archive(with_model(flags=1), store)
    with pytest.raises(ArchiveError, match="uses compression method 12"):
        import_archive(with_model(method=12), store)
    monkeypatch.setattr(archive_mod, "MAX_ARCHIVE", 100_000)
    with pytest.raises(ArchiveError, match=r"the archive is \d+ MB \(limit 0 MB\)"):
        import_archive(zip_of(members), store)
    store_is_clean(store)


# -- 3. run ids never name the store's own files ---------------------------------------------------------------------


@pytest.mark.parametrize("run_id", ["audit.jsonl", "AUDIT.JSONL", ".trash", ".trash.lock", ".audit.lock",
                                    ".import-k2j3", "run\n", "../x", "a/b", ""])
def test_run_ids_cannot_be_the_stores_own_names(run_id, tmp_path):
    with pytest.raises(CheckpointError, match="invalid run id"):
        RunStore(tmp_path).path(run_id)


def test_an_archive_named_like_the_audit_log_is_refused_and_auditing_goes_on(source, members, tmp_path):
    store = RunStore(tmp_path / "runs")
    hostile = renamed(members, "audit.jsonl")
    with pytest.raises(ArchiveError, match="invalid run id 'audit.jsonl': the run store keeps its audit log"):
        import_archive(zip_of(hostile), store)
    result = import_archive(zip_of(members), store, who="bob")  # a good one, audited as ever
    move_to_trash(store, result.run_id, who="bob")
    assert [e["what"] for e in read_audit(store.root)] == ["delete", "import"]
    assert (store.root / "audit.jsonl").is_file()


def test_every_name_the_store_keeps_beside_its_runs_is_refused_as_a_run_id(source, members, tmp_path):
    store = RunStore(tmp_path / "runs")
    rid = import_archive(zip_of(members), store, who="bob").run_id
    other = import_archive(zip_of(renamed(members, "second-run")), store, who="bob").run_id
    move_to_trash(store, other, who="bob")
    (store.root / f"{archive_mod.STAGING_PREFIX}killed").mkdir()  # what a killed import leaves
    runs = {r["run_id"] for r in store.list()}
    own = [p.name for p in store.root.iterdir() if p.name not in runs]
    assert {"audit.jsonl", ".trash", ".audit.lock", ".trash.lock"} <= set(own) and runs == {rid}
    for name in own:
        with pytest.raises(CheckpointError, match="invalid run id"):
            store.path(name)


def test_the_cli_refuses_a_reserved_run_id_in_one_line(tmp_path, capsys):
    store = RunStore(tmp_path / "runs")
    store.root.mkdir(parents=True)
    (store.root / "audit.jsonl").write_text("")
    assert main(["runs", "--delete", "audit.jsonl", "--runs", str(store.root)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: invalid run id 'audit.jsonl': the run store keeps its audit log under that name"]
    assert (store.root / "audit.jsonl").is_file()


def test_a_killed_imports_staging_folder_is_swept_by_the_next_import(members, tmp_path):
    store = RunStore(tmp_path / "runs")
    stale, fresh = store.root / ".import-killed", store.root / ".import-running"
    for d in (stale, fresh):
        d.mkdir(parents=True)
    os.utime(stale, (0, 0))
    import_archive(zip_of(members), store)
    assert not stale.exists() and fresh.exists()  # a fresh one may be another import in progress


# -- 4. an import belongs to the importer ----------------------------------------------------------------------------


def test_an_imported_run_belongs_to_its_importer_and_keeps_the_archives_owner(members, tmp_path):
    assert json.loads(members["record.json"])["owner"] == "alice"
    bob = import_archive(zip_of(members), RunStore(tmp_path / "a"), who="bob").record
    assert bob["owner"] == "bob" and bob["imported"]["owner"] == "alice" and bob["imported"]["by"] == "bob"
    spoofed = resigned({**members, "record.json": json.dumps({**json.loads(members["record.json"]),
                                                              "owner": "teacher"}).encode()})
    nobody = import_archive(zip_of(spoofed), RunStore(tmp_path / "b")).record
    assert nobody["owner"] is None and nobody["imported"]["owner"] == "teacher"  # nobody's, not teacher's


def test_the_importers_quota_is_charged_with_the_archives_declared_sizes(members, tmp_path):
    store = RunStore(tmp_path / "runs")
    conf = Settings(mode="classroom", max_storage_mb=1)
    size = sum(len(d) for d in members.values())
    assert 0.5 * MB < size < MB

    def quota_of(who):
        return lambda n: check_storage(conf, who, store, adding=n)

    import_archive(zip_of(members), store, who="bob", check_quota=quota_of("bob"))
    second = zip_of(renamed(members, "second-run"))
    with pytest.raises(QuotaExceeded, match=r"bob uses 1 MB of the run store \+ 1 MB for this one"):
        import_archive(second, store, who="bob", check_quota=quota_of("bob"))
    assert [r["run_id"] for r in store.list()] == [json.loads(members["record.json"])["run_id"]]
    import_archive(second, store, who="carol", check_quota=quota_of("carol"))  # carol's share is hers
    assert usage_by_owner(store).keys() == {"bob", "carol"}


# -- 5. a full disk, anywhere ----------------------------------------------------------------------------------------


def _fd_path(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""


class _Filling:
    """A file on a disk that fills up: writes past ``left`` bytes fail with ENOSPC."""

    def __init__(self, f, left: int):
        self._f, self._left = f, left

    def write(self, data):
        if len(data) > self._left:
            raise OSError(errno.ENOSPC, "No space left on device")
        self._left -= len(data)
        return self._f.write(data)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()

    def __getattr__(self, name):
        return getattr(self._f, name)


class FullDisk:
    """ENOSPC at the real writes, for the paths matching a site's pattern: writes to files
    opened with ``os.fdopen`` (the store's atomic writes, an import's streamed members;
    ``after`` bytes fit first), appends with ``os.write`` (the audit log), ``os.rename``,
    ``os.mkdir`` and ``os.open`` creating a file (lock files)."""

    def __init__(self, monkeypatch):
        self.sites: list[tuple[str, re.Pattern, int]] = []
        real_fdopen, real_write, real_rename, real_mkdir, real_open = os.fdopen, os.write, os.rename, os.mkdir, os.open

        def hit(kind, *paths):
            return next((after for k, pat, after in self.sites if k == kind and any(pat.search(str(p)) for p in paths)),
                        None)

        def fdopen(fd, *args, **kw):
            f = real_fdopen(fd, *args, **kw)
            after = hit("write", _fd_path(fd))
            return f if after is None else _Filling(f, after)

        def write(fd, data):
            if hit("append", _fd_path(fd)) is not None:
                raise OSError(errno.ENOSPC, "No space left on device")
            return real_write(fd, data)

        def rename(src, dst, *a, **kw):
            if hit("rename", src, dst) is not None:
                raise OSError(errno.ENOSPC, "No space left on device")
            return real_rename(src, dst, *a, **kw)

        def mkdir(path, *a, **kw):
            if hit("mkdir", path) is not None:
                raise OSError(errno.ENOSPC, "No space left on device")
            return real_mkdir(path, *a, **kw)

        def open_(path, flags, *a, **kw):
            if flags & os.O_CREAT and not os.path.exists(path) and hit("create", path) is not None:
                raise OSError(errno.ENOSPC, "No space left on device")
            return real_open(path, flags, *a, **kw)

        for name, fn in (("fdopen", fdopen), ("write", write), ("rename", rename), ("mkdir", mkdir),
                         ("open", open_)):
            monkeypatch.setattr(os, name, fn)

    def fill(self, kind: str, pattern: str, after: int = 0) -> None:
        self.sites.append((kind, re.compile(pattern), after))

    def free(self) -> None:
        self.sites.clear()


@pytest.fixture
def disk(monkeypatch):
    return FullDisk(monkeypatch)


@pytest.fixture
def imported(members, tmp_path):
    """A store holding alice's run, imported by alice."""
    store = RunStore(tmp_path / "runs")
    return store, import_archive(zip_of(members), store, who="alice").run_id


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def last_audit(store: RunStore) -> dict:
    return read_audit(store.root)[0]


DELETE_SITES = {"the trash folder": ("mkdir", r"/\.trash$"), "trashed.json": ("write", r"\.trashed\.json\."),
                "the move": ("rename", r"/\.trash/"), "the audit entry": ("append", r"audit\.jsonl$")}


@pytest.mark.parametrize("site", list(DELETE_SITES))
def test_delete_on_a_full_disk_leaves_the_run_where_it_was(site, imported, disk):
    store, rid = imported
    before = files_of(store.path(rid))
    disk.fill(*DELETE_SITES[site])
    with pytest.raises(DiskFullError) as err:
        move_to_trash(store, rid, who="alice")
    assert str(err.value) == f"disk full: could not move run {rid} to the trash (it is where it was)"
    assert files_of(store.path(rid)) == before and list_trash(store) == []
    if site != "the audit entry":
        assert last_audit(store) | {"time": 0} == {"time": 0, "who": "alice", "what": "delete failed", "run_id": rid,
                                                   "error": "disk full"}
    disk.free()
    move_to_trash(store, rid, who="alice")
    assert restore_run(store, rid, "alice") == rid and files_of(store.path(rid)) == before


RESTORE_SITES = {"the move": ("rename", r"/runs/[^/.][^/]*$"), "the audit entry": ("append", r"audit\.jsonl$")}


@pytest.mark.parametrize("site", list(RESTORE_SITES))
def test_restore_on_a_full_disk_leaves_the_run_in_the_trash_restorable_later(site, imported, disk):
    store, rid = imported
    entry = move_to_trash(store, rid, who="alice").entry
    disk.fill(*RESTORE_SITES[site])
    with pytest.raises(DiskFullError, match=f"^disk full: could not restore run {rid} \\(it stays in the trash"):
        restore_run(store, rid, "alice")
    assert [e.entry for e in list_trash(store)] == [entry] and not store.path(rid).exists()
    if site != "the audit entry":
        assert last_audit(store)["what"] == "restore failed"
    disk.free()
    assert restore_run(store, rid, "alice") == rid


def test_a_trashed_run_that_lost_its_trashed_json_is_restored_all_the_same(imported):
    store, rid = imported
    entry = move_to_trash(store, rid, who="alice").entry
    (store.root / ".trash" / entry / "trashed.json").unlink()  # e.g. a crash right after the move
    [listed] = list_trash(store)
    assert listed.problem is None and listed.owner == "alice"
    assert restore_run(store, rid, "alice") == rid


def test_purge_on_a_full_disk_either_purges_or_keeps_the_entry(imported, disk):
    store, rid = imported
    entry = move_to_trash(store, rid, who="alice").entry
    (store.root / ".trash.lock").unlink()
    disk.fill("create", r"\.trash\.lock$")  # not even the lock file can be made
    with pytest.raises(DiskFullError, match=f"^disk full: could not purge {re.escape(entry)} \\(it stays"):
        purge_entry(store, entry, "admin")
    assert [e.entry for e in list_trash(store)] == [entry] and last_audit(store)["what"] == "purge failed"
    disk.free()
    disk.fill("append", r"audit\.jsonl$")  # the entry goes; only its audit line does not fit
    with pytest.raises(DiskFullError, match=f"^disk full: purged {re.escape(entry)}, but its audit entry"):
        purge_entry(store, entry, "admin")
    assert list_trash(store) == []


IMPORT_SITES = {"the staging folder": ("mkdir", r"/\.import-"),
                "the checkpoint, half-way": ("write", r"/\.import-[^/]+/model\.pt$", 200_000),
                "the record": ("write", r"/\.import-[^/]+/record\.json$"),
                "the move into place": ("rename", r"/\.import-"),
                "the audit entry": ("append", r"audit\.jsonl$")}


@pytest.mark.parametrize("site", list(IMPORT_SITES) + ["no free space"])
def test_import_on_a_full_disk_adds_nothing_and_is_audited(site, members, tmp_path, disk, monkeypatch):
    store = RunStore(tmp_path / "runs")
    store.root.mkdir(parents=True)
    if site == "no free space":
        monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10 * MB, 10 * MB, MB // 2))
    else:
        disk.fill(*IMPORT_SITES[site])
    with pytest.raises(DiskFullError) as err:
        import_archive(zip_of(members), store, name="run.zip", who="bob")
    assert re.fullmatch(r"disk full: could not import run\.zip \(\d+ MB unpacked; nothing was added: free some "
                        r"space and try again\)", str(err.value))
    store_is_clean(store)
    if site != "the audit entry":
        assert last_audit(store)["what"] == "import failed"
    disk.free()
    monkeypatch.undo()
    assert import_archive(zip_of(members), store, who="bob").record["owner"] == "bob"


@pytest.mark.parametrize("site", [("mkdir", r"/runs/\d{8}-"), ("write", r"\.record\.json\.")])
def test_run_creation_on_a_full_disk_leaves_no_folder(site, tiny_features, tmp_path, disk):
    store = RunStore(tmp_path / "runs")
    store.root.mkdir(parents=True)
    disk.fill(*site)
    with pytest.raises(DiskFullError, match=r"^disk full: could not create a run for cnn \(nothing was written"):
        train(make_config("cnn", epochs=1, device="cpu"), tiny_features, store)
    assert [p.name for p in store.root.iterdir() if not p.name.startswith(".")] == ["audit.jsonl"]
    assert last_audit(store)["what"] == "new run failed"


def test_the_cli_says_disk_full_in_one_line_and_exits_2(imported, members, tmp_path, disk, capsys):
    store, rid = imported
    disk.fill("rename", r"/\.trash/")
    assert main(["runs", "--delete", rid, "--runs", str(store.root)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: disk full: could not move run {rid} to the trash (it is where it was)"]
    archive = tmp_path / "other.zip"
    archive.write_bytes(zip_of(renamed(members, "other-run")))
    disk.fill("mkdir", r"/\.import-")
    assert main(["import", str(archive), "--runs", str(store.root)]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("error: disk full: could not import other.zip")
    assert [e["what"] for e in read_audit(store.root)[:2]] == ["import failed", "delete failed"]


def test_the_audit_log_never_holds_half_a_line(tmp_path, monkeypatch):
    from gtzan_core.audit import audit

    audit(tmp_path, "alice", "delete", "r1")
    before = (tmp_path / "audit.jsonl").read_bytes()
    real_write = os.write

    def short_then_full(fd, data):  # the disk takes 10 bytes, then no more
        if _fd_path(fd).endswith("audit.jsonl"):
            if len(data) > 10:
                return real_write(fd, bytes(data[:10]))
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", short_then_full)
    with pytest.raises(DiskFullError, match="disk full: could not write the audit log"):
        audit(tmp_path, "bob", "delete", "r2")
    assert (tmp_path / "audit.jsonl").read_bytes() == before
