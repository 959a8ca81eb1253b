"""Idle torch threads spinning or sleeping: a training epoch beside one busy core.

    python bench/omp_wait.py [--segments 1000] [--repeats 5]

On a shared server torch's CPU threads run beside other work (visitors' predictions,
their pages, the web server). This trains the MFCC CNN (one epoch of ``--segments``
random 130 x 13 segments, studio batch size) in a child process, with OpenMP's
default wait policy and with ``OMP_WAIT_POLICY=PASSIVE`` (what deploy/start.sh
sets), each alone and next to one process that keeps a core busy. It prints the
median epoch time of each.
Last line: ``ratio:`` default / passive epoch time next to the busy core.
"""

import argparse
import json
import os
import subprocess
import sys

from _common import ROOT, machine


def child(segments: int, repeats: int) -> None:
    import numpy as np
    import torch

    from gtzan_core.hparams import make_config
    from gtzan_core.models import build_model
    from gtzan_core.training import run_epoch

    from _common import timed

    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((segments, 130, 13)).astype(np.float32))
    y = torch.from_numpy(rng.integers(0, 10, segments))
    torch.manual_seed(0)
    model, _ = build_model("cnn")
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    bs = make_config("cnn").batch_size
    cpu = torch.device("cpu")

    def epoch():
        run_epoch(model, opt, x, y, torch.randperm(len(x)), bs, lambda t: t, cpu)[0].item()

    median, _ = timed(epoch, repeats, warmup=1)
    print(json.dumps({"epoch": median}))


def spin() -> None:
    while True:
        pass


def run(policy: str | None, busy: bool, args) -> float:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    hog = subprocess.Popen([sys.executable, __file__, "--spin"]) if busy else None
    try:
        out = subprocess.run([sys.executable, __file__, "--child", "--segments", str(args.segments),
                              "--repeats", str(args.repeats)], env=env, cwd=ROOT, capture_output=True, text=True,
                             check=True)
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()
    return json.loads(out.stdout.strip().splitlines()[-1])["epoch"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--segments", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--spin", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.spin:
        return spin()
    if args.child:
        return child(args.segments, args.repeats)
    print(f"machine: {machine()}")
    print(f"CNN, one epoch of {args.segments} segments, median of {args.repeats}")
    times = {}
    for policy in (None, "PASSIVE"):
        for busy in (False, True):
            times[policy, busy] = run(policy, busy, args)
            label = f"{policy or 'OpenMP default':15s} {'next to a busy core' if busy else 'alone':20s}"
            print(f"{label} {times[policy, busy]:.3f} s/epoch", flush=True)
    print(f"alone: passive costs {times['PASSIVE', False] / times[None, False]:.2f}x the default")
    print(f"ratio: {times[None, True] / times['PASSIVE', True]:.2f}")


if __name__ == "__main__":
    main()
