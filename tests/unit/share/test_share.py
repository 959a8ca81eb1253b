"""Sharing a run: the export/import round trip, the refusal corpus of hostile or
damaged archives (nothing written for any of them), the model card, and ONNX
against onnxruntime."""

from __future__ import annotations

import io
import json
import os
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from gtzan_core.cli import main
from gtzan_core.hparams import make_config
from gtzan_core.inference import clear_model_cache, predict
from gtzan_core.jobs import train
from gtzan_core.runs import RunStore, lifecycle
from gtzan_core.share import ArchiveError, archive as archive_mod, export_archive, import_archive, read_archive
from gtzan_core.share.archive import archive_members


@pytest.fixture(scope="module")
def cnn_run(tiny_features, tmp_path_factory):
    store = RunStore(tmp_path_factory.mktemp("share-src") / "runs")
    record = train(make_config("cnn", recipe="studio", epochs=2, device="cpu", seed=5), tiny_features, store)
    return store, record["run_id"]


@pytest.fixture(scope="module")
def good_members(cnn_run):
    store, rid = cnn_run
    return archive_members(store, rid)


def zip_of(members: dict[str, bytes], resign: bool = True, infos: list[zipfile.ZipInfo] | None = None) -> bytes:
    """A zip of ``members``; with ``resign`` the manifest's checksums are recomputed
    (an attacker can do that too: the checks behind them must still hold)."""
    members = dict(members)
    if resign:
        manifest = json.loads(members["manifest.json"])
        manifest["files"] = {n: {"sha256": archive_mod._sha256(d), "size": len(d)}
                             for n, d in members.items() if n != "manifest.json"}
        members["manifest.json"] = json.dumps(manifest).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for info in infos or []:
            zf.writestr(info, b"whatever")
    return buf.getvalue()


def edited(members, name, change):
    out = dict(members)
    obj = json.loads(out[name])
    change(obj)
    out[name] = json.dumps(obj).encode()
    return out


def pickled_checkpoint(members) -> bytes:
    """The same checkpoint with a pickled object inside (a class torch refuses under weights_only)."""
    from argparse import Namespace

    ckpt = torch.load(io.BytesIO(members["model.pt"]), weights_only=True)
    ckpt["meta"]["extra"] = Namespace(payload="os.system")
    buf = io.BytesIO()
    torch.save(ckpt, buf)
    return buf.getvalue()


def reshaped_checkpoint(members) -> bytes:
    ckpt = torch.load(io.BytesIO(members["model.pt"]), weights_only=True)
    key = next(k for k, v in ckpt["state_dict"].items() if v.ndim == 2)
    ckpt["state_dict"][key] = torch.zeros(3, 3)
    buf = io.BytesIO()
    torch.save(ckpt, buf)
    return buf.getvalue()


def _link(name):
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


