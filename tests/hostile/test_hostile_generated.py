"""Generated hostile inputs (issue 24): Hypothesis builds damaged run archives, run ids
and guessing sequences, and checks the invariants. An import either refuses with one
line (a StudioError: never a traceback) or adds one whole run; nothing is written outside
the run store and nothing is left half-imported. A run id is refused or names a folder
inside the store that is not one of the store's own. Attackers' wrong tries never delay
the right answer of a session and address that made none.

Example counts are modest (they run in seconds on 2 cores) and there is no deadline."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import (  # noqa: E402
    HealthCheck,
    given,
    settings,
    strategies as st,  # noqa: E402
)

from gtzan_core.classroom.attempts import AttemptLimiter, TooManyAttempts  # noqa: E402
from gtzan_core.errors import CheckpointError, StudioError  # noqa: E402
from gtzan_core.hparams import make_config  # noqa: E402
from gtzan_core.jobs import train  # noqa: E402
from gtzan_core.runs import RESERVED_NAMES, RunStore, check_run_id, load_checkpoint_file  # noqa: E402
from gtzan_core.share import import_archive  # noqa: E402
from gtzan_core.share.archive import LIMITS, STAGING_PREFIX, archive_members  # noqa: E402
from tests.helpers import member, renamed, resigned, write_zip  # noqa: E402
from gtzan_core.leaderboard import leaderboard  # noqa: E402

# the autouse studio-home fixture is shared by a test's examples: each example makes its own folders
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                          HealthCheck.too_slow])


class Good(dict):
    """A good archive's members (shown briefly when Hypothesis reports an example)."""

    def __repr__(self):
        return "<the members of a trained CNN's archive>"


@pytest.fixture(scope="module")
def good(tiny_features, tmp_path_factory):
    store = RunStore(tmp_path_factory.mktemp("generated-src") / "runs")
    rid = train(make_config("cnn", recipe="studio", epochs=1, device="cpu", seed=6), tiny_features, store)["run_id"]
    store.update(rid, owner="alice")
    return Good(archive_members(store, rid))


NAMES = list(LIMITS)
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) |
                           st.text(max_size=12), lambda inner: st.lists(inner, max_size=3) |
                           st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
hostile_ids = st.sampled_from(["audit.jsonl", "AUDIT.jsonl", ".trash", ".import-x", "../../etc", "/abs", "a" * 200,
                               "ok\n", "ok-run", "x/y", "run.with.dots"]) | st.text(max_size=20)
member_names = st.sampled_from(NAMES + ["../evil.py", "/etc/cron.d/x", "C:/x.bat", "runs/", "a/../../b",
                                        "model.pt/", "MODEL.PT"]) | st.text(min_size=1, max_size=20)

mutations = st.one_of(
    st.tuples(st.just("flip"), st.sampled_from(NAMES), st.floats(0, 1), st.integers(0, 255), st.booleans()),
    st.tuples(st.just("cut member"), st.sampled_from(NAMES), st.floats(0, 1), st.booleans()),
    st.tuples(st.just("drop"), st.sampled_from(NAMES)),
    st.tuples(st.just("extra"), member_names, st.binary(max_size=64)),
    st.tuples(st.just("record"), st.sampled_from(["run_id", "status", "model", "mfcc_params", "classes", "owner",
                                                  "input_kind", "created", "evaluation", "dataset", "title",
                                                  "split_warnings", "recipe_changes", "epochs_run"]), json_values),
    st.tuples(st.just("manifest"), st.sampled_from(["schema", "version", "run_id", "files"]), json_values),
    st.tuples(st.just("declared size"), st.sampled_from(NAMES), st.integers(-1, 1 << 40)),
    st.tuples(st.just("rename"), hostile_ids),
)
zip_damage = st.one_of(st.none(), st.tuples(st.just("cut"), st.floats(0, 1)),
                       st.tuples(st.just("zap"), st.floats(0, 1), st.integers(0, 255)))


def readable(data: bytes) -> dict | None:
    """The JSON object in ``data``, or None when an earlier step damaged it."""
    try:
        obj = json.loads(data)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def signed(members: dict[str, bytes]) -> dict[str, bytes]:
    """Re-signed when the manifest can be read (an attacker re-signs what they alter)."""
    try:
        return resigned(members)
    except (KeyError, ValueError, TypeError, AttributeError):
        return members


