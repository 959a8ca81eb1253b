"""Export a run as one zip, and import one: the archive format and its checks.

An archive holds exactly these members (no folders)::

    manifest.json   {"schema": "gtzan-studio-run", "version": 1, "run_id", "model",
                     "exported", "studio", "files": {name: {"sha256", "size"}}}
    record.json     the run's record (metrics, history, recipe, protocol, data)
    model.pt        the checkpoint (plain tensors and data; head only for a frozen
                    pretrained backbone, which the card names)
    features.json   the feature parameters the model was trained on
    MODEL_CARD.md   model, recipe, protocol, data, metrics, input preprocessing
    confusion.png   the test confusion matrix (when the run was evaluated)
    predictions.json  what the run predicted for each test track (when it was kept):
                    checked on import against its schema and the record's matrix,
                    and, like the rest of an imported run, a claim of its file

Import treats the file as hostile and reads it in an order that keeps a small file
from costing much: the zip's directory first (member names, repeats, declared sizes
against their limits, inflation ratios, nothing inflated), then the small members and
their checksums, the run's identity and the importer's quota; only then is the
checkpoint streamed to disk in chunks, hashed on the way. It is refused, with one
message naming the problem and nothing written, when it is not a zip or is larger than
:data:`MAX_ARCHIVE`, when a member's name is absolute or climbs out (``..``), is a
link, is not one of the names above or appears twice, when a member is encrypted,
larger than its limit (declared, and counted on the bytes read) or a zip bomb, when the
manifest is missing or of another schema or version, when a checksum differs, when the
run id is invalid, reserved, already in the store or not the manifest's, when the
importer's quota or the disk has no room for it, when the checkpoint holds pickled
objects (``torch.load(weights_only=True)``) or does not match its record. A good
archive is unpacked into a hidden staging folder of the store (``.import-*``) and
renamed into place at the end; the imported run belongs to the importer.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import stat
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from .. import GENRES, __version__
from ..audit import audit, disk_full_reported
from ..errors import CheckpointError, DiskFullError
from ..fileio import DISK_FULL, check_new_file, write_new_file
from ..runs import ACTIVE, RunRecord, RunStore, load_checkpoint_file, record_problems
from .card import confusion_png, model_card

SCHEMA = "gtzan-studio-run"
VERSION = 1
MB = 1 << 20
# member -> largest size accepted (a trained VGG19 with its backbone is ~560 MB)
LIMITS = {
    "manifest.json": 1 * MB,
    "record.json": 8 * MB,
    "features.json": 1 * MB,
    "MODEL_CARD.md": 1 * MB,
    "confusion.png": 4 * MB,
    "predictions.json": 16 * MB,
    "model.pt": 1536 * MB,
}
REQUIRED = ("manifest.json", "record.json", "features.json", "model.pt")
# fields of the record that describe the exporting machine's process, not the run
_LOCAL_FIELDS = ("pid", "host", "heartbeat", "job_id")


class ArchiveError(CheckpointError):
    """An archive that cannot be exported or is refused on import."""


@dataclass
class ImportResult:
    run_id: str
    record: dict
    warnings: list[str] = field(default_factory=list)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- export -----------------------------------------------------------------

def archive_members(store: RunStore, run_id: str) -> dict[str, bytes]:
    """The members of ``run_id``'s archive (manifest last), as bytes."""
    record = store.read(run_id)
    if record.get("status") in ACTIVE:
        raise ArchiveError(f"run {run_id} is {record['status']}; export it when it has finished")
    ckpt_path = store.checkpoint_path(run_id)
    if not ckpt_path.is_file():
        raise ArchiveError(f"run {run_id} has no saved model to export (status: {record.get('status', '?')})")
    store.load_checkpoint(run_id)  # refuse to pass on a damaged checkpoint
    shared = {k: v for k, v in record.to_json().items() if k not in _LOCAL_FIELDS}
    features = {"input_kind": record.get("input_kind", "mfcc"), "mfcc_params": record.get("mfcc_params"),
                "image_params": record.get("image_params"), "classes": record.get("classes", list(GENRES))}
    members = {
        "record.json": json.dumps(shared, indent=1, default=str).encode(),
        "model.pt": ckpt_path.read_bytes(),
        "features.json": json.dumps(features, indent=1).encode(),
        "MODEL_CARD.md": model_card(record).encode(),
    }
    evaluation = RunRecord.of(record).evaluation
    if evaluation is not None:
        members["confusion.png"] = confusion_png(evaluation.segment.confusion)
    test = store.read_predictions(run_id).get("test")
    if isinstance(test, dict):  # (an evaluation on another folder names a folder of this machine: not shared)
        members["predictions.json"] = json.dumps({"version": 1, "test": test}).encode()
    manifest = {"schema": SCHEMA, "version": VERSION, "run_id": run_id, "model": record.get("model"),
                "exported": time.time(), "studio": __version__,
                "files": {name: {"sha256": _sha256(data), "size": len(data)} for name, data in members.items()}}
    members["manifest.json"] = json.dumps(manifest, indent=1).encode()
    return members


