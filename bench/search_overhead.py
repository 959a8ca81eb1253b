"""A search's overhead per trial against plain jobs of the same size, in one run.

    python bench/search_overhead.py [--trials 8] [--epochs 10] [--model mlp] [--repeats 3]

The same work twice on a 40-track synthetic demo set (features extracted once
beforehand; both read the same cache), through the same one-slot job manager:
(a) ``--trials`` plain jobs of ``--model`` for ``--epochs`` epochs, queued at once;
(b) a study of ``--trials`` trials whose search space pins every value to those of (a)
(so each trial trains exactly what a plain job does) and whose pruner never prunes
(its startup count exceeds the trials). What (b) adds: Optuna's ask/tell on the journal
file, the trial's sink opening the study and reporting every epoch, the driver's
polling; the best trial's one look at the test set is timed apart. One warm-up job
first, then ``--repeats`` rounds of (a) then (b). Last line: ``ratio:`` the median over
rounds of the study's wall time over the plain jobs' (without the test read).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from _common import machine


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--model", default="mlp")
    ap.add_argument("--repeats", type=int, default=3)
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
    space = {"lr": {"type": "loguniform", "low": base.lr, "high": base.lr},
             "epochs": {"type": "int", "low": a.epochs, "high": a.epochs}}
    reads: list[float] = []
    real_test = search.test_best

    def timed_test(*args, **kw):
        t = time.perf_counter()
        out = real_test(*args, **kw)
        reads.append(time.perf_counter() - t)
        return out

    search.test_best = timed_test

    def plain_batch() -> float:
        t0 = time.perf_counter()
        ids = [manager.submit(base, str(data)) for _ in range(a.trials)]
        assert manager.wait_idle(3600)
        assert all(store.read(i)["status"] == "finished" for i in ids)
        return time.perf_counter() - t0

    def study_batch(k: int) -> float:
        req = search.SearchRequest(a.model, f"overhead-{k}", str(data), trials=a.trials, space=space, device="cpu",
                                   parallel=1, pruner={"n_startup_trials": a.trials + 1, "n_warmup_steps": 0})
        t0 = time.perf_counter()
        summary = search.run_search(req, store, manager)
        wall = time.perf_counter() - t0 - reads[-1]
        epochs = [store.read(t["run_id"])["epochs_run"] for t in summary["trials"]]
        assert all(t["state"] == "complete" for t in summary["trials"]) and epochs == [a.epochs] * a.trials
        return wall

    try:
        manager.submit(base, str(data))  # warm-up: the first job in a process pays for imports and caches
        assert manager.wait_idle(3600)
        rounds = []
        for k in range(a.repeats):  # alternating, so a machine's changing load falls on both alike
            plain = plain_batch()
            trials = study_batch(k)
            rounds.append((plain, trials))
            print(f"round {k + 1}: {a.trials} plain jobs {plain:.1f} s ({plain / a.trials:.2f} s a job); a study of "
                  f"{a.trials} trials, the same jobs, {trials:.1f} s ({trials / a.trials:.2f} s a trial) "
                  f"+ {reads[-1]:.2f} s for the best trial's test read; ratio {trials / plain:.2f}", flush=True)
    finally:
        manager.shutdown()
    print(machine())
    plain = statistics.median(r[0] for r in rounds)
    trials = statistics.median(r[1] for r in rounds)
    print(f"median: plain {plain / a.trials:.2f} s a job, study {trials / a.trials:.2f} s a trial; "
          f"overhead per trial {(trials - plain) / a.trials:+.2f} s")
    print(f"ratio: {statistics.median(r[1] / r[0] for r in rounds):.2f}")


if __name__ == "__main__":
    main()
