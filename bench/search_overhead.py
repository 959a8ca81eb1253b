"""A search's overhead per trial against plain jobs of the same size, in one run.

    python bench/search_overhead.py [--trials 8] [--epochs 10] [--model mlp]

The same work twice on a 40-track synthetic demo set (features extracted once
beforehand; both read the same cache), through the same one-slot job manager:
(a) ``--trials`` plain jobs of ``--model`` for ``--epochs`` epochs, queued at once;
(b) a study of ``--trials`` trials whose search space pins every value to those of (a)
(so each trial trains exactly what a plain job does) and whose pruner never prunes
(its startup count exceeds the trials). What (b) adds: Optuna's ask/tell on the journal
file, the trial's sink opening the study and reporting every epoch, the driver's
polling; the best trial's one look at the test set is timed apart. Last line:
``ratio:`` the study's wall time per trial over a plain job's (without the test read).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _common import machine


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--model", default="mlp")
    a = ap.parse_args()
    import os

    tmp = Path(tempfile.mkdtemp(prefix="search-overhead-"))
    os.environ["GTZAN_STUDIO_HOME"] = str(tmp / "home")
    from gtzan_core.data import discover_dataset
    from gtzan_core.data.synth import generate_demo
    from gtzan_core.feature_cache import feature_request, load_features
    from gtzan_core.hparams import make_config
    from gtzan_core.jobs import JobManager
    from gtzan_core.runs import RunStore
    from gtzan_core.search import study as search

    data = generate_demo(tmp / "demo", per_genre=4, seconds=6.2, seed=3)
    load_features(discover_dataset(data), **feature_request(a.model))  # warm the cache for both
    base = make_config(a.model, epochs=a.epochs, patience=a.epochs, device="cpu")
    store = RunStore(tmp / "runs")
    manager = JobManager(store, slots=1)
    try:
        t0 = time.perf_counter()
        ids = [manager.submit(base, str(data)) for _ in range(a.trials)]
        assert manager.wait_idle(3600)
        plain = time.perf_counter() - t0
        assert all(store.read(i)["status"] == "finished" for i in ids)
        space = {"lr": {"type": "loguniform", "low": base.lr, "high": base.lr},
                 "epochs": {"type": "int", "low": a.epochs, "high": a.epochs}}
        req = search.SearchRequest(a.model, "overhead", str(data), trials=a.trials, space=space, device="cpu",
                                   parallel=1, pruner={"n_startup_trials": a.trials + 1, "n_warmup_steps": 0})
        reads = []
        real_test = search.test_best

        def timed_test(*args, **kw):
            t = time.perf_counter()
            out = real_test(*args, **kw)
            reads.append(time.perf_counter() - t)
            return out

        search.test_best = timed_test
        t0 = time.perf_counter()
        summary = search.run_search(req, store, manager)
        study_wall = time.perf_counter() - t0
    finally:
        manager.shutdown()
    test_read = sum(reads)
    trials = study_wall - test_read
    epochs = [store.read(t["run_id"])["epochs_run"] for t in summary["trials"]]
    assert all(t["state"] == "complete" for t in summary["trials"]) and epochs == [a.epochs] * a.trials
    print(machine())
    print(f"{a.trials} plain jobs of {a.model}, {a.epochs} epochs each: {plain:.1f} s ({plain / a.trials:.2f} s a job)")
    print(f"a study of {a.trials} trials, the same jobs: {trials:.1f} s ({trials / a.trials:.2f} s a trial) "
          f"+ {test_read:.1f} s for the best trial's test read")
    print(f"overhead per trial: {(trials - plain) / a.trials:+.2f} s")
    print(f"ratio: {trials / plain:.2f}")


if __name__ == "__main__":
    main()
