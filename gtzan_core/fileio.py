"""Writing files so that nothing is ever half-written: the one low-level I/O helper
every module that keeps state on disk uses (run records and checkpoints, the trash,
claimed names, the audit log, cached arrays, reports); and a file's SHA-256, read in
blocks (:func:`file_sha256`).

A file is written to a temporary file beside its target and renamed into place: a
reader or a crash never sees half a file, and a failure (a full disk included,
raised as :class:`~gtzan_core.errors.DiskFullError`) leaves the old file as it was
and no temporary file behind.

A file the *user* names (``export --out``) is written with :func:`write_new_file`:
a new regular file, never anything else replaced.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from .errors import DiskFullError, OutputError

#: The errors of a full disk (or a full quota).
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in DISK_FULL


def file_sha256(path: Path, block: int = 1 << 22) -> str:
    """The SHA-256 of the file at ``path`` (hex), read ``block`` bytes at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(block), b""):
            digest.update(chunk)
    return digest.hexdigest()


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


# -- files the user names -----------------------------------------------------------

_SPECIAL = ((stat.S_ISDIR, "is a folder, not a file name"), (stat.S_ISCHR, "is a device, not a file"),
            (stat.S_ISBLK, "is a device, not a file"), (stat.S_ISFIFO, "is a named pipe (FIFO), not a file"),
            (stat.S_ISSOCK, "is a socket, not a file"))


def check_new_file(path: str | Path, replace: bool = False, force_hint: str = "--force") -> Path:
    """``path`` when :func:`write_new_file` may write it; else :class:`OutputError` in
    one line: it is a folder, a device, a FIFO, a socket or a symbolic link (to
    anything), or a file that exists and ``replace`` is false (``force_hint`` says how
    to allow it). A missing parent folder is fine (it is created)."""
    path = Path(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return path
    except NotADirectoryError:
        raise OutputError(f"{path}: a part of its path is a file, not a folder") from None
    except OSError as exc:
        raise OutputError(f"{path}: cannot be checked ({exc.strerror or exc})") from None
    if stat.S_ISLNK(st.st_mode):
        raise OutputError(f"{path}: is a symbolic link (to {os.readlink(path)}): refused, nothing written; "
                          "name a new file")
    for test, what in _SPECIAL:
        if test(st.st_mode):
            raise OutputError(f"{path}: {what}: refused, nothing written")
    if not replace:
        raise OutputError(f"{path}: already exists: refused, nothing written (replace it with {force_hint})")
    return path


def write_new_file(path: str | Path, data: bytes, replace: bool = False, force_hint: str = "--force") -> Path:
    """Write ``data`` to ``path`` as a regular file, atomically (a temporary file beside it,
    then linked or renamed into place), never replacing what it did not create: refused as
    :func:`check_new_file` says, and refused should something appear at ``path``
    meanwhile. With ``replace`` an existing *regular* file is replaced (atomically: a
    reader sees the old file or the new one)."""
    path = check_new_file(path, replace, force_hint)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise OutputError(f"{path}: {path.parent} is not a folder") from None
    except OSError as exc:
        if is_disk_full(exc):
            raise DiskFullError(f"disk full: could not write {path}") from exc
        raise OutputError(f"{path}: cannot create its folder ({exc.strerror or exc})") from None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        if is_disk_full(exc):
            raise DiskFullError(f"disk full: could not write {path}") from exc
        raise OutputError(f"{path}: cannot write in {path.parent} ({exc.strerror or exc})") from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # a file of the user's, as any program they run would make it
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if replace and os.path.lexists(path):
            check_new_file(path, replace=True, force_hint=force_hint)  # still a regular file (not swapped meanwhile)
            os.replace(tmp, path)
        else:
            _place_new(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if is_disk_full(exc):
            raise DiskFullError(f"disk full: could not write {path}") from exc
        raise
    Path(tmp).unlink(missing_ok=True)
    return path


def _umask() -> int:
    """The process's umask, read without changing it (Linux); 022 where it cannot be read."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def _place_new(tmp: str, path: Path) -> None:
    """Put the written ``tmp`` at ``path``, which must not exist: a hard link (fails if
    anything is there; atomic), or where the file system has no hard links an exclusive
    empty placeholder that the rename then replaces (only what this call created)."""
    try:
        os.link(tmp, path)
        return
    except FileExistsError:
        raise OutputError(f"{path}: appeared while it was being written: refused, left as it is") from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV):
            raise
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0), 0o644))
    except FileExistsError:
        raise OutputError(f"{path}: appeared while it was being written: refused, left as it is") from None
    os.replace(tmp, path)
