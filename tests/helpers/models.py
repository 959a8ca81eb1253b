"""Model weights the tests make: a musicnn with random statistics, a wheel laid out like
musicnn's, a squeezenet weights file in the hub cache."""

from __future__ import annotations

import os
import struct
import zipfile
from pathlib import Path

import numpy as np
import torch

from gtzan_core.models.musicnn import TAGS, Musicnn
from gtzan_core.models.tf_checkpoint import TABLE_MAGIC, masked_crc32c

DATA_FILE = ".data-00000-of-00001"

# ---------------------------------------------------------------------------
# A writer of TF1 tensor bundles (LevelDB table + raw data), for the tests
# ---------------------------------------------------------------------------

DT_CODES = {np.dtype("<f4"): 1, np.dtype("<f8"): 2, np.dtype("<i4"): 3, np.dtype("<i8"): 9,
            np.dtype("?"): 10, np.dtype("<f2"): 19}


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative int64s as 10-byte two's complement, as protobuf does
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def pb_varint(field: int, value: int) -> bytes:
    return varint(field << 3) + varint(value)


def pb_bytes(field: int, value: bytes) -> bytes:
    return varint(field << 3 | 2) + varint(len(value)) + value


def entry_proto(dtype_code: int, shape, offset: int, size: int, crc: int | None) -> bytes:
    dims = b"".join(pb_bytes(2, pb_varint(1, d)) for d in shape)
    out = pb_varint(1, dtype_code) + pb_bytes(2, dims) + pb_varint(4, offset) + pb_varint(5, size)
    return out + (varint(6 << 3 | 5) + struct.pack("<I", crc) if crc is not None else b"")


def table_block(entries, restart_interval: int = 4) -> bytes:
    out, restarts, last = bytearray(), [], b""
    for k, (key, value) in enumerate(entries):
        shared = 0
        if k % restart_interval:
            while shared < min(len(key), len(last)) and key[shared] == last[shared]:
                shared += 1
        else:
            restarts.append(len(out))
        out += varint(shared) + varint(len(key) - shared) + varint(len(value)) + key[shared:] + value
        last = key
    restarts = restarts or [0]
    return bytes(out) + struct.pack(f"<{len(restarts)}I", *restarts) + struct.pack("<I", len(restarts))


def write_tf_table(records, per_block: int = 7) -> bytes:
    """A LevelDB table of sorted (key, value) records, ``per_block`` records a block."""
    out, index = bytearray(), []

    def put(block: bytes) -> bytes:
        handle = varint(len(out)) + varint(len(block))
        out.extend(block + b"\x00" + struct.pack("<I", masked_crc32c(block + b"\x00")))
        return handle

    for start in range(0, len(records), per_block):
        chunk = records[start: start + per_block]
        index.append((chunk[-1][0], put(table_block(chunk))))
    meta = put(table_block([]))
    handles = meta + put(table_block(index, restart_interval=1))
    return bytes(out) + handles.ljust(40, b"\x00") + struct.pack("<Q", TABLE_MAGIC)


def write_checkpoint(base: str | Path, tensors: dict[str, np.ndarray], entries: dict[str, bytes] | None = None):
    """Write ``tensors`` as the bundle ``base.index`` + ``base.data-00000-of-00001``;
    ``entries`` overrides the index record of some names (hand-made hostile entries)."""
    base = str(base)
    data, records = bytearray(), [(b"", pb_varint(1, 1) + pb_bytes(3, pb_varint(1, 1)))]
    for name in sorted(tensors, key=str.encode):
        array = np.asarray(tensors[name], order="C")
        raw = array.tobytes()
        records.append((name.encode(), entry_proto(DT_CODES[array.dtype], array.shape, len(data), len(raw),
                                                   masked_crc32c(raw))))
        data += raw
    for name, value in (entries or {}).items():
        records = sorted([r for r in records if r[0] != name.encode()] + [(name.encode(), value)])
    Path(base + ".index").write_bytes(write_tf_table(records))
    Path(base + ".data-00000-of-00001").write_bytes(bytes(data))


# ---------------------------------------------------------------------------
# Torch state -> TF variables, written independently of the library's mapping
# ---------------------------------------------------------------------------

