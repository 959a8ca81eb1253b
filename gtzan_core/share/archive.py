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

Import treats the file as hostile: it is refused, with one message naming the
problem and nothing written, when it is not a zip, when a member's name is
absolute or climbs out (``..``), is a link, is not one of the names above or
appears twice, when a member is larger than its limit (checked on the bytes
actually read, not only the size the archive claims), when the manifest is
missing or of another schema or version, when a checksum differs, when the
checkpoint holds pickled objects (``torch.load(weights_only=True)``) or does not
match its record, or when the run is already in the store. A good archive is
unpacked into a hidden folder of the store and renamed into place at the end.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import stat
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .. import GENRES, __version__
from ..errors import CheckpointError
from ..runs import ACTIVE, RunStore, atomic_write_bytes, load_checkpoint_file
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
    load_checkpoint_file(ckpt_path)  # refuse to pass on a damaged checkpoint
    shared = {k: v for k, v in record.items() if k not in _LOCAL_FIELDS}
    features = {"input_kind": record.get("input_kind", "mfcc"), "mfcc_params": record.get("mfcc_params"),
                "image_params": record.get("image_params"), "classes": record.get("classes", list(GENRES))}
    members = {
        "record.json": json.dumps(shared, indent=1, default=str).encode(),
        "model.pt": ckpt_path.read_bytes(),
        "features.json": json.dumps(features, indent=1).encode(),
        "MODEL_CARD.md": model_card(record).encode(),
    }
    confusion = ((record.get("evaluation") or {}).get("segment") or {}).get("confusion")
    if confusion:
        members["confusion.png"] = confusion_png(confusion)
    manifest = {"schema": SCHEMA, "version": VERSION, "run_id": run_id, "model": record.get("model"),
                "exported": time.time(), "studio": __version__,
                "files": {name: {"sha256": _sha256(data), "size": len(data)} for name, data in members.items()}}
    members["manifest.json"] = json.dumps(manifest, indent=1).encode()
    return members


def export_archive(store: RunStore, run_id: str, out: str | Path | None = None) -> bytes | Path:
    """Write ``run_id``'s archive to ``out`` (a .zip path; written atomically) and
    return the path, or return the zip's bytes when ``out`` is None."""
    members = archive_members(store, run_id)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in ("manifest.json", *(n for n in members if n != "manifest.json")):
            # checkpoints are zips of (mostly incompressible) float tensors: store them
            method = zipfile.ZIP_STORED if name == "model.pt" else zipfile.ZIP_DEFLATED
            zf.writestr(zipfile.ZipInfo(name, date_time=time.localtime()[:6]), members[name], compress_type=method)
    if out is None:
        return buf.getvalue()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, buf.getvalue())
    return out


# -- import -----------------------------------------------------------------

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


