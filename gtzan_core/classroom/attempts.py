"""Limits on guessing: wrong passcodes and admin passwords, counted per name and per
session, on the server.

The first :data:`FREE_TRIES` wrong attempts of a key are free; each further one
makes the key wait ``BASE_WAIT * 2**(n - FREE_TRIES)`` seconds (capped at
:data:`MAX_WAIT`) before the next attempt is even checked. A refused attempt is not
compared at all; a correct one is never delayed (no sleep anywhere: the wait is a
time before which attempts are refused) and clears its keys. The clock is a
parameter, so tests move time instead of waiting for it.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from .rules import PermissionDenied

FREE_TRIES = 5
BASE_WAIT = 30.0
MAX_WAIT = 3600.0


class TooManyAttempts(PermissionDenied):
    """Attempts refused for a while after too many wrong ones."""


class AttemptLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic, free_tries: int = FREE_TRIES,
                 base_wait: float = BASE_WAIT, max_wait: float = MAX_WAIT):
        self.clock, self.free_tries, self.base_wait, self.max_wait = clock, free_tries, base_wait, max_wait
        self._lock = threading.Lock()
        self._failures: dict[tuple, int] = {}
        self._until: dict[tuple, float] = {}

    def wait_left(self, *keys: tuple) -> float:
        now = self.clock()
        with self._lock:
            return max([self._until.get(k, 0.0) - now for k in keys] + [0.0])

    def check(self, what: str, *keys: tuple) -> None:
        """Raise :class:`TooManyAttempts` while any of ``keys`` must wait."""
        left = self.wait_left(*keys)
        if left > 0:
            raise TooManyAttempts(f"too many wrong {what}s: try again in {int(left) + 1} s")

    def failed(self, *keys: tuple) -> int:
        """Count a wrong attempt against ``keys``; returns the most failures of any of them."""
        now, worst = self.clock(), 0
        with self._lock:
            for k in keys:
                n = self._failures.get(k, 0) + 1
                self._failures[k] = n
                worst = max(worst, n)
                if n >= self.free_tries:
                    wait = min(self.base_wait * 2 ** (n - self.free_tries), self.max_wait)
                    self._until[k] = now + wait
        return worst

    def failures(self, *keys: tuple) -> int:
        """The most wrong attempts counted against any of ``keys``."""
        with self._lock:
            return max([self._failures.get(k, 0) for k in keys] + [0])

    def succeeded(self, *keys: tuple) -> None:
        with self._lock:
            for k in keys:
                self._failures.pop(k, None)
                self._until.pop(k, None)

    def attempt(self, what: str, keys: tuple, verify: Callable[[], bool]) -> bool:
        """Check the wait, then ``verify()``; count the outcome. True when correct."""
        self.check(what, *keys)
        if verify():
            self.succeeded(*keys)
            return True
        self.failed(*keys)
        return False