CONV_TF = {"timbral.0": "conv2d", "timbral.1": "conv2d_1", "temporal.0": "conv2d_2", "temporal.1": "conv2d_3",
           "temporal.2": "conv2d_4", "midend.0": "conv2d_5", "midend.1": "conv2d_6", "midend.2": "conv2d_7"}
BN_TF = {"input_bn": "batch_normalization", "timbral.0.bn": "batch_normalization_1",
         "timbral.1.bn": "batch_normalization_2", "temporal.0.bn": "batch_normalization_3",
         "temporal.1.bn": "batch_normalization_4", "temporal.2.bn": "batch_normalization_5",
         "midend.0.bn": "batch_normalization_6", "midend.1.bn": "batch_normalization_7",
         "midend.2.bn": "batch_normalization_8", "pool_bn": "batch_normalization_9",
         "dense_bn": "batch_normalization_10"}


def tf_tensors(model: Musicnn, adam: bool = True) -> dict[str, np.ndarray]:
    """The TF1 checkpoint variables ``models.py`` would have saved for ``model``."""
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    out = {}
    for module, tf in BN_TF.items():
        for ours, theirs in (("weight", "gamma"), ("bias", "beta"), ("running_mean", "moving_mean"),
                             ("running_var", "moving_variance")):
            out[f"{tf}/{theirs}"] = sd[f"{module}.{ours}"]
    for module, tf in CONV_TF.items():
        w = sd[f"{module}.conv.weight"]
        # front end OIHW -> HWIO; mid end Conv1d (O, C, K) -> (K, C, 1, O)
        out[f"{tf}/kernel"] = w.transpose(2, 3, 1, 0) if w.ndim == 4 else w.transpose(2, 1, 0)[:, :, None, :]
        out[f"{tf}/bias"] = sd[f"{module}.conv.bias"]
    for module, tf in (("dense", "dense"), ("tags", "dense_1")):
        out[f"{tf}/kernel"] = sd[f"{module}.weight"].T
        out[f"{tf}/bias"] = sd[f"{module}.bias"]
    out = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}
    if adam:  # the optimizer state the real files carry
        for name in [n for n in out if "kernel" in n]:
            out[name + "/Adam"] = np.zeros_like(out[name])
            out[name + "/Adam_1"] = np.ones_like(out[name])
        out["beta1_power"] = np.array(0.9, np.float32)
        out["beta2_power"] = np.array(0.999, np.float32)
    return out




def random_musicnn(seed: int = 0) -> Musicnn:
    """An initialised Musicnn whose batch-norm statistics are random too."""
    torch.manual_seed(seed)
    model = Musicnn()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
                m.running_mean.normal_(0, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return model.eval()


def fake_wheel(path: Path, model: Musicnn, extra: dict[str, bytes] | None = None, skip=()) -> Path:
    """A zip laid out like the musicnn wheel: both checkpoints, plus ``extra`` members."""
    staging = path.parent / (path.name + ".parts")
    staging.mkdir()
    write_checkpoint(f"{staging}{os.sep}", tf_tensors(model))
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("musicnn/__init__.py", "import tensorflow\n")
        for name in TAGS:
            for file in (".index", DATA_FILE):
                if f"{name}/{file}" not in skip:
                    zf.write(staging / file, f"musicnn/{name}/{file}")
            zf.writestr(f"musicnn/{name}/config.json", '{"pad_short": "repeat-pad"}')
            zf.writestr(f"musicnn/{name}/.meta", b"graph")
        for member, blob in (extra or {}).items():
            zf.writestr(member, blob)
    return path



def write_squeezenet_weights(torch_home, fill: float = 0.01):
    """A squeezenet1_1 weights file in the hub cache (the real loading path), made here."""
    import torchvision.models as tvm

    from gtzan_core.models.weights import backbone_weights, weights_path

    torch.manual_seed(1)
    donor = tvm.squeezenet1_1(weights=None)
    with torch.no_grad():
        donor.features[0].weight.mul_(fill / donor.features[0].weight.abs().mean())
    path = weights_path(backbone_weights("squeezenet"))
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(donor.state_dict(), path)
    return path