def export_archive(store: RunStore, run_id: str, out: str | Path | None = None, force: bool = False) -> bytes | Path:
    """Write ``run_id``'s archive to ``out`` (a .zip path) and return the path, or return
    the zip's bytes when ``out`` is None. ``out`` is written as a new regular file,
    atomically (:func:`~gtzan_core.fileio.write_new_file`): a folder, a device, a FIFO, a
    socket or a link there is refused, and so is an existing file unless ``force`` (then
    a regular file is replaced)."""
    if out is not None:
        check_new_file(out, replace=force)  # before packing: refused at once
    members = archive_members(store, run_id)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in ("manifest.json", *(n for n in members if n != "manifest.json")):
            # checkpoints are zips of (mostly incompressible) float tensors: store them
            method = zipfile.ZIP_STORED if name == "model.pt" else zipfile.ZIP_DEFLATED
            zf.writestr(zipfile.ZipInfo(name, date_time=time.localtime()[:6]), members[name], compress_type=method)
    if out is None:
        return buf.getvalue()
    return write_new_file(out, buf.getvalue(), replace=force)


# -- import (the order of the checks is the module docstring's) -------------

STREAMED = "model.pt"  # the member that may be big: streamed to disk, never held in memory
STAGING_PREFIX = ".import-"
STALE_STAGING = 86400.0  # a staging folder this old (its import was killed) is removed by the next import
MAX_ARCHIVE = 1600 * MB  # the largest zip accepted (the app's uploader takes no more either)
MAX_RATIO = 50  # a member over 1 MB that inflates more than this is a zip bomb (a checkpoint hardly compresses)
CHUNK = 1 * MB
# what Python's zipfile raises on a damaged archive
_DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError, UnicodeDecodeError)

Source = str | Path | bytes | BinaryIO


def _check_name(info: zipfile.ZipInfo) -> str:
    name = info.filename
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise ArchiveError(f"refused: member {name!r} is a link")
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        raise ArchiveError(f"refused: member {name!r} has an absolute path")
    if ".." in re.split(r"[\\/]", name):
        raise ArchiveError(f"refused: member {name!r} climbs out of the archive (path traversal)")
    if info.is_dir() or name not in LIMITS or PurePosixPath(name).name != name:
        raise ArchiveError(f"refused: unexpected member {name!r} (a run archive holds only "
                           f"{', '.join(LIMITS)})")
    return name


