"""Read TensorFlow 1 checkpoints ("tensor bundles") with numpy alone.

A checkpoint with prefix ``P`` is two files:

* ``P.index``: a sorted string table in LevelDB's format. Its data blocks map each
  variable name to a ``BundleEntryProto`` (dtype, shape, shard, offset, size,
  masked CRC-32C of the bytes); the empty key holds a ``BundleHeaderProto``
  (number of shards, endianness).
* ``P.data-00000-of-00001`` (one file per shard): the tensors' raw bytes, one after
  the other, in C order.

The files are treated as hostile: every block handle, offset and size is checked
against the real file sizes before anything is read, a shape must account for
exactly the bytes its entry claims, no array is allocated before that check, and
the index blocks' and the tensors' CRC-32C checksums are verified. Any problem is
a :class:`~gtzan_core.errors.CheckpointError` naming the file and what is wrong.

musicnn ships its checkpoints as dot-files inside a folder (``MSD_musicnn/.index``):
a prefix that is a folder means ``folder/`` + ``""``.
"""

from __future__ import annotations

import functools
import os
import re
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import CheckpointError

#: Checkpoint variables that are training state (optimizer slots, step), not part of a network.
TRAINING_STATE = re.compile(r"(/Adam(_\d+)?|^beta[12]_power|^global_step)$")

#: ``tensorflow/core/lib/io/format.h``: the last 8 bytes of every table.
TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48  # two block handles padded to 40 bytes, then the magic
BLOCK_TRAILER_SIZE = 5  # compression type byte + masked CRC-32C
#: An index bigger than this is not a checkpoint index (musicnn's are 5 KB).
MAX_INDEX_BYTES = 64 << 20
MAX_RANK = 32
MAX_SHARDS = 10_000

#: TensorFlow ``DataType`` enum values that hold plain fixed-size numbers.
DTYPES: dict[int, np.dtype] = {
    1: np.dtype("<f4"),  # DT_FLOAT
    2: np.dtype("<f8"),  # DT_DOUBLE
    3: np.dtype("<i4"),  # DT_INT32
    4: np.dtype("u1"),  # DT_UINT8
    5: np.dtype("<i2"),  # DT_INT16
    6: np.dtype("i1"),  # DT_INT8
    9: np.dtype("<i8"),  # DT_INT64
    10: np.dtype("?"),  # DT_BOOL
    17: np.dtype("<u2"),  # DT_UINT16
    19: np.dtype("<f2"),  # DT_HALF
    22: np.dtype("<u4"),  # DT_UINT32
    23: np.dtype("<u8"),  # DT_UINT64
}


class TensorEntry(NamedTuple):
    """Where one tensor lies: its ``BundleEntryProto``, checked."""

    dtype: np.dtype
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int
    crc32c: int | None  # masked, as stored; None when the entry has none


# ---------------------------------------------------------------------------
# CRC-32C (Castagnoli), as LevelDB and TensorFlow use it
# ---------------------------------------------------------------------------

_CRC_POLY = 0x82F63B78  # reflected
_LANE = 256  # bytes per lane of the vectorised CRC


@functools.lru_cache(maxsize=1)
def _crc_table() -> np.ndarray:
    crc = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        crc = np.where(crc & 1, (crc >> 1) ^ np.uint32(_CRC_POLY), crc >> 1).astype(np.uint32)
    return crc


def _crc_bytes(state: int, data: bytes) -> int:
    """The CRC register after ``data`` from ``state`` (no final inversion), byte by byte."""
    table = _crc_table().tolist()
    for b in data:
        state = table[(state ^ b) & 0xFF] ^ (state >> 8)
    return state