CORPUS = {
    "not a zip": (lambda m: b"I am a text file, not an archive\n", "not a zip archive"),
    # cut short, the stored checkpoint (itself a zip) is what a reader finds: refused either way
    "truncated zip": (lambda m: zip_of(m)[:-300], "not a zip archive|damaged zip archive|unexpected member"),
    "absolute path": (lambda m: zip_of(m, infos=[zipfile.ZipInfo("/etc/cron.d/evil")]), "absolute path"),
    "windows absolute": (lambda m: zip_of(m, infos=[zipfile.ZipInfo("C:/evil.bat")]), "absolute path"),
    "path traversal": (lambda m: zip_of(m, infos=[zipfile.ZipInfo("../../evil.py")]), "path traversal"),
    "nested traversal": (lambda m: zip_of(m, infos=[zipfile.ZipInfo("a/../../evil.py")]), "path traversal"),
    "symlink": (lambda m: zip_of(m, infos=[_link("record.json.lnk")]), "is a link"),
    "link named like a member": (lambda m: zip_of({k: v for k, v in m.items() if k != "confusion.png"},
                                                  infos=[_link("confusion.png")]), "is a link"),
    "unknown member": (lambda m: zip_of({**m, "run.py": b"import os"}), "unexpected member 'run.py'"),
    "folder member": (lambda m: zip_of(m, infos=[zipfile.ZipInfo("runs/")]), "unexpected member"),
    "duplicate member": (lambda m: zip_of(m, infos=[zipfile.ZipInfo("record.json")]), "more than once"),
    "no manifest": (lambda m: zip_of({k: v for k, v in m.items() if k != "manifest.json"}, resign=False),
                    "no manifest.json"),
    "no checkpoint": (lambda m: zip_of({k: v for k, v in m.items() if k != "model.pt"}), "missing model.pt"),
    "foreign schema": (lambda m: zip_of(edited(m, "manifest.json", lambda o: o.update(schema="other-tool"))),
                       "not a GTZAN Studio run archive"),
    "unknown version": (lambda m: zip_of(edited(m, "manifest.json", lambda o: o.update(version=2))),
                        "unknown archive version 2"),
    "checksum mismatch": (lambda m: zip_of(edited(m, "record.json", lambda o: o.update(title="tampered")),
                                           resign=False), "record.json does not match its checksum"),
    "pickled checkpoint": (lambda m: zip_of({**m, "model.pt": pickled_checkpoint(m)}), "pickled object"),
    "checkpoint of another model": (lambda m: zip_of(edited(m, "record.json", lambda o: o.update(model="mlp"))),
                                    "does not match its record: model"),
    "other MFCC parameters": (lambda m: zip_of(edited(m, "record.json",
                                                      lambda o: o["mfcc_params"].update(n_mfcc=20))),
                              "does not match its record: mfcc_params"),
    "wrong tensor shape": (lambda m: zip_of({**m, "model.pt": reshaped_checkpoint(m)}), "shapes differ"),
    "run id climbing out": (lambda m: zip_of(edited(m, "record.json", lambda o: o.update(run_id="../../etc"))),
                            "invalid run id"),
    "still running": (lambda m: zip_of(edited(m, "record.json", lambda o: o.update(status="running"))),
                      "still running"),
    "not a checkpoint": (lambda m: zip_of({**m, "model.pt": b"PK\x03\x04 nonsense"}), "model.pt"),
    "predictions not JSON": (lambda m: zip_of({**m, "predictions.json": b"{nope"}), "predictions.json is not valid"),
    "a probability of 7": (lambda m: zip_of(edited(m, "predictions.json",
                                                   lambda o: o["test"]["tracks"][0]["probs"].__setitem__(0, 7))),
                           "predictions.json track 1 is not a track's prediction"),
    "predictions of another matrix": (lambda m: zip_of(edited(m, "predictions.json", _moved_track)),
                                      "does not give the confusion matrix its record holds"),
    "predictions with a passenger": (lambda m: zip_of(edited(m, "predictions.json",
                                                             lambda o: o.update(external={"/etc": {}}))),
                                     "holding the test tracks' predictions alone"),
}


def _moved_track(o: dict) -> None:
    """One test track's predicted class changed: the file no longer gives the record's matrix."""
    t = o["test"]["tracks"][0]
    t["pred"] = (t["pred"] + 1) % len(o["test"]["classes"])


@pytest.mark.parametrize("case", list(CORPUS))
def test_import_refuses_bad_archives_and_writes_nothing(case, good_members, tmp_path):
    make, message = CORPUS[case]
    path = tmp_path / "in" / "run.zip"
    path.parent.mkdir()
    path.write_bytes(make(good_members))
    store = RunStore(tmp_path / "runs")
    with pytest.raises(ArchiveError, match=message):
        import_archive(path, store)
    assert not store.root.exists() or list(store.root.iterdir()) == []  # not even a staging folder