def _directory(zf: zipfile.ZipFile, size: int) -> dict[str, zipfile.ZipInfo]:
    """The members by name, checked on the zip's directory alone (nothing inflated): names,
    repeats, the required members, where each lies in the ``size`` bytes of the archive,
    encryption and compression method, each declared size against its limit and its
    inflation ratio."""
    infos: dict[str, zipfile.ZipInfo] = {}
    for info in zf.infolist():
        name = _check_name(info)
        if name in infos:
            raise ArchiveError(f"refused: member {name!r} appears more than once")
        infos[name] = info
        if not 0 <= info.header_offset <= size - info.compress_size:
            raise ArchiveError(f"damaged zip archive (member {name} lies outside the archive)")
        if info.flag_bits & 0x1:
            raise ArchiveError(f"refused: member {name} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ArchiveError(f"refused: member {name} uses compression method {info.compress_type} (an export "
                               "stores or deflates its members)")
        limit = LIMITS[name]
        if info.file_size > limit:
            raise ArchiveError(f"refused: member {name} is {info.file_size / MB:.1f} MB (limit {limit / MB:.0f} MB)")
        packed = max(info.compress_size, 1)
        if info.file_size > MB and info.file_size > MAX_RATIO * packed:
            raise ArchiveError(f"refused: member {name} would inflate {info.file_size / packed:.0f}-fold "
                               f"({packed / MB:.1f} MB to {info.file_size / MB:.0f} MB): a zip bomb")
    missing = [n for n in REQUIRED if n not in infos]
    if missing:
        raise ArchiveError("refused: no manifest.json: not a GTZAN Studio run archive" if "manifest.json" in missing
                           else f"refused: missing {', '.join(missing)}")
    return infos


def _label(source: Source, name: str | None) -> str:
    if name:
        return name
    if isinstance(source, (str, Path)):
        return Path(source).name
    return Path(getattr(source, "name", None) or "archive").name


@contextlib.contextmanager
def _opened(source: Source, label: str) -> Iterator[tuple[zipfile.ZipFile, dict[str, zipfile.ZipInfo]]]:
    """The archive opened and its directory checked; any refusal inside the block is one
    ArchiveError line that starts with ``label``. A file-like source (the app's upload) is
    read in place, never copied."""
    if isinstance(source, (str, Path)):
        stream = Path(source)
        if not stream.is_file():
            raise ArchiveError(f"{label}: no such file")
        size = stream.stat().st_size
    else:
        stream = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
        size = stream.seek(0, os.SEEK_END)
        stream.seek(0)
    if size > MAX_ARCHIVE:
        raise ArchiveError(f"{label}: refused: the archive is {size / MB:.0f} MB (limit {MAX_ARCHIVE / MB:.0f} MB)")
    if not zipfile.is_zipfile(stream):
        raise ArchiveError(f"{label}: not a zip archive (a GTZAN Studio run is exported as a .zip)")
    try:
        with zipfile.ZipFile(stream) as zf:
            yield zf, _directory(zf, size)
    except _DAMAGED as exc:
        raise ArchiveError(f"{label}: damaged zip archive ({exc})") from None
    except ArchiveError as exc:
        msg = str(exc)
        raise ArchiveError(msg if msg.startswith(label) else f"{label}: {msg}") from None


def _read_limited(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """The member's bytes, refusing it when it (or what it inflates to) passes its limit."""
    limit = LIMITS[info.filename]
    if info.file_size > limit:
        raise ArchiveError(f"refused: member {info.filename} is {info.file_size / MB:.1f} MB "
                           f"(limit {limit / MB:.0f} MB)")
    chunks, total = [], 0
    with zf.open(info) as fh:
        while chunk := fh.read(CHUNK):
            total += len(chunk)
            if total > limit:
                raise ArchiveError(f"refused: member {info.filename} inflates past its limit "
                                   f"({limit / MB:.0f} MB)")
            chunks.append(chunk)
    return b"".join(chunks)


def _json(name: str, data: bytes) -> dict:
    try:
        obj = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ArchiveError(f"refused: {name} is not valid JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise ArchiveError(f"refused: {name} is not a JSON object")
    return obj


def _check_record(record: dict) -> None:
    """Refuse a record that the run store would list as damaged (a number that is text, a
    list for an object, no model...: :func:`~gtzan_core.runs.record_problems`), or without
    its creation time: an imported run must show as a run."""
    from ..knobs import knob_problems

    problems = record_problems(record)
    if record.get("created") is None:
        problems.insert(0, "it has no created time")
    config = record.get("config")
    problems += knob_problems(config if isinstance(config, dict) else {}, "its configuration's ")
    if problems:
        raise ArchiveError("refused: record.json is not a valid record: " + "; ".join(problems[:3]))


def _check_predictions(predictions: dict, record: dict) -> None:
    """Refuse a ``predictions.json`` that is not the studio's (version 1, its ``test``: the
    record's classes, each track an id, a true and a predicted class in range, probabilities
    in [0, 1] one a class, its samples' classes) or that does not give the record's own
    track-level confusion matrix (:func:`gtzan_core.evaluation.test_predictions`)."""
    import math

    def refuse(why: str) -> ArchiveError:
        return ArchiveError(f"refused: predictions.json {why}")

    test = predictions.get("test")
    if predictions.get("version") != 1 or not isinstance(test, dict) or set(predictions) != {"version", "test"}:
        raise refuse("is not a version 1 file holding the test tracks' predictions alone")
    classes = test.get("classes")
    if classes != (record.get("classes") or list(GENRES)) or not isinstance(test.get("tracks"), list):
        raise refuse("names other classes than the record, or lists no tracks")
    n, seen = len(classes), set()
    for i, t in enumerate(test["tracks"]):
        ok = (isinstance(t, dict) and isinstance(t.get("track"), str) and 0 < len(t["track"]) <= 512
              and all(type(t.get(k)) is int and 0 <= t[k] < n for k in ("true", "pred"))
              and isinstance(t.get("probs"), list) and len(t["probs"]) == n
              and all(type(p) in (int, float) and math.isfinite(p) and 0 <= p <= 1 for p in t["probs"])
              and isinstance(t.get("segments"), list)
              and all(type(p) is int and 0 <= p < n for p in t["segments"]))
        if not ok:
            raise refuse(f"track {i + 1} is not a track's prediction (its id, true and predicted class, "
                         f"{n} probabilities in [0, 1], its samples' classes)")
        if t["track"] in seen:
            raise refuse(f"lists track {t['track']!r} twice")
        seen.add(t["track"])
    evaluation = RunRecord.of(record).evaluation
    level = (evaluation.track or evaluation.segment) if evaluation is not None else None
    if level is None:
        raise refuse("comes with a record that has no test evaluation")
    from ..insight.cells import confusion_of

    if confusion_of(test, "track" if evaluation.track is not None else "segment") != level.confusion:
        raise refuse("does not give the confusion matrix its record holds")


def _mismatch(name: str) -> ArchiveError:
    return ArchiveError(f"refused: {name} does not match its checksum in the manifest (damaged or altered)")


def _small_members(zf: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo]) -> tuple[dict, dict[str, bytes]]:
    """The manifest (schema, version, the files it lists against the directory) and every
    member but the checkpoint, read within its limit and checked against its checksum. The
    checkpoint's declared size must be the manifest's too."""
    manifest = _json("manifest.json", _read_limited(zf, infos["manifest.json"]))
    if manifest.get("schema") != SCHEMA:
        raise ArchiveError(f"refused: not a GTZAN Studio run archive (schema {manifest.get('schema')!r})")
    if manifest.get("version") != VERSION:
        raise ArchiveError(f"refused: unknown archive version {manifest.get('version')!r} "
                           f"(this studio reads version {VERSION}; a newer studio may have written it)")
    listed = manifest.get("files")
    if not isinstance(listed, dict):
        raise ArchiveError("refused: manifest.json lists no files")
    for name in infos:
        if name != "manifest.json" and not isinstance(listed.get(name), dict):
            raise ArchiveError(f"refused: {name} is not listed in the manifest")
    absent = [n for n in listed if n not in infos]
    if absent:
        raise ArchiveError(f"refused: the manifest lists {', '.join(map(str, absent))}, which the archive lacks")
    if listed[STREAMED].get("size") != infos[STREAMED].file_size:
        raise _mismatch(STREAMED)
    data = {}
    for name, info in infos.items():
        if name in ("manifest.json", STREAMED):
            continue
        data[name] = _read_limited(zf, info)
        if listed[name].get("size") != len(data[name]) or listed[name].get("sha256") != _sha256(data[name]):
            raise _mismatch(name)
    return manifest, data


def _new_file(path: Path) -> BinaryIO:
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644), "wb")