@functools.lru_cache(maxsize=1)
def _lane_shift_tables() -> list[list[int]]:
    """Tables for the linear map "run the register over ``_LANE`` zero bytes".

    The CRC register is linear over GF(2): register(s, A + B) = shift_|B|(register(s, A))
    xor register(0, B). ``tables[k][b]`` is shift_LANE applied to ``b << 8k``."""
    table = _crc_table()
    basis = np.uint32(1) << np.arange(32, dtype=np.uint32)
    state = basis.copy()
    for _ in range(_LANE):
        state = table[state & 0xFF] ^ (state >> 8)
    tables = []
    for k in range(4):
        images = state[8 * k: 8 * k + 8]
        entry = np.zeros(256, dtype=np.uint32)
        for bit in range(8):
            entry[(np.arange(256) >> bit) & 1 == 1] ^= images[bit]
        tables.append(entry.tolist())
    return tables


def crc32c(data: bytes | memoryview | np.ndarray) -> int:
    """CRC-32C of ``data`` (``crc32c(b"123456789") == 0xE3069283``).

    Long inputs are cut into lanes of ``_LANE`` bytes whose registers numpy computes
    side by side; the lanes are then chained with the linear "shift" above, so a
    9 MB checkpoint verifies in well under a second without a C extension."""
    buf = np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
    n_lanes = len(buf) // _LANE
    state = 0xFFFFFFFF
    if n_lanes >= 8:
        table = _crc_table()
        lanes = np.ascontiguousarray(buf[: n_lanes * _LANE].reshape(n_lanes, _LANE).T)
        regs = np.zeros(n_lanes, dtype=np.uint32)
        for column in lanes:
            regs = table[(regs ^ column) & 0xFF] ^ (regs >> 8)
        t0, t1, t2, t3 = _lane_shift_tables()
        for reg in regs.tolist():
            state = (t0[state & 0xFF] ^ t1[(state >> 8) & 0xFF] ^ t2[(state >> 16) & 0xFF]
                     ^ t3[state >> 24] ^ reg)
        buf = buf[n_lanes * _LANE:]
    return _crc_bytes(state, buf.tobytes()) ^ 0xFFFFFFFF


def masked_crc32c(data: bytes | memoryview | np.ndarray) -> int:
    """LevelDB's masked CRC (stored so that a CRC of data holding CRCs stays informative)."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


# ---------------------------------------------------------------------------
# Bytes: varints and protocol buffers
# ---------------------------------------------------------------------------


class _Malformed(Exception):
    """Internal: a structural problem, turned into a CheckpointError with the file name."""


def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= end:
            raise _Malformed("a number runs past the end of its block")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7
        if shift >= 64:
            raise _Malformed("a number is longer than 10 bytes")


def _proto_fields(buf: bytes) -> dict[int, list]:
    """Parse a protocol-buffer message into ``{field number: [values]}`` (varints as
    unsigned ints, length-delimited fields as bytes)."""
    fields: dict[int, list] = {}
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = _varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos, end)
        elif wire == 1 or wire == 5:
            width = 8 if wire == 1 else 4
            if pos + width > end:
                raise _Malformed("a fixed-size field runs past the end of its record")
            value = int.from_bytes(buf[pos: pos + width], "little")
            pos += width
        elif wire == 2:
            length, pos = _varint(buf, pos, end)
            if pos + length > end:
                raise _Malformed("a field runs past the end of its record")
            value = buf[pos: pos + length]
            pos += length
        else:
            raise _Malformed(f"unsupported protocol-buffer wire type {wire}")
        fields.setdefault(number, []).append(value)
    return fields


def _int64(value: int) -> int:
    """A varint read as unsigned 64 bits, reinterpreted as a signed int64."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _int(fields: dict[int, list], number: int) -> int:
    """The last value of integer field ``number`` (0 when absent), as a signed int64."""
    values = fields.get(number)
    if not values:
        return 0
    if not isinstance(values[-1], int):
        raise _Malformed(f"field {number} of a record is not a number")
    return _int64(values[-1])


