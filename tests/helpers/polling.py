"""Waiting for a state, never for a time: the one polling helper of the test suite."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

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


def bounded(fn: Callable[[], T], timeout: float, stop=None) -> tuple[dict, bool]:
    """Run ``fn`` in a thread and wait for it up to ``timeout`` s: (``{"value": ...}`` or
    ``{"error": exc}``, whether it ended). When it did not, ``stop`` (a threading.Event) is
    set and the thread given 60 s more: code that never ends fails its test instead of
    hanging the suite."""
    import threading

    out: dict = {}

    def go():
        try:
            out["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            out["error"] = exc

    t = threading.Thread(target=go, daemon=True)
    t.start()
    t.join(timeout)
    done = not t.is_alive()
    if not done and stop is not None:
        stop.set()
        t.join(60)
    return out, done