def test_oversize_member_is_refused_by_its_declared_and_by_its_real_size(good_members, tmp_path, monkeypatch):
    store = RunStore(tmp_path / "runs")
    monkeypatch.setitem(archive_mod.LIMITS, "model.pt", 1000)
    with pytest.raises(ArchiveError, match=r"model.pt is 0\.\d MB \(limit 0 MB\)"):
        import_archive(zip_of(good_members), store)
    # a header that understates a member's size: Python's zipfile stops at the claim (CRC error:
    # "damaged"), and our reader counts the bytes it gets against the limit anyway
    monkeypatch.setitem(archive_mod.LIMITS, "model.pt", 1536 << 20)
    with zipfile.ZipFile(io.BytesIO(zip_of(good_members))) as zf:
        info = zf.getinfo("record.json")
        info.file_size = 50
        with pytest.raises(zipfile.BadZipFile):
            archive_mod._read_limited(zf, info)

    class Bomb:  # what an inflating member looks like to the reader
        def open(self, info):
            return io.BytesIO(b"x" * 5000)

    monkeypatch.setitem(archive_mod.LIMITS, "record.json", 1000)
    with pytest.raises(ArchiveError, match="inflates past its limit"):
        archive_mod._read_limited(Bomb(), zipfile.ZipInfo("record.json"))
    assert not store.root.exists() or list(store.root.iterdir()) == []


def test_round_trip_predicts_the_same_probabilities_in_a_fresh_home(cnn_run, tiny_demo_set, tmp_path):
    src, rid = cnn_run
    out = export_archive(src, rid, tmp_path / "shared" / "run.zip")
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == sorted(["manifest.json", "record.json", "model.pt", "features.json",
                                                "MODEL_CARD.md", "confusion.png", "predictions.json"])
        card = zf.read("MODEL_CARD.md").decode()
        assert zf.read("confusion.png")[:8] == b"\x89PNG\r\n\x1a\n"
    record = src.read(rid)
    assert f"run `{rid}`" in card and "not GTZAN" in card and "| recipe | studio" in card
    assert f"{record['evaluation']['segment']['accuracy']:.3f}" in card
    assert "librosa.feature.mfcc" in card and "n_mfcc=13" in card

    dst = RunStore(tmp_path / "elsewhere" / "runs")
    result = import_archive(out, dst)
    assert result.run_id == rid and result.warnings == []
    imported = dst.read(rid)
    assert imported["imported"]["from"] == "run.zip" and imported["evaluation"] == record["evaluation"]
    assert (dst.path(rid) / "MODEL_CARD.md").is_file()
    clips = list(tiny_demo_set.tracks["audio_path"][:3])
    for clip in clips:
        clear_model_cache()
        a = predict(clip, [rid], src).results[rid]
        b = predict(clip, [rid], dst).results[rid]
        np.testing.assert_array_equal(a.segment_probs, b.segment_probs)
    with pytest.raises(ArchiveError, match="already in this studio"):
        import_archive(out, dst)
    assert read_archive(out)[0]["run_id"] == rid


def test_head_only_run_round_trips_and_warns_without_its_backbone(tiny_features_for, tmp_path, monkeypatch):
    from tests.helpers import write_squeezenet_weights

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    write_squeezenet_weights(tmp_path / "torch")
    src = RunStore(tmp_path / "a")
    record = train(make_config("squeezenet", recipe="studio", epochs=1, device="cpu", seed=3),
                   tiny_features_for("squeezenet"), src)
    assert record["pretrained"] is True
    data = export_archive(src, record["run_id"])
    card = zipfile.ZipFile(io.BytesIO(data)).read("MODEL_CARD.md").decode()
    assert "holds the trained head only" in card and record["weights"]["sha256"] in card
    dst = RunStore(tmp_path / "b")
    assert import_archive(data, dst).warnings == []
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch"))
    third = RunStore(tmp_path / "c")
    assert "needs the backbone weights" in import_archive(data, third).warnings[0]