def _message(fields: dict[int, list], number: int) -> dict[int, list]:
    """The last value of message field ``number`` (empty when absent), parsed."""
    values = fields.get(number)
    if not values:
        return {}
    if not isinstance(values[-1], bytes):
        raise _Malformed(f"field {number} of a record is not a message")
    return _proto_fields(values[-1])


# ---------------------------------------------------------------------------
# The sorted string table
# ---------------------------------------------------------------------------


def _block_handle(buf: bytes, pos: int, end: int) -> tuple[tuple[int, int], int]:
    offset, pos = _varint(buf, pos, end)
    size, pos = _varint(buf, pos, end)
    return (offset, size), pos


def _read_block(index: bytes, handle: tuple[int, int]) -> bytes:
    """The contents of the block at ``handle``, its trailer checked."""
    offset, size = handle
    if offset + size + BLOCK_TRAILER_SIZE > len(index) - FOOTER_SIZE:
        raise _Malformed(f"a block at offset {offset} of {size} bytes runs past the end of the file")
    block = index[offset: offset + size]
    block_type = index[offset + size]
    stored = int.from_bytes(index[offset + size + 1: offset + size + BLOCK_TRAILER_SIZE], "little")
    if masked_crc32c(index[offset: offset + size + 1]) != stored:
        raise _Malformed(f"the block at offset {offset} fails its checksum (damaged file)")
    if block_type != 0:
        raise _Malformed(f"a block is compressed (type {block_type}); only uncompressed tables are supported")
    return block


def _block_entries(block: bytes) -> list[tuple[bytes, bytes]]:
    """The (key, value) pairs of one block (prefix-compressed keys, restart array at the end)."""
    if len(block) < 4:
        raise _Malformed("a block is too short to hold its restart count")
    n_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * n_restarts
    if end < 0:
        raise _Malformed(f"a block claims {n_restarts} restart points, more than it can hold")
    entries, key, pos = [], b"", 0
    while pos < end:
        shared, pos = _varint(block, pos, end)
        unshared, pos = _varint(block, pos, end)
        value_len, pos = _varint(block, pos, end)
        if shared > len(key) or pos + unshared + value_len > end:
            raise _Malformed("a table entry runs past the end of its block")
        key = key[:shared] + block[pos: pos + unshared]
        pos += unshared
        entries.append((key, block[pos: pos + value_len]))
        pos += value_len
    return entries


def _table_entries(index: bytes) -> list[tuple[bytes, bytes]]:
    """All (key, value) pairs of a LevelDB table, in key order."""
    if len(index) < FOOTER_SIZE:
        raise _Malformed(f"{len(index)} bytes is too short for a table footer")
    footer_at = len(index) - FOOTER_SIZE
    if struct.unpack_from("<Q", index, len(index) - 8)[0] != TABLE_MAGIC:
        raise _Malformed("no table magic number at the end (not a TensorFlow checkpoint index)")
    _metaindex, pos = _block_handle(index, footer_at, footer_at + 40)
    index_handle, _ = _block_handle(index, pos, footer_at + 40)
    entries = []
    for _separator, handle in _block_entries(_read_block(index, index_handle)):
        handle, _ = _block_handle(handle, 0, len(handle))
        entries.extend(_block_entries(_read_block(index, handle)))
    keys = [k for k, _ in entries]
    if any(a >= b for a, b in zip(keys, keys[1:], strict=False)):
        raise _Malformed("the table's keys are not in strictly increasing order")
    return entries


# ---------------------------------------------------------------------------
# The tensor bundle
# ---------------------------------------------------------------------------


def checkpoint_paths(prefix: str | os.PathLike) -> tuple[Path, str]:
    """The index file of ``prefix`` and the prefix string the data files extend.

    A folder means the dot-files inside it (``folder/.index``), as musicnn stores them."""
    p = Path(prefix).expanduser()
    base = str(p) + os.sep if p.is_dir() or str(prefix).endswith(("/", os.sep)) else str(p)
    return Path(base + ".index"), base


