"""Throughput of the job manager: one slot, K slots, and a local Ray cluster, side by side.

    python bench/jobs.py [--jobs 8] [--epochs 3] [--model cnn] [--k 2] [--no-ray]

The same batch of short jobs (``--jobs`` runs of ``--model`` for ``--epochs`` epochs on a
40-track synthetic demo set, half queued by "alice" then half by "bob") goes through
(a) the embedded job manager with one slot, (b) the embedded manager with K slots (K
jobs per GPU on a GPU machine; K worker threads on a CPU-only one, where the app itself
keeps one), (c) a local Ray cluster the benchmark starts (``ray.init``, one CPU a job
on a CPU machine, 1/K GPU on a GPU one) through the :class:`~gtzan_core.cluster.RayExecutor`.
The features are extracted once beforehand (all three read the same cache), so the
modes differ only in how jobs run.

Printed per mode: wall time, jobs per minute, the order jobs started in (A = alice,
B = bob: the fair queue alternates), and for Ray its overhead per job: the time from
dispatch to the result collected minus the time the job spent in its worker (placing
the task, starting or reusing a worker process, returning), first job (a cold worker
imports torch) and the rest. Last line: ``ratio:`` Ray's jobs per minute over one
slot's, then K slots' over one slot's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import machine

ROOT = Path(__file__).resolve().parents[1]


def batch(make_manager, store, data: str, n: int, model: str, epochs: int) -> tuple:
    """Queue the batch as a class would (alice's half, then bob's), all before any starts (a
    held manager hands them to the measured one, which takes the whole queue at once)."""
    from gtzan_core.hparams import make_config
    from gtzan_core.jobs import JobManager

    held = JobManager(store, slots=0)
    ids = [held.submit(make_config(model, epochs=epochs, seed=i), data, owner="alice" if i < n // 2 else "bob")
           for i in range(n)]
    held.shutdown()
    t0 = time.perf_counter()
    manager = make_manager(store)
    if not manager.wait_idle(timeout=3600):
        sys.exit("the batch did not finish within an hour")
    wall = time.perf_counter() - t0
    manager.shutdown()
    return wall, ids, store


def report(name: str, wall: float, ids: list[str], store) -> dict:
    records = [store.read(i) for i in ids]
    bad = [(r["run_id"], r.get("status"), r.get("error")) for r in records if r.get("status") != "finished"]
    if bad:
        sys.exit(f"{name}: jobs did not finish: {bad}")
    order = "".join("A" if r["owner"] == "alice" else "B" for r in sorted(records, key=lambda r: r["dispatched"]))
    train = statistics.median(r["train_seconds"] for r in records)
    gap = max(abs(order[:k].count("A") - order[:k].count("B")) for k in range(1, len(order) + 1))
    print(f"{name:<30} {wall:6.1f} s  {len(ids) / wall * 60:6.1f} jobs/min  start order {order} "
          f"({'fair' if gap <= 1 else 'UNFAIR'}: owners never more than {gap} apart)  "
          f"median training time in a job {train:.2f} s")
    return {"wall": wall, "per_min": len(ids) / wall * 60, "records": records}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--model", default="cnn")
    ap.add_argument("--k", type=int, default=2, help="jobs at once per GPU (threads on a CPU-only machine)")
    ap.add_argument("--no-ray", action="store_true", help="skip mode (c)")
    args = ap.parse_args()

    home = Path(tempfile.mkdtemp(prefix="gtzan-bench-jobs-"))
    os.environ.update(GTZAN_STUDIO_HOME=str(home), GTZAN_STUDIO_RUNS=str(home / "runs"), GTZAN_STUDIO_OFFLINE="1")
    sys.path.insert(0, str(ROOT))
    import torch

    from gtzan_core.data import discover_dataset
    from gtzan_core.data.synth import generate_demo
    from gtzan_core.feature_cache import load_features
    from gtzan_core.models import image_params_for
    from gtzan_core.jobs import JobManager
    from gtzan_core.runs import RunStore
    from gtzan_core.training.gpu_slots import visible_gpus

    print(machine())
    ds = discover_dataset(generate_demo(home / "demo", per_genre=4, seconds=6.2, seed=3))
    load_features(ds, image=image_params_for(args.model))  # one extraction, shared by every mode
    data, gpus = str(ds.root), visible_gpus()
    print(f"{args.jobs} x {args.model} ({args.epochs} epochs) on {len(ds.tracks)} demo tracks; "
          f"{'GPUs ' + ', '.join(gpus) if gpus else 'CPU only'}")

    results = {}
    results["one"] = report("(a) embedded, 1 slot", *batch(
        lambda store: JobManager(store, slots=1, devices=gpus, jobs_per_gpu=1, resume=True),
        RunStore(home / "runs-1"), data, args.jobs, args.model, args.epochs))
    if gpus:
        def many(store):
            return JobManager(store, devices=gpus, jobs_per_gpu=args.k, resume=True)
    else:
        def many(store):
            return JobManager(store, slots=args.k, devices=[], resume=True)
    label = f"(b) embedded, {args.k} slots" + ("/GPU" if gpus else " (threads)")
    results["k"] = report(label, *batch(many, RunStore(home / "runs-k"), data, args.jobs, args.model, args.epochs))

    if not args.no_ray:
        import ray

        from gtzan_core.cluster import RayExecutor

        # a throwaway cluster on this machine: no token authentication (otherwise Ray writes a token
        # to ~/.ray/auth_token, and every later `ray start` on the machine turns authentication on)
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        t0 = time.perf_counter()
        ray.init(num_cpus=os.cpu_count(), num_gpus=torch.cuda.device_count(), include_dashboard=False,
                 log_to_driver=False, configure_logging=False,
                 runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
        print(f"local Ray cluster started in {time.perf_counter() - t0:.1f} s")
        executor = RayExecutor("local", jobs_per_gpu=args.k)
        print(f"Ray capacity: {executor.capacity()} jobs at once")
        results["ray"] = r = report("(c) local Ray cluster", *batch(
            lambda store: JobManager(store, executor=executor, resume=True), RunStore(home / "runs-ray"), data,
            args.jobs, args.model, args.epochs))
        ex = sorted((rec["executor"] for rec in r["records"]), key=lambda e: e["dispatched"])
        overhead = [(e["collected"] - e["dispatched"]) - (e["ended"] - e["started"]) for e in ex]
        placing = [e["started"] - e["dispatched"] for e in ex]
        workers = len({e["pid"] for e in ex})
        print(f"Ray overhead per job: first {overhead[0]:.2f} s (placing {placing[0]:.2f} s), "
              f"the others median {statistics.median(overhead[1:]):.2f} s, max {max(overhead[1:]):.2f} s "
              f"(placing median {statistics.median(placing[1:]):.2f} s); {workers} worker processes")
        ray.shutdown()

    ray_ratio = results["ray"]["per_min"] / results["one"]["per_min"] if "ray" in results else float("nan")
    print(f"ratio: {ray_ratio:.2f} (Ray / 1 slot, jobs per minute); "
          f"{results['k']['per_min'] / results['one']['per_min']:.2f} ({args.k} slots / 1 slot)")


if __name__ == "__main__":
    main()