def _copy_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, entry: dict, dest: Path | None) -> None:
    """Stream a member a chunk at a time to ``dest`` (only through the hash when None),
    counting its bytes against its declared size; refused unless size and SHA-256 are the
    manifest's ``entry``."""
    digest, total = hashlib.sha256(), 0
    with zf.open(info) as src, (_new_file(dest) if dest else contextlib.nullcontext()) as out:
        while chunk := src.read(CHUNK):
            total += len(chunk)
            if total > info.file_size:
                raise ArchiveError(f"refused: member {info.filename} inflates past its declared size "
                                   f"({info.file_size / MB:.1f} MB)")
            digest.update(chunk)
            if out is not None:
                out.write(chunk)
    if total != entry.get("size") or digest.hexdigest() != entry.get("sha256"):
        raise _mismatch(info.filename)


def _check_checkpoint(ckpt: dict, record: dict, features: dict, label: str) -> None:
    """The checkpoint must be the record's model: same model, run, feature parameters
    and tensor shapes (checked on a skeleton built on the ``meta`` device)."""
    import torch

    from ..errors import ConfigError
    from ..inputs import kind_of
    from ..knobs import knob_problems
    from ..models import MODELS
    from ..training.checkpoints import skeleton

    meta = ckpt.get("meta") or {}

    def refuse(why: str):
        raise ArchiveError(f"{label}: refused: the checkpoint does not match its record: {why}")

    if not isinstance(meta, dict) or not all(isinstance(meta.get(k) or {}, dict) for k in ("image_params", "backbone")):
        refuse("its meta data is not a dict of the studio's fields")
    model = record.get("model")
    if not isinstance(model, str) or model not in MODELS:
        raise ArchiveError(f"{label}: refused: unknown model {model!r} (this studio has {', '.join(MODELS)})")
    for key, mine in (("model", model), ("run_id", record.get("run_id")),
                      ("mfcc_params", record.get("mfcc_params")), ("classes", record.get("classes", list(GENRES)))):
        if meta.get(key) != mine:
            refuse(f"{key} is {meta.get(key)!r} in the checkpoint, {mine!r} in the record")
    if features.get("mfcc_params") != record.get("mfcc_params"):
        refuse("features.json's MFCC parameters differ from the record's")
    try:
        kind = kind_of(record)
    except ConfigError as exc:
        raise ArchiveError(f"{label}: refused: {exc}") from None
    if (mismatch := kind.checkpoint_mismatch(meta, record)):
        refuse(mismatch)
    if list(meta.get("classes", GENRES)) != list(GENRES):
        refuse("its classes are not the ten GTZAN genres in the studio's order")
    options = meta.get("options")
    if (problems := knob_problems(options if isinstance(options, dict) else {})):
        refuse(f"its options are outside the studio's bounds ({problems[0]})")
    try:
        net, _ = skeleton(meta)
    except Exception as exc:  # options from the file: any failure is a mismatch
        refuse(f"its options {meta.get('options')} do not build a {model} ({type(exc).__name__}: {exc})")
    expected = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    state = ckpt["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        refuse("its state is not a dict of tensors")
    extra = [k for k in state if k not in expected]
    if extra:
        refuse(f"tensors the model lacks ({', '.join(extra[:3])})")
    wrong = [f"{k} {tuple(v.shape)} vs {expected[k]}" for k, v in state.items() if tuple(v.shape) != expected[k]]
    if wrong:
        refuse(f"shapes differ ({'; '.join(wrong[:2])})")
    if not meta.get("backbone"):
        missing = [k for k in expected if k not in state]
        if missing:
            refuse(f"tensors missing ({', '.join(missing[:3])})")
    elif not all(k.startswith(("head.", "norm.")) for k in state):
        refuse("a head-only checkpoint that holds backbone tensors")


def read_archive(source: Source, name: str | None = None) -> tuple[dict, dict[str, bytes]]:
    """Check an archive as an import does, without importing it: structure, manifest and
    every checksum (the checkpoint's streamed, never held). Returns the manifest and the
    other members' bytes (``name``: how messages call the source). Nothing is written."""
    label = _label(source, name)
    with _opened(source, label) as (zf, infos):
        manifest, data = _small_members(zf, infos)
        _copy_member(zf, infos[STREAMED], manifest["files"][STREAMED], None)
    return manifest, data


def _check_identity(manifest: dict, record: dict, store: RunStore) -> str:
    """The run id, when it can be a new run of ``store``: valid and not reserved (the
    shipped starters' ``starter-*`` ids included), the manifest's, a finished run, not
    already present (in the store or its trash)."""
    from ..claims import RESERVED_PREFIX
    from ..runs.trash import list_trash

    run_id = record.get("run_id")
    try:
        store.path(run_id)
    except CheckpointError as exc:
        raise ArchiveError(f"refused: record.json: {exc}") from None
    if run_id.casefold().startswith(RESERVED_PREFIX):
        raise ArchiveError(f"refused: run id {run_id!r} is reserved: ids starting with {RESERVED_PREFIX!r} are the "
                           "studio's shipped starters, which no import can be")
    if any(e.run_id == run_id for e in list_trash(store)):
        raise ArchiveError(f"run {run_id} is in this studio's trash (purge it first to import it again)")
    if manifest.get("run_id") != run_id:
        raise ArchiveError(f"refused: the manifest names run {manifest.get('run_id')!r}, the record {run_id!r}")
    if record.get("status") in ACTIVE:
        raise ArchiveError(f"refused: the record says the run is still {record['status']}")
    if store.path(run_id).exists():
        raise ArchiveError(f"run {run_id} is already in this studio (delete it first to import it again)")
    return run_id


def _sweep_staging(store: RunStore) -> None:
    """Remove staging folders of imports that were killed (older than a day)."""
    for d in store.root.glob(f"{STAGING_PREFIX}*"):
        try:
            stale = time.time() - d.stat().st_mtime > STALE_STAGING
        except FileNotFoundError:  # another import just finished with it
            continue
        if stale:
            shutil.rmtree(d, ignore_errors=True)


def _unpack(zf: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo], manifest: dict, data: dict[str, bytes],
            record: dict, features: dict, store: RunStore, label: str) -> list[str]:
    """Stream the checkpoint into a staging folder of the store, check it, write the record
    and the other members beside it and rename the folder into place (the run appears
    whole or not at all); returns the warnings. On any failure the staging folder is
    removed: nothing is left half-imported."""
    run_id = record["run_id"]
    stage = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=store.root))
    try:
        _copy_member(zf, infos[STREAMED], manifest["files"][STREAMED], stage / STREAMED)
        try:
            ckpt = load_checkpoint_file(stage / STREAMED)
        except CheckpointError as exc:
            raise ArchiveError(f"{label}: refused: model.pt: {str(exc).split(': ', 1)[-1]}") from None
        _check_checkpoint(ckpt, record, features, label)
        warnings = []
        backbone = (ckpt["meta"] or {}).get("backbone")
        if backbone:
            from ..models.weights import known_weights, missing_message, weights_available

            known = known_weights(backbone.get("file"))
            if known is None:
                raise ArchiveError(f"{label}: refused: the checkpoint sits on backbone weights this studio does "
                                   f"not know ({backbone.get('file')!r})")
            if not weights_available(known):
                warnings.append(f"this run's checkpoint holds the trained head only; it needs the backbone weights "
                                f"{backbone.get('weights')} ({backbone.get('file')}) to predict: "
                                f"{missing_message(known)}")
        members = {"record.json": json.dumps(record, indent=1).encode(),
                   **{n: data[n] for n in ("MODEL_CARD.md", "confusion.png", "predictions.json") if n in data}}
        for member, blob in members.items():
            with _new_file(stage / member) as out:
                out.write(blob)
        stage.chmod(0o755)  # like the store's other run folders (mkdtemp makes it private)
        try:
            stage.rename(store.path(run_id))  # atomic: the run appears whole or not at all
        except OSError as exc:
            if exc.errno in DISK_FULL:
                raise
            raise ArchiveError(f"{label}: run {run_id} is already in this studio") from None
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)
    return warnings