def _read_limited(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """The member's bytes, refusing it when it (or what it inflates to) passes its limit."""
    limit = LIMITS[info.filename]
    if info.file_size > limit:
        raise ArchiveError(f"refused: member {info.filename} is {info.file_size / MB:.1f} MB "
                           f"(limit {limit / MB:.0f} MB)")
    chunks, total = [], 0
    with zf.open(info) as fh:
        while chunk := fh.read(1 << 20):
            total += len(chunk)
            if total > limit:
                raise ArchiveError(f"refused: member {info.filename} inflates past its limit "
                                   f"({limit / MB:.0f} MB)")
            chunks.append(chunk)
    return b"".join(chunks)


def _json(name: str, data: bytes) -> dict:
    try:
        obj = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArchiveError(f"refused: {name} is not valid JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise ArchiveError(f"refused: {name} is not a JSON object")
    return obj


def _label(source, name: str | None) -> str:
    return name or ("archive" if isinstance(source, (bytes, bytearray)) else Path(source).name)


def read_archive(source: str | Path | bytes, name: str | None = None) -> tuple[dict, dict[str, bytes]]:
    """Open and check an archive's structure, manifest and checksums; return the
    manifest and the members' bytes (``name``: how messages call a bytes source).
    Nothing is written."""
    label = _label(source, name)
    stream = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else Path(source)
    if not isinstance(stream, io.BytesIO) and not stream.is_file():
        raise ArchiveError(f"{label}: no such file")
    if not zipfile.is_zipfile(stream):
        raise ArchiveError(f"{label}: not a zip archive (a GTZAN Studio run is exported as a .zip)")
    try:
        with zipfile.ZipFile(stream) as zf:
            infos = zf.infolist()
            names = [_check_name(i) for i in infos]
            dup = {n for n in names if names.count(n) > 1}
            if dup:
                raise ArchiveError(f"refused: member {sorted(dup)[0]!r} appears more than once")
            missing = [n for n in REQUIRED if n not in names]
            if missing:
                what = "no manifest.json: not a GTZAN Studio run archive" if "manifest.json" in missing \
                    else f"missing {', '.join(missing)}"
                raise ArchiveError(f"{label}: refused: {what}")
            data = {i.filename: _read_limited(zf, i) for i in infos}
    except zipfile.BadZipFile as exc:
        raise ArchiveError(f"{label}: damaged zip archive ({exc})") from None
    except ArchiveError as exc:
        msg = str(exc)
        raise ArchiveError(msg if msg.startswith(label) else f"{label}: {msg}") from None
    manifest = _json("manifest.json", data["manifest.json"])
    if manifest.get("schema") != SCHEMA:
        raise ArchiveError(f"{label}: refused: not a GTZAN Studio run archive (schema {manifest.get('schema')!r})")
    if manifest.get("version") != VERSION:
        raise ArchiveError(f"{label}: refused: unknown archive version {manifest.get('version')!r} "
                           f"(this studio reads version {VERSION}; a newer studio may have written it)")
    listed = manifest.get("files")
    if not isinstance(listed, dict):
        raise ArchiveError(f"{label}: refused: manifest.json lists no files")
    for name, blob in data.items():
        if name == "manifest.json":
            continue
        entry = listed.get(name)
        if not isinstance(entry, dict):
            raise ArchiveError(f"{label}: refused: {name} is not listed in the manifest")
        if entry.get("size") != len(blob) or entry.get("sha256") != _sha256(blob):
            raise ArchiveError(f"{label}: refused: {name} does not match its checksum in the manifest "
                               "(damaged or altered)")
    absent = [n for n in listed if n not in data]
    if absent:
        raise ArchiveError(f"{label}: refused: the manifest lists {', '.join(absent)}, which the archive lacks")
    return manifest, data


def _check_checkpoint(ckpt: dict, record: dict, features: dict, label: str) -> None:
    """The checkpoint must be the record's model: same model, run, feature parameters
    and tensor shapes (checked on a skeleton built on the ``meta`` device)."""
    import torch

    from ..models import MODELS
    from ..training.checkpoints import skeleton

    meta = ckpt.get("meta") or {}

    def refuse(why: str):
        raise ArchiveError(f"{label}: refused: the checkpoint does not match its record: {why}")

    model = record.get("model")
    if model not in MODELS:
        raise ArchiveError(f"{label}: refused: unknown model {model!r} (this studio has {', '.join(MODELS)})")
    for key, mine in (("model", model), ("run_id", record.get("run_id")),
                      ("mfcc_params", record.get("mfcc_params")), ("classes", record.get("classes", list(GENRES)))):
        if meta.get(key) != mine:
            refuse(f"{key} is {meta.get(key)!r} in the checkpoint, {mine!r} in the record")
    if features.get("mfcc_params") != record.get("mfcc_params"):
        refuse("features.json's MFCC parameters differ from the record's")
    if record.get("input_kind") == "image" and \
            (meta.get("image_params") or {}).get("size") != (record.get("image_params") or {}).get("size"):
        refuse("image sizes differ")
    if list(meta.get("classes", GENRES)) != list(GENRES):
        refuse("its classes are not the ten GTZAN genres in the studio's order")
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


def import_archive(source: str | Path | bytes, store: RunStore | None = None,
                   name: str | None = None, who: str | None = None) -> ImportResult:
    """Check ``source`` (a path, or the zip's bytes called ``name``) and add its run
    to ``store``. Raises :class:`ArchiveError` with one message naming the problem;
    on any refusal nothing is written. ``who`` (the importing visitor) owns the
    imported copy; the import is written to the audit log."""
    store = store or RunStore()
    label = _label(source, name)
    manifest, data = read_archive(source, label)
    record = _json("record.json", data["record.json"])
    features = _json("features.json", data["features.json"])
    run_id = record.get("run_id")
    try:
        store.path(run_id)
    except CheckpointError:
        raise ArchiveError(f"{label}: refused: invalid run id {run_id!r} in record.json") from None
    if manifest.get("run_id") != run_id:
        raise ArchiveError(f"{label}: refused: the manifest names run {manifest.get('run_id')!r}, "
                           f"the record {run_id!r}")
    if record.get("status") in ACTIVE:
        raise ArchiveError(f"{label}: refused: the record says the run is still {record['status']}")
    if store.path(run_id).exists():
        raise ArchiveError(f"{label}: run {run_id} is already in this studio (delete it first to import it again)")

    store.root.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".import-", dir=store.root))
    try:
        (stage / "model.pt").write_bytes(data["model.pt"])
        try:
            ckpt = load_checkpoint_file(stage / "model.pt")
        except CheckpointError as exc:
            raise ArchiveError(f"{label}: refused: model.pt: {str(exc).split(': ', 1)[-1]}") from None
        _check_checkpoint(ckpt, record, features, label)
        warnings = []
        backbone = (ckpt["meta"] or {}).get("backbone")
        if backbone:
            from ..models.pretrained import WEIGHTS, weights_path

            known = next((w for w in WEIGHTS.values() if w.file == backbone.get("file")), None)
            if known is None:
                raise ArchiveError(f"{label}: refused: the checkpoint sits on backbone weights this studio does "
                                   f"not know ({backbone.get('file')!r})")
            if not weights_path(known).is_file():
                warnings.append(f"this run's checkpoint holds the trained head only; it needs the backbone weights "
                                f"{backbone.get('weights')} ({backbone.get('file')}) in torch's hub cache to predict")
        record.update(imported={"from": label, "at": time.time(), "exported": manifest.get("exported"),
                                "studio": manifest.get("studio"), "by": who})
        if who:
            record["owner"] = who
        (stage / "record.json").write_text(json.dumps(record, indent=1))
        for extra in ("MODEL_CARD.md", "confusion.png"):
            if extra in data:
                (stage / extra).write_bytes(data[extra])
        stage.chmod(0o755)  # like the store's other run folders (mkdtemp makes it private)
        try:
            stage.rename(store.path(run_id))  # atomic: the run appears whole or not at all
        except OSError:
            raise ArchiveError(f"{label}: run {run_id} is already in this studio") from None
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)
    from ..audit import audit

    audit(store.root, who, "import", run_id, source=label)
    return ImportResult(run_id, store.read(run_id), warnings)
