"""Limits on guessing: wrong passcodes and admin passwords, counted against the guesser,
on the server.

A guesser is known by its session and, where Streamlit gives one, its client address
(an IPv6 address by its /64 network, which one machine can fill with addresses). Each
key counts its wrong tries of the last :data:`WINDOW` seconds; past its free tries
(:data:`FREE_TRIES` for a session, :data:`ADDRESS_FREE_TRIES` for an address, which a
class behind one router shares) every wrong try makes it wait ``BASE_WAIT * 2**(n -
free)`` seconds (at most :data:`MAX_WAIT`) before its next attempt is even compared.
Nothing is counted against the name or the password being guessed, so one visitor's
wrong tries never make another session or address wait: nobody can lock the admin or a
classmate out.

The global ceiling: once the server has seen :data:`CEILING` wrong tries within the
window (guessing spread over many sessions and addresses), keys have no free tries
left: each wrong try makes its session and its address wait at once. An attempt from a
session and address that are not waiting is still compared, so a right answer is never
refused by the ceiling; it only slows the guessing.

A right answer clears its session's count, not its address's (a guesser would
otherwise wipe the address's count by signing in as a name of their own). No sleep
anywhere: a wait is a time before which attempts are refused, and the clock is a
parameter, so tests move time instead of waiting for it.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import deque
from collections.abc import Callable

from .rules import PermissionDenied

FREE_TRIES = 5
ADDRESS_FREE_TRIES = 20
BASE_WAIT = 30.0
MAX_WAIT = 3600.0
WINDOW = 3600.0
CEILING = 60
SESSION, ADDRESS = "session", "address"


class TooManyAttempts(PermissionDenied):
    """Attempts refused for a while after too many wrong ones."""


def address_key(ip: str | None) -> tuple | None:
    """The limiter's key for a client address (None when unknown): IPv4 as is, IPv6 by
    its /64 network (an IPv4 address mapped into IPv6 as the IPv4 one)."""
    if not ip:
        return None
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ADDRESS, ip
    if addr.version == 6:
        if addr.ipv4_mapped:
            return ADDRESS, str(addr.ipv4_mapped)
        return ADDRESS, str(ipaddress.ip_network(f"{addr}/64", strict=False))
    return ADDRESS, str(addr)


class AttemptLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic, free_tries: int = FREE_TRIES,
                 base_wait: float = BASE_WAIT, max_wait: float = MAX_WAIT,
                 address_free_tries: int = ADDRESS_FREE_TRIES, window: float = WINDOW, ceiling: int = CEILING):
        self.clock, self.free_tries, self.base_wait, self.max_wait = clock, free_tries, base_wait, max_wait
        self.address_free_tries, self.window = address_free_tries, window
        self._lock = threading.Lock()
        self._failures: dict[tuple, deque[float]] = {}  # key -> times of its wrong tries in the window
        self._until: dict[tuple, float] = {}
        self._recent: deque[float] = deque(maxlen=max(1, ceiling))  # the server's latest wrong tries
        self._sweep_at = 1024

    # -- under the lock ----------------------------------------------------------------------------------
    def _window(self, key: tuple, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        while times and now - times[0] >= self.window:
            times.popleft()
        return times

    def _ceiling(self, now: float) -> bool:
        return len(self._recent) == self._recent.maxlen and now - self._recent[0] < self.window

    def _sweep(self, now: float) -> None:
        """Forget keys with nothing in the window and no wait (sessions come and go)."""
        for key in [k for k in self._failures if not self._window(k, now) and self._until.get(k, 0.0) <= now]:
            self._failures.pop(key, None)
            self._until.pop(key, None)
        self._sweep_at = max(1024, 2 * len(self._failures))

    # -- the API -----------------------------------------------------------------------------------------
    def ceiling_reached(self) -> bool:
        """Whether the server is past its global ceiling of wrong tries (no free tries left)."""
        now = self.clock()
        with self._lock:
            return self._ceiling(now)

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
        """Count a wrong attempt against ``keys``; returns the most wrong tries of any of
        them within the window."""
        now, worst = self.clock(), 0
        with self._lock:
            self._recent.append(now)
            slow = self._ceiling(now)
            for k in keys:
                times = self._window(k, now)
                if times is None:
                    times = self._failures[k] = deque()
                times.append(now)
                n = len(times)
                free = 1 if slow else self.address_free_tries if k[0] == ADDRESS else self.free_tries
                if n >= free:
                    wait = min(self.base_wait * 2 ** min(n - free, 32), self.max_wait)
                    self._until[k] = max(self._until.get(k, 0.0), now + wait)
                worst = max(worst, n)
            if len(self._failures) > self._sweep_at:
                self._sweep(now)
        return worst

    def failures(self, *keys: tuple) -> int:
        """The most wrong attempts within the window counted against any of ``keys``."""
        now = self.clock()
        with self._lock:
            return max([len(self._window(k, now) or ()) for k in keys] + [0])

    def succeeded(self, *keys: tuple) -> None:
        """Forget ``keys``' wrong tries and waits."""
        with self._lock:
            for k in keys:
                self._failures.pop(k, None)
                self._until.pop(k, None)

    def attempt(self, what: str, keys: tuple, verify: Callable[[], bool]) -> bool:
        """One attempt of the guesser known by ``keys`` (its session, its address): refused
        without comparing while any of them waits, else ``verify()``, counted. True when
        right; a right answer clears the session's count, not the address's."""
        self.check(what, *keys)
        if verify():
            self.succeeded(*(k for k in keys if k[0] != ADDRESS))
            return True
        self.failed(*keys)
        return False