def import_archive(source: Source, store: RunStore | None = None, name: str | None = None,
                   who: str | None = None, check_quota: Callable[[int], None] | None = None) -> ImportResult:
    """Check ``source`` (a path, the zip's bytes, or a binary file object such as the app's
    upload, read in place; ``name``: how messages call it) and add its run to ``store``.

    The imported run belongs to ``who``, the importer (the archive's owner is kept as
    ``imported.owner``), and the import is written to the audit log. ``check_quota`` is
    called with the bytes the run will take (the archive's declared sizes) before anything
    is inflated, and refuses by raising. A refusal is one :class:`ArchiveError` line (or the
    quota's error), a full disk one :class:`DiskFullError` line; in every case nothing is
    added to the store."""
    store = store or RunStore()
    label = _label(source, name)
    with _opened(source, label) as (zf, infos):
        manifest, data = _small_members(zf, infos)
        record = _json("record.json", data["record.json"])
        features = _json("features.json", data["features.json"])
        _check_record(record)
        if "predictions.json" in data:
            _check_predictions(_json("predictions.json", data["predictions.json"]), record)
        run_id = _check_identity(manifest, record, store)
        size = sum(info.file_size for info in infos.values())
        if check_quota is not None:
            check_quota(size)
        # what the file claims about its standing never carries over (gtzan_core.claims): no starter role,
        # no promotion to a class, no measurement by this studio; its numbers are the file's until measured here
        claims = {k: record.pop(k) for k in ("starter", "promoted", "external_evaluations") if k in record}
        record.update(owner=who, imported={"from": label, "at": time.time(), "exported": manifest.get("exported"),
                                           "studio": manifest.get("studio"), "by": who,
                                           "owner": record.get("owner"), "dropped": sorted(claims)})
        with disk_full_reported(store.root, who, "import", run_id,
                                f"disk full: could not import {label} ({size / MB:.0f} MB unpacked; nothing was "
                                "added: free some space and try again)"):
            store.root.mkdir(parents=True, exist_ok=True)
            if shutil.disk_usage(store.root).free < size + MB:
                raise DiskFullError(f"{store.root} has no room for {size / MB:.0f} MB")
            _sweep_staging(store)
            warnings = _unpack(zf, infos, manifest, data, record, features, store, label)
            try:
                audit(store.root, who, "import", run_id, source=label)
            except DiskFullError:
                shutil.rmtree(store.path(run_id), ignore_errors=True)  # not imported unless audited
                raise
    return ImportResult(run_id, store.read(run_id), warnings)