def _data_path(base: str, shard: int, n_shards: int) -> Path:
    return Path(f"{base}.data-{shard:05d}-of-{n_shards:05d}")


def _parse_entry(name: str, value: bytes, n_shards: int) -> TensorEntry:
    fields = _proto_fields(value)
    if fields.get(7):
        raise _Malformed(f"tensor {name!r} is partitioned into slices, which is not supported")
    code = _int(fields, 1)
    if code not in DTYPES:
        raise _Malformed(f"tensor {name!r} has TensorFlow dtype {code}, which this reader does not support")
    shape = _message(fields, 2)
    if _int(shape, 3):
        raise _Malformed(f"tensor {name!r} has an unknown rank")
    dims = [_int(_message({2: [d]}, 2), 1) for d in shape.get(2, [])]
    if len(dims) > MAX_RANK or any(d < 0 for d in dims):
        raise _Malformed(f"tensor {name!r} has an absurd shape {tuple(dims[:MAX_RANK + 1])}")
    shard, offset, size = _int(fields, 3), _int(fields, 4), _int(fields, 5)
    if not 0 <= shard < n_shards:
        raise _Malformed(f"tensor {name!r} is in shard {shard} of a {n_shards}-shard checkpoint")
    dtype = DTYPES[code]
    need = int(np.prod(dims, dtype=object)) * dtype.itemsize
    if offset < 0 or size != need:
        raise _Malformed(f"tensor {name!r} of shape {tuple(dims)} ({dtype.name}) needs {need} bytes "
                         f"but its entry claims {size} at offset {offset}")
    crc = fields.get(6)
    return TensorEntry(dtype, tuple(dims), shard, offset, size, _int(fields, 6) if crc else None)


def _read_index(prefix: str | os.PathLike) -> tuple[Path, str, int, dict[str, TensorEntry]]:
    """Parse and check ``prefix``'s index: (index path, base, number of shards, entries)."""
    index_path, base = checkpoint_paths(prefix)
    try:
        size = index_path.stat().st_size
        if size > MAX_INDEX_BYTES:
            raise CheckpointError(f"{index_path}: {size} bytes is too big for a checkpoint index")
        index = index_path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{index_path}: no such checkpoint index") from None
    except OSError as exc:
        raise CheckpointError(f"{index_path}: cannot read the checkpoint index ({exc.strerror or exc})") from None
    try:
        records = dict(_table_entries(index))
        if b"" not in records:
            raise _Malformed("no bundle header (not a TensorFlow checkpoint index)")
        header = _proto_fields(records.pop(b""))
        n_shards = _int(header, 1)
        if not 1 <= n_shards <= MAX_SHARDS:
            raise _Malformed(f"the header claims {n_shards} shards")
        if _int(header, 2) != 0:
            raise _Malformed("the tensors are big-endian, which is not supported")
        entries = {}
        for key, value in records.items():
            try:
                name = key.decode()
            except UnicodeDecodeError:
                raise _Malformed(f"a tensor name is not UTF-8: {key[:40]!r}") from None
            entries[name] = _parse_entry(name, value, n_shards)
    except _Malformed as exc:
        raise CheckpointError(f"{index_path}: {exc}") from None
    return index_path, base, n_shards, entries


def list_tf_checkpoint(prefix: str | os.PathLike) -> dict[str, tuple[np.dtype, tuple[int, ...]]]:
    """``{name: (dtype, shape)}`` of every tensor in the checkpoint at ``prefix``
    (reads the index only)."""
    _, _, _, entries = _read_index(prefix)
    return {name: (e.dtype, e.shape) for name, e in entries.items()}


