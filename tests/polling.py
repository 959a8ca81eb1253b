"""Waiting for a state, never for a time: the one polling helper of the test suite."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 120.0, every: float = 0.05,
               what: str = "the expected state") -> T:
    """Call ``predicate`` until it returns something true, and return that; fail the
    test naming ``what`` after ``timeout`` seconds (a bound on a hang, not a wait)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


def ended(store, run_id: str) -> Callable[[], bool]:
    """A predicate: the run has left the queue and ended (any end)."""
    return lambda: store.read(run_id).get("status") not in ("queued", "running")
