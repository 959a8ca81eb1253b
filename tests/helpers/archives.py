"""Hostile run archives built on purpose, and the memory an import of one takes: shared
by the tests (``tests/hostile/test_hostile.py``) and ``bench/import_memory.py``.

Zips are written by hand here (local headers, central directory, end record) so that a
member can be declared and deflated without the builder ever holding it: the 1 GB of
zeros of :func:`bomb_archive` is one deflated megabyte repeated (each copy ends in a
full flush, so it stands alone), about 1 MB on disk.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

from .paths import ROOT

MB = 1 << 20


def resigned(members: dict[str, bytes]) -> dict[str, bytes]:
    """``members`` with the manifest's sizes and checksums recomputed (an attacker can
    do that too: the checks behind them must still hold)."""
    manifest = json.loads(members["manifest.json"])
    manifest["files"] = {n: {"sha256": hashlib.sha256(d).hexdigest(), "size": len(d)}
                         for n, d in members.items() if n != "manifest.json"}
    return {**members, "manifest.json": json.dumps(manifest).encode()}


def renamed(members: dict[str, bytes], run_id: str) -> dict[str, bytes]:
    """The same run under another run id (record, manifest and checkpoint), re-signed."""
    import torch

    ckpt = torch.load(io.BytesIO(members["model.pt"]), weights_only=True)
    ckpt["meta"]["run_id"] = run_id
    buf = io.BytesIO()
    torch.save(ckpt, buf)
    record = {**json.loads(members["record.json"]), "run_id": run_id}
    manifest = {**json.loads(members["manifest.json"]), "run_id": run_id}
    return resigned({**members, "record.json": json.dumps(record).encode(), "model.pt": buf.getvalue(),
                     "manifest.json": json.dumps(manifest).encode()})


class _Member:
    """One member to write: its name, CRC-32, sizes, compression method, general-purpose
    flags (bit 0: encrypted) and the chunks of its stored bytes."""

    def __init__(self, name: str, chunks, crc: int, size: int, method: int, flags: int = 0):
        self.name, self.chunks, self.crc, self.size, self.method = name.encode(), chunks, crc, size, method
        self.flags, self.packed = flags, sum(len(c) for c in chunks)


def _deflated(data: bytes) -> _Member:
    co = zlib.compressobj(6, zlib.DEFLATED, -15)
    return co.compress(data) + co.flush()


def write_zip(out, members: list[_Member]) -> None:
    """Write ``members`` as a zip to the binary file ``out`` (no zip64: each under 4 GB)."""
    central, offset = [], 0
    for m in members:
        local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, m.flags, m.method, 0, 0x21, m.crc, m.packed, m.size,
                            len(m.name), 0) + m.name
        out.write(local)
        for chunk in m.chunks:
            out.write(chunk)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, m.flags, m.method, 0, 0x21, m.crc,
                                   m.packed, m.size, len(m.name), 0, 0, 0, 0, 0o644 << 16, offset) + m.name)
        offset += len(local) + m.packed
    directory = b"".join(central)
    out.write(directory)
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(directory), offset, 0))


def member(name: str, data: bytes, deflate: bool = True) -> _Member:
    if deflate:
        return _Member(name, [_deflated(data)], zlib.crc32(data), len(data), 8)
    return _Member(name, [data], zlib.crc32(data), len(data), 0)


def zeros_member(name: str, size: int) -> tuple[_Member, str]:
    """``size`` zero bytes (a multiple of 1 MB), deflated to about size / 1000, and their SHA-256."""
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = co.compress(bytes(MB)) + co.flush(zlib.Z_FULL_FLUSH)  # decodes to 1 MB of zeros, standing alone
    tail = co.flush(zlib.Z_FINISH)
    n = size // MB
    crc, digest = 0, hashlib.sha256()
    for _ in range(n):
        crc = zlib.crc32(bytes(MB), crc)
        digest.update(bytes(MB))
    return _Member(name, [block] * n + [tail], crc, n * MB, 8), digest.hexdigest()


def bomb_archive(members: dict[str, bytes], size: int = 1 << 30) -> bytes:
    """``members`` (a real run's) with ``model.pt`` replaced by ``size`` zero bytes, the
    manifest listing it honestly: the issue's 1 MB zip that unpacks to 1 GB."""
    big, sha = zeros_member("model.pt", size)
    manifest = json.loads(members["manifest.json"])
    manifest["files"]["model.pt"] = {"sha256": sha, "size": size}
    small = {**members, "manifest.json": json.dumps(manifest).encode()}
    small.pop("model.pt")
    buf = io.BytesIO()
    write_zip(buf, [member(n, d) for n, d in small.items()] + [big])
    return buf.getvalue()


def incompressible_archive(members: dict[str, bytes], path: Path, size: int) -> Path:
    """``members`` with ``model.pt`` replaced by ``size`` (a multiple of 1 MB) random-looking,
    stored bytes whose manifest checksum is wrong: an import streams all of it before it can
    refuse it. (One random megabyte repeated: no compressor sees that far back.)"""
    import random

    block, n = random.Random(0).randbytes(MB), size // MB
    crc = 0
    for _ in range(n):
        crc = zlib.crc32(block, crc)
    manifest = json.loads(members["manifest.json"])
    manifest["files"]["model.pt"] = {"sha256": "0" * 64, "size": n * MB}
    small = {**members, "manifest.json": json.dumps(manifest).encode()}
    small.pop("model.pt")
    with open(path, "wb") as out:
        write_zip(out, [member(n, d) for n, d in small.items()] + [_Member("model.pt", [block] * n, crc, n * MB, 0)])
    return path


# The child that measures one import: its peak RSS growth over its own baseline (modules
# loaded), and the refusal's message. The peak is the kernel's high-water mark (VmHWM),
# reset at the baseline (``clear_refs``), since ``getrusage`` would report the parent's size
# inherited across fork and exec. Without the reset the growth is counted from the current
# RSS: an over-estimate, never an under-estimate. "reference" reads every member into memory
# first, as imports did before archives were checked from their directory and streamed.
_CHILD = r"""
import json, sys, zipfile
from gtzan_core.runs import RunStore
from gtzan_core.share import archive
def status_mb(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith(field + ":"))
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
except OSError:
    pass
mode, path, runs = sys.argv[1:4]
base, error = status_mb("VmRSS"), None
try:
    if mode == "reference":
        with zipfile.ZipFile(path) as zf:
            data = {i.filename: archive._read_limited(zf, i) for i in zf.infolist()}
        error = "read {:.0f} MB into memory".format(sum(map(len, data.values())) / 2 ** 20)
    else:
        archive.import_archive(path, RunStore(runs))
except archive.ArchiveError as exc:
    error = str(exc)
print(json.dumps({"growth_mb": status_mb("VmHWM") - base, "base_mb": base, "message": error}))
"""


def import_growth(path: Path, runs: Path, mode: str = "streamed") -> dict:
    """Import ``path`` into the store ``runs`` in a fresh process (``mode``: "streamed", the
    studio's import, or "reference"); returns its peak RSS growth in MB and the message."""
    done = subprocess.run([sys.executable, "-c", _CHILD, mode, str(path), str(runs)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"the measuring process failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def zip_of(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()