def read_tf_checkpoint(prefix: str | os.PathLike, names: Iterable[str] | None = None,
                       verify: bool = True) -> dict[str, np.ndarray]:
    """The tensors of the checkpoint at ``prefix``: ``{name: array}`` (fresh, writable
    arrays of the stored dtype and shape).

    ``names`` restricts the read to those tensors (each must exist), e.g. to skip
    optimizer slots. ``verify`` checks each tensor's CRC-32C against its entry.
    """
    index_path, base, n_shards, entries = _read_index(prefix)
    wanted = list(entries) if names is None else list(names)
    missing = [n for n in wanted if n not in entries]
    if missing:
        raise CheckpointError(f"{index_path}: no tensor {missing[0]!r} in this checkpoint")
    # Every entry, read or not, must lie inside its data file: a short file is damaged.
    paths = {shard: _data_path(base, shard, n_shards) for shard in {e.shard for e in entries.values()}}
    sizes = {}
    for shard, path in paths.items():
        try:
            sizes[shard] = path.stat().st_size
        except FileNotFoundError:
            raise CheckpointError(f"{path}: no such checkpoint data file") from None
    for name, entry in entries.items():
        if entry.offset + entry.size > sizes[entry.shard]:
            raise CheckpointError(
                f"{paths[entry.shard]}: truncated or not this index's data: tensor {name!r} needs bytes "
                f"{entry.offset}-{entry.offset + entry.size}, the file has {sizes[entry.shard]}")
    tensors: dict[str, np.ndarray] = {}
    for shard, path in sorted(paths.items()):
        shard_names = sorted((n for n in wanted if entries[n].shard == shard), key=lambda n: entries[n].offset)
        if not shard_names:
            continue
        try:
            f = open(path, "rb")  # noqa: SIM115 - opened alone so only its own error is caught; closed by `with f` below
        except OSError as exc:
            raise CheckpointError(f"{path}: cannot read the checkpoint data ({exc.strerror or exc})") from None
        with f:
            for name in shard_names:
                entry = entries[name]
                array = np.empty(entry.shape, dtype=entry.dtype)
                f.seek(entry.offset)
                got = f.readinto(memoryview(array.reshape(-1)).cast("B")) if entry.size else 0
                if got != entry.size:
                    raise CheckpointError(f"{path}: truncated while reading tensor {name!r}")
                if verify and entry.crc32c is not None and masked_crc32c(array.reshape(-1)) != entry.crc32c:
                    raise CheckpointError(f"{path}: tensor {name!r} fails its checksum (damaged file)")
                tensors[name] = array
    return {name: tensors[name] for name in wanted}


def variable(tensors: dict, name: str, shape: tuple[int, ...], what: str) -> np.ndarray:
    """Variable ``name`` of a read checkpoint, checked: float and of ``shape`` (a network's
    own), else a :class:`CheckpointError` naming it (``what``: "musicnn", "musicnn VGG")."""
    if name not in tensors:
        raise CheckpointError(f"not a {what} checkpoint: it has no variable {name!r}")
    array = np.asarray(tensors[name])
    if array.shape != shape or not np.issubdtype(array.dtype, np.floating):
        raise CheckpointError(f"not a {what} checkpoint: {name!r} is {array.dtype} {array.shape}, "
                              f"the network has float {shape}")
    return array


def check_variables(prefix: str | os.PathLike, names: list[str], what: str, strict: bool = True) -> None:
    """Refuse the checkpoint at ``prefix`` when it lacks one of the network's variables
    ``names`` or (``strict``) has a variable the network does not (another network's;
    optimizer state aside), in one line naming the index file and the variable."""
    index_path, _ = checkpoint_paths(prefix)
    listing = list_tf_checkpoint(prefix)
    missing = [n for n in names if n not in listing]
    if missing:
        raise CheckpointError(f"{index_path}: not a {what} checkpoint: no variable {missing[0]!r} "
                              f"({len(missing)} of {len(names)} missing)")
    if strict:
        known = set(names)
        extra = sorted(n for n in listing if n not in known and not TRAINING_STATE.search(n))
        if extra:
            raise CheckpointError(f"{index_path}: not a {what} checkpoint: unexpected variable {extra[0]!r} "
                                  f"({len(extra)} in all)")
