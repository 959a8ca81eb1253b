"""Advisory file locks (``fcntl.flock``) for state shared between processes:
the run store's records, feature-cache builds and the GPU training slot.

Locks are released by the kernel when their holder dies (even by SIGKILL), so a
crashed process never leaves a stale lock behind. On systems without ``fcntl``
(Windows) the locks degrade to no-ops.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import StudioError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

# flock locks belong to open file descriptions, so threads of one process that open
# the file separately exclude each other too.


class DamagedLockFile(StudioError, OSError):
    """A lock file that is no regular file (a folder, a link, a pipe...): one line naming it
    and the repair (``python -m gtzan_core repair`` moves it aside; the next lock makes a new one)."""


def lock_file_problem(path: str | Path) -> str | None:
    """What is wrong with the lock file at ``path`` (None: absent, or a regular file)."""
    import stat

    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if stat.S_ISREG(mode):
        return None
    kind = ("a folder" if stat.S_ISDIR(mode) else "a symbolic link" if stat.S_ISLNK(mode)
            else "a pipe" if stat.S_ISFIFO(mode) else "not a regular file")
    return f"is {kind}, not a lock file"


def open_lock_file(path: Path) -> int:
    """The lock file's descriptor (created if needed; never through a link, never a folder or a pipe)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0),
                     0o644)
    except OSError:
        problem = lock_file_problem(path)
        if problem is None:  # a full disk, a read-only store...: the caller's to say
            raise
        raise DamagedLockFile(f"the lock file {path} {problem}: the studio's state is damaged there; "
                              "`python -m gtzan_core repair` moves it aside (keeping it)") from None
    import stat

    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise DamagedLockFile(f"the lock file {path} {lock_file_problem(path)}: the studio's state is damaged "
                              "there; `python -m gtzan_core repair` moves it aside (keeping it)")
    return fd


@contextlib.contextmanager
def file_lock(path: str | Path, poll: float = 0.05, should_stop: Callable[[], bool] | None = None,
              timeout: float | None = None) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if needed) for the ``with`` block.

    ``should_stop`` is polled while waiting (e.g. a cancel flag): when it returns
    True the wait ends with :class:`InterruptedError`. ``timeout`` (seconds) ends
    it with :class:`TimeoutError`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = open_lock_file(path)
    try:
        if fcntl is not None:
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if should_stop is not None and should_stop():
                        raise InterruptedError(f"stopped while waiting for {path.name}") from None
                    if deadline is not None and time.monotonic() > deadline:
                        raise TimeoutError(f"timed out waiting for {path}") from None
                    time.sleep(poll)
        yield
    finally:
        if fcntl is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)



class HeldLock:
    """A lock taken by :func:`try_file_lock`; ``release()`` gives it back."""

    def __init__(self, fd: int):
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        if fcntl is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None


def try_file_lock(path: str | Path) -> HeldLock | None:
    """Take the exclusive lock on ``path`` if it is free, without waiting: a
    :class:`HeldLock`, or None when another holder has it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = open_lock_file(path)
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
    return HeldLock(fd)
