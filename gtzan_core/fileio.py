"""Writing files so that nothing is ever half-written: the one low-level I/O helper
every module that keeps state on disk uses (run records and checkpoints, the trash,
claimed names, the audit log, cached arrays, reports).

A file is written to a temporary file beside its target and renamed into place: a
reader or a crash never sees half a file, and a failure (a full disk included,
raised as :class:`~gtzan_core.errors.DiskFullError`) leaves the old file as it was
and no temporary file behind.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .errors import DiskFullError

#: The errors of a full disk (or a full quota).
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in DISK_FULL


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see the module's docstring)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        if is_disk_full(exc):
            raise DiskFullError(f"disk full: could not write {path}") from exc
        raise
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if is_disk_full(exc):
            raise DiskFullError(f"disk full: could not write {path}") from exc
        raise


def json_default(o):
    """JSON for the numpy scalars and arrays and the paths that records hold."""
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=1, default=json_default).encode())