def mutate(members: dict[str, bytes], mutation) -> dict[str, bytes]:
    kind, *args = mutation
    out = dict(members)
    if kind == "flip":
        name, where, byte, resign = args
        if name in out and out[name]:
            data = bytearray(out[name])
            data[int(where * (len(data) - 1))] = byte
            out[name] = bytes(data)
            return signed(out) if resign and name != "manifest.json" else out
    elif kind == "cut member":
        name, where, resign = args
        if name in out:
            out[name] = out[name][:int(where * len(out[name]))]
            return signed(out) if resign and name != "manifest.json" else out
    elif kind == "drop":
        out.pop(args[0], None)
    elif kind == "extra":
        out[args[0]] = args[1]
    elif kind in ("record", "manifest"):
        name = f"{kind}.json"
        obj = readable(out.get(name, b"{}"))
        if obj is not None:
            obj[args[0]] = args[1]
            out[name] = json.dumps(obj).encode()
            return signed(out) if kind == "record" else out
    elif kind == "declared size":
        manifest = readable(out.get("manifest.json", b""))
        if manifest is not None and isinstance(manifest.get("files", {}), dict):
            entry = manifest.setdefault("files", {}).setdefault(args[0], {})
            if isinstance(entry, dict):
                entry["size"] = args[1]
                out["manifest.json"] = json.dumps(manifest).encode()
    elif kind == "rename":
        try:
            return renamed(out, args[0])
        except Exception:  # a member it needs is already damaged: leave the archive as it is
            return out
    return out


def build(members: dict[str, bytes], deflate: bool, damage) -> bytes:
    """The zip (written by hand: any member name, even one zipfile would not write), then damaged."""
    buf = io.BytesIO()
    write_zip(buf, [member(name, data, deflate) for name, data in members.items()])
    data = bytearray(buf.getvalue())
    if damage and damage[0] == "cut":
        del data[int(damage[1] * len(data)):]
    elif damage and data:
        data[int(damage[1] * (len(data) - 1))] = damage[2]
    return bytes(data)


def snapshot(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*")}


@pytest.mark.heavy
@SETTINGS
@given(steps=st.lists(mutations, max_size=3), deflate=st.booleans(), damage=zip_damage)
def test_damaged_archives_are_refused_in_one_line_or_imported_whole(good, steps, deflate, damage):
    archive = good
    for step in steps:
        archive = mutate(archive, step)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        source = tmp / "in.zip"
        source.write_bytes(build(archive, deflate, damage))
        store = RunStore(tmp / "runs")
        store.root.mkdir()
        try:
            result = import_archive(source, store, who="bob")
        except StudioError as exc:
            message = str(exc)
            assert message and "\n" not in message, message
            assert [p.name for p in store.root.iterdir()] == []  # not even a staging folder
        else:
            folder = store.path(result.run_id)
            assert {p.name for p in folder.iterdir()} >= {"record.json", "model.pt"}
            assert json.loads((folder / "record.json").read_text())["run_id"] == result.run_id
            assert result.record["owner"] == "bob"
            load_checkpoint_file(folder / "model.pt")
            assert result.run_id in leaderboard(store, include_paper=False).run_id.tolist()  # it shows
            others = {p.name for p in store.root.iterdir()} - {result.run_id}
            assert others <= {"audit.jsonl", ".audit.lock"}, others
        assert not list(store.root.glob(f"{STAGING_PREFIX}*"))
        assert {p.split("/")[0] for p in snapshot(tmp)} == {"in.zip", "runs"}  # nothing written outside the store


@SETTINGS
@given(run_id=hostile_ids)
def test_a_run_id_is_refused_or_names_a_folder_of_its_own_inside_the_store(run_id):
    root = Path("/srv/store")
    try:
        check_run_id(run_id)
    except CheckpointError as exc:
        assert "\n" not in str(exc)
        return
    path = RunStore(root).path(run_id)
    assert path.parent == root and path.name == run_id
    assert not run_id.startswith(".") and run_id.casefold() not in RESERVED_NAMES


@SETTINGS
@given(events=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), st.floats(0, 900)), max_size=300),
       ceiling=st.integers(1, 80))
def test_wrong_tries_of_others_never_delay_a_right_answer(events, ceiling):
    now = [0.0]
    lim = AttemptLimiter(clock=lambda: now[0], ceiling=ceiling)
    for session, address, dt in events:
        now[0] += dt
        try:
            lim.attempt("passcode", (("session", f"m{session}"), ("address", f"10.0.0.{address}")), lambda: False)
        except TooManyAttempts:
            pass
    assert lim.attempt("passcode", (("session", "rightful"), ("address", "192.0.2.1")), lambda: True)
    assert lim.attempt("passcode", (("session", "rightful elsewhere"),), lambda: True)