def test_export_refuses_a_run_without_a_model(tmp_path):
    store = RunStore(tmp_path / "runs")
    rid = lifecycle.create(store, {"model": "mlp"})
    lifecycle.start(store, rid, "training")
    lifecycle.fail(store, rid, "it failed")
    with pytest.raises(ArchiveError, match="no saved model"):
        export_archive(store, rid, tmp_path / "x.zip")
    assert not (tmp_path / "x.zip").exists()


def test_cli_export_and_import(cnn_run, tmp_path, capsys):
    src, rid = cnn_run
    out = tmp_path / "run.zip"
    assert main(["export", rid, "--out", str(out), "--runs", str(src.root)]) == 0
    assert main(["import", str(out), "--runs", str(tmp_path / "runs"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["run_id"] == rid
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"nope")
    assert main(["import", str(bad), "--runs", str(tmp_path / "runs2")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: bad.zip: not a zip archive (a GTZAN Studio run is exported as a .zip)"]


def _device_node(tmp_path):
    """A character device that may be written to in the test: root makes a null device of
    its own in ``tmp_path`` (replacing it would harm nothing); anyone else gets /dev/null,
    which only root could replace."""
    if os.geteuid() == 0:
        node = tmp_path / "null-device"
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        return node
    return Path("/dev/null")


def _export(capsys, rid, out, src, *extra):
    code = main(["export", rid, "--out", str(out), "--runs", str(src.root), *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip().splitlines()


def test_export_out_refuses_what_is_no_new_file_and_replaces_nothing(cnn_run, tmp_path, capsys):
    src, rid = cnn_run
    folder = tmp_path / "a-folder"
    (folder / "kept.txt").parent.mkdir()
    (folder / "kept.txt").write_text("mine")
    fifo = tmp_path / "pipe.zip"
    os.mkfifo(fifo)  # opened for writing it would wait forever
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("not yours")
    link = tmp_path / "link.zip"
    link.symlink_to(elsewhere)
    device = _device_node(tmp_path)
    existing = tmp_path / "old.zip"
    existing.write_text("an older export")
    before = {p: os.lstat(p) for p in (folder, fifo, link, device, existing)}
    for out, says in ((folder, "is a folder, not a file name"), (fifo, "is a named pipe (FIFO)"),
                      (link, f"is a symbolic link (to {elsewhere})"), (device, "is a device, not a file"),
                      (existing, "already exists: refused, nothing written (replace it with --force)"),
                      (folder / "kept.txt" / "x.zip", "not a folder")):
        code, printed, err = _export(capsys, rid, out, src)
        assert code == 2 and not printed and len(err) == 1, (out, err)
        assert err[0].startswith(f"error: {out}") and says in err[0], (out, err)
    for path, st in before.items():  # each one where and what it was
        now = os.lstat(path)
        assert (now.st_ino, now.st_mode, now.st_size) == (st.st_ino, st.st_mode, st.st_size), path
    assert elsewhere.read_text() == "not yours" and existing.read_text() == "an older export"
    assert (folder / "kept.txt").read_text() == "mine" and sorted(p.name for p in folder.iterdir()) == ["kept.txt"]
    for out in (fifo, link, device, folder):  # --force replaces a regular file only
        code, _, err = _export(capsys, rid, out, src, "--force")
        assert code == 2 and len(err) == 1 and "refused" in err[0], (out, err)
    assert elsewhere.read_text() == "not yours" and stat.S_ISCHR(os.lstat(device).st_mode)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left behind


def test_export_out_writes_a_new_file_and_replaces_an_old_one_with_force(cnn_run, tmp_path, capsys):
    src, rid = cnn_run
    out = tmp_path / "new" / "run.zip"  # a missing folder is made
    code, printed, _ = _export(capsys, rid, out, src)
    assert code == 0 and printed.startswith(f"wrote {out}") and read_archive(out.read_bytes())[0]["run_id"] == rid
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~_umask()  # the user's file, not a private temporary
    other = tmp_path / "hard-link-to-it.zip"
    os.link(out, other)
    out.write_text("stale")  # (both names: one file)
    code, _, err = _export(capsys, rid, out, src, "--force")
    assert code == 0 and zipfile.is_zipfile(out)
    assert other.read_text() == "stale"  # replaced by a rename: the file's other name is left alone
    assert sorted(p.name for p in out.parent.iterdir()) == ["run.zip"]


def test_a_file_that_appears_while_the_export_is_written_is_left_alone(tmp_path, monkeypatch):
    from gtzan_core import fileio
    from gtzan_core.errors import OutputError

    out = tmp_path / "run.zip"
    real = fileio._place_new

    def racing(tmp, path):
        path.write_text("written by someone else meanwhile")
        return real(tmp, path)

    monkeypatch.setattr(fileio, "_place_new", racing)
    with pytest.raises(OutputError, match="appeared while it was being written"):
        fileio.write_new_file(out, b"the export")
    assert out.read_text() == "written by someone else meanwhile" and [p.name for p in tmp_path.iterdir()] == ["run.zip"]


def test_onnx_export_refuses_before_converting(cnn_run, tmp_path, capsys):
    pytest.importorskip("onnx")
    src, rid = cnn_run
    (tmp_path / "model.md").write_text("someone's notes")
    code, _, err = _export(capsys, rid, tmp_path / "model.onnx", src, "--format", "onnx")
    assert code == 2 and err == [f"error: {tmp_path / 'model.md'}: already exists: refused, nothing written "
                                 "(replace it with --force)"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.md"]  # no .onnx without its card


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("model", ["cnn", "gru", "squeezenet"])
def test_onnx_matches_torch_within_1e4_on_test_clips(model, tiny_features_for, tiny_demo_set, tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from gtzan_core.explain.inputs import model_input
    from gtzan_core.inference import load_run_model
    from gtzan_core.share.onnx_export import onnx_probabilities, torch_probabilities

    store = RunStore(tmp_path / "runs")
    rid = train(make_config(model, recipe="studio", epochs=1, device="cpu", seed=2), tiny_features_for(model),
                store)["run_id"]
    result = export_onnx_cli(rid, store, tmp_path / f"{model}.onnx")
    assert result["max_abs_diff"] < 1e-4
    card = (tmp_path / f"{model}.md").read_text()
    assert "## ONNX" in card and "## Input" in card
    net, meta = load_run_model(store, rid)
    record = store.read(rid)
    import soundfile as sf

    for clip in tiny_demo_set.tracks["audio_path"][:4]:  # real model inputs of test clips
        y, _ = sf.read(clip, dtype="float32")
        x = model_input(y, meta, record["input_kind"]).x
        x = x.numpy() if hasattr(x, "numpy") else np.asarray(x)
        diff = np.abs(onnx_probabilities(tmp_path / f"{model}.onnx", x) - torch_probabilities(net, x)).max()
        assert diff < 1e-4, diff


def export_onnx_cli(rid, store, out):
    import contextlib

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["export", rid, "--out", str(out), "--format", "onnx", "--json", "--runs", str(store.root)]) == 0
    return json.loads(buf.getvalue())


def test_a_runs_test_predictions_travel_with_it_and_list_the_same_tracks_behind_a_cell(cnn_run, tmp_path):
    from gtzan_core.insight import cells

    src, rid = cnn_run
    kept = cells.stored(src, rid)
    assert kept and kept["tracks"], "the trained run keeps its test predictions"
    dst = RunStore(tmp_path / "elsewhere")
    result = import_archive(export_archive(src, rid), dst, who="bob")
    assert cells.stored(dst, result.run_id) == kept
    matrix = cells.confusion_of(kept)
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            if count:
                true, pred = kept["classes"][i], kept["classes"][j]
                assert ([x.track for x in cells.cell_tracks(cells.stored(dst, result.run_id), true, pred)] ==
                        [x.track for x in cells.cell_tracks(kept, true, pred)])
    assert result.record["imported"]["by"] == "bob"  # a claim of its file, like the rest of the import
