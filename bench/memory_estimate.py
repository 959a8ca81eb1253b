"""A job's estimated memory (gtzan_core/training/memory.py) beside the peak resident
memory of the job itself, for five configurations.

    python bench/memory_estimate.py [--per-genre 6] [--seconds 6.2]

Each configuration trains one epoch through the CLI (``train MODEL --epochs 1 --device
cpu``) in a fresh process on a small demo set whose features are extracted beforehand
(so the measured process trains, and does not extract); its peak RSS is read from
``wait4``. A first process that only imports the studio and PyTorch gives the runtime
(what :data:`~gtzan_core.training.memory.RUNTIME_MB` stands for). Last column: the
estimate over the measurement (aim: within 2x either way).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, machine

CONFIGS = [
    ("cnn", []),
    ("lstm", []),
    ("ast", []),  # the recipe's: depth 4, width 64, batch 32
    ("ast", ["--depth", "8", "--width", "256"]),
    ("ast", ["--depth", "12", "--width", "384", "--batch-size", "48"]),
]
RUNTIME = "import torch, numpy, gtzan_core.cli, gtzan_core.jobs, gtzan_core.training.trainer"


def peak_rss(argv: list[str], env: dict) -> tuple[int, float]:
    """(peak RSS in bytes, seconds) of a fresh process running ``argv``."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv[3:])} failed ({proc.returncode}): {err[-500:]}")
    return usage.ru_maxrss * 1024, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-genre", type=int, default=6, help="(6: ~85 training patches, more than a batch)")
    ap.add_argument("--seconds", type=float, default=6.2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "GTZAN_STUDIO_HOME": str(Path(tmp) / "home"), "GTZAN_STUDIO_RUNS": str(Path(tmp) / "runs"),
               "GTZAN_STUDIO_DEMO_PER_GENRE": str(args.per_genre), "GTZAN_STUDIO_DEMO_SECONDS": str(args.seconds),
               "PYTHONPATH": str(ROOT), "GTZAN_STUDIO_OFFLINE": "1"}
        os.environ.update({k: env[k] for k in ("GTZAN_STUDIO_HOME", "GTZAN_STUDIO_RUNS")})
        py = [sys.executable, "-m", "gtzan_core"]
        for model in ("cnn", "ast"):  # the features of every configuration, extracted once beforehand
            subprocess.run([*py, "features", "--model", model], cwd=ROOT, env=env, check=True,
                           stdout=subprocess.DEVNULL)
        runtime, _ = peak_rss([sys.executable, "-c", RUNTIME], env)
        from gtzan_core.hparams import make_config
        from gtzan_core.training.memory import estimate

        print(f"# {machine()}; demo set {args.per_genre} tracks a genre x {args.seconds} s; "
              f"runtime (imports only) {runtime / 2**20:.0f} MB peak RSS")
        print(f"{'configuration':44s} {'params':>9s} {'estimate':>9s} {'measured':>9s} {'est/meas':>8s} {'time':>6s}")
        for model, flags in CONFIGS:
            names = dict(zip(flags[::2], flags[1::2], strict=True))
            overrides = {k.lstrip("-").replace("-", "_"): int(v) for k, v in names.items()}
            est = estimate(make_config(model, epochs=1, device="cpu", **overrides))
            rss, seconds = peak_rss([*py, "train", model, "--epochs", "1", "--device", "cpu", "--allow-weak-split",
                                     *flags], env)
            label = f"{model} {' '.join(flags)}".strip()
            print(f"{label:44s} {est.parameters / 1e6:8.2f}M {est.total / 2**20:7.0f}MB {rss / 2**20:7.0f}MB "
                  f"{est.total / rss:8.2f} {seconds:5.0f}s")


if __name__ == "__main__":
    main()
