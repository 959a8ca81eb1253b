"""The run store's listing under many visitors: what the Train page's refresh costs the
server, with 50 and with 500 runs in the store, before and after the shared listing.

Each visitor's refresh reads the store's runs (``webapp.run_records()``: the Train
page's live cards do this every second while a job is live, every 5 s otherwise). The
reference is the old listing, which read and checked every ``record.json`` on every
call; ours is ``RunStore.list(shared=True)``, as the pages call it: one listing per process, re-read only when the store
changed, and then only the records that changed. Measured: server CPU seconds per wall
second, N visitor threads refreshing once a second for a few seconds, while the store
is idle and while one job writes its progress (as a live job does, 5 times a second).
Run from the repository root: ``python bench/listing.py [--visitors 30] [--seconds 4]``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from pathlib import Path

from _common import ROOT  # noqa: F401  (puts the repository on sys.path)


def make_store(root: Path, n: int):
    """``n`` finished runs with a realistic record each (75 epochs of history, an
    evaluation at two levels with its per-class report and confusion matrix)."""
    import numpy as np

    from gtzan_core.evaluation import evaluate
    from gtzan_core.runs import RunStore, lifecycle

    store = RunStore(root)
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(10), 150)
    ev = evaluate(probs, rng.integers(0, 10, 150), np.arange(150))
    history = [{"epoch": e, "train_loss": 2.0 / e, "train_acc": 0.5, "val_loss": 2.1 / e, "val_acc": 0.4,
                "seconds": 1.0, "elapsed": float(e), "best": e % 3 == 0} for e in range(1, 76)]
    for k in range(n):
        rid = lifecycle.create(store, {"model": "cnn", "title": "CNN", "protocol": "track", "owner": f"s{k % 30}"})
        lifecycle.start(store, rid, "training")
        store.update(rid, history=history, epochs_run=75)
        lifecycle.finish(store, rid, evaluation=ev)
    old = time.time() - 120  # written long ago (as a lab's runs are)
    for path in root.rglob("*"):
        os.utime(path, (old, old))
    return store


def old_listing(store) -> list[dict]:
    """The listing before: every record read and checked on every call."""
    from gtzan_core.runs.record import parse_record

    out = []
    for d in store.root.iterdir():
        if d.is_dir() and (d / "record.json").is_file():
            out.append(parse_record(d.name, json.loads((d / "record.json").read_bytes())))
    return sorted(out, key=lambda r: r.get("created", 0), reverse=True)


def cpu_per_second(listing, visitors: int, seconds: float, live_run=None, store=None) -> float:
    """Process CPU seconds per wall second while ``visitors`` threads each list the store
    once a second (staggered), and, with ``live_run``, a job updates its progress 5 times
    a second."""
    stop = threading.Event()

    def visitor(k: int) -> None:
        time.sleep(k / visitors)  # spread over the second, as real visitors are
        while not stop.is_set():
            listing()
            stop.wait(1.0)

    def job() -> None:
        done = 0
        while not stop.is_set():
            done += 1
            store.update(live_run, progress={"done": done, "total": 1000, "message": "training"})
            stop.wait(0.2)

    threads = [threading.Thread(target=visitor, args=(k,)) for k in range(visitors)]
    if live_run is not None:
        threads.append(threading.Thread(target=job))
    cpu0, t0 = time.process_time(), time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return (time.process_time() - cpu0) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--visitors", type=int, default=30)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--sizes", type=int, nargs="+", default=[50, 500])
    args = ap.parse_args()
    from gtzan_core.runs import lifecycle

    rows = {}
    with tempfile.TemporaryDirectory(prefix="gtzan-listing-") as tmp:
        for n in args.sizes:
            store = make_store(Path(tmp) / str(n), n)
            t0 = time.perf_counter()
            old_listing(store)
            one_old = time.perf_counter() - t0
            store.list()  # the first listing of the process reads everything once
            t0 = time.perf_counter()
            store.list()
            one_new = time.perf_counter() - t0
            live = lifecycle.create(store, {"model": "cnn", "title": "CNN", "protocol": "track"})
            lifecycle.start(store, live, "training")
            for label, live_run in (("idle", None), ("a live job", live)):
                old = cpu_per_second(lambda s=store: old_listing(s), args.visitors, args.seconds, live_run, store)
                new = cpu_per_second(lambda s=store: s.list(shared=True), args.visitors, args.seconds, live_run, store)
                rows[(n, label)] = (old, new)
                print(f"{n:4d} runs, {args.visitors} visitors refreshing each second, store {label}: "
                      f"server CPU {old:.3f} s/s before, {new:.3f} s/s now (one listing: {one_old * 1e3:.1f} ms "
                      f"before, {one_new * 1e3:.2f} ms now, unchanged store)", flush=True)
    big, small = max(args.sizes), min(args.sizes)
    growth = rows[(big, "a live job")][1] / max(rows[(small, "a live job")][1], 1e-9)
    print(f"now, {big} runs against {small}, a live job: x{growth:.2f} (before: "
          f"x{rows[(big, 'a live job')][0] / rows[(small, 'a live job')][0]:.2f})")
    print(f"ratio: {rows[(big, 'a live job')][0] / rows[(big, 'a live job')][1]:.2f}")


if __name__ == "__main__":
    main()
