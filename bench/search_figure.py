"""Does a search buy test points? The studio's own commands, side by side on the same
split and seeds: ``train MODEL`` under a recipe (``--recipe``; default: the ``train``
command's, the paper's), and ``search MODEL`` (TPE, median pruning, ``--trials`` trials
chosen on validation, the best trial tested once) from the same recipe, over the model's
default search space or a narrowed one (``--space FILE``, as ``search --space``). Both
report test accuracy on the seed's held-out tracks, which neither training nor the search
ever saw.

    python bench/search_figure.py --data ../shared/data/gtzan-real/excerpts [--model mlp] [--recipe studio]
        [--seeds 0 1 2] [--trials 20] [--minutes M] [--space FILE] [--runs /tmp/search-figure-runs]

``--minutes``: each seed's search asks for no new trial after M minutes (``search
--minutes``), a budget of time beside the budget of trials. Prints each command, one row
per seed and the mean ± sd, the budget and the wall time; last line ``gain:`` the mean
test-accuracy difference (search - recipe) in points.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time

from _common import ROOT, machine


def cli(*args: str) -> str:
    cmd = [sys.executable, "-m", "gtzan_core", *args]
    print("$", " ".join(["python", "-m", "gtzan_core", *args]), flush=True)
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"failed ({out.returncode}): {out.stderr.strip().splitlines()[-1:]}")
    return out.stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--model", default="mlp")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--recipe", help="the recipe of the train run and of the search's trials (default: train's)")
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--minutes", type=float, help="each seed's search asks for no new trial after this long")
    ap.add_argument("--space", help="a narrowed search space (YAML, as search --space)")
    ap.add_argument("--runs", default="/tmp/search-figure-runs")
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    from gtzan_core.runs import RunStore

    store = RunStore(a.runs)
    recipe = ["--recipe", a.recipe] if a.recipe else []
    budget = (["--minutes", f"{a.minutes:g}"] if a.minutes else []) + (["--space", a.space] if a.space else [])
    rows = []
    start = time.monotonic()
    for seed in a.seeds:
        t0 = time.monotonic()
        out = cli("train", a.model, "--data", a.data, *recipe, "--seed", str(seed), "--device", a.device,
                  "--runs", a.runs)
        base_id = re.search(r"^run (\S+):", out, re.M).group(1)
        base = store.read(base_id)
        t1 = time.monotonic()
        summary = json.loads(cli("search", a.model, "--data", a.data, *recipe, "--seed", str(seed), "--trials",
                                 str(a.trials), *budget, "--study", f"figure-{a.model}-s{seed}", "--device",
                                 a.device, "--parallel", "1", "--json", "--runs", a.runs))
        tested = summary["tested"]
        states = [t["state"] for t in summary["trials"]]
        rows.append({"seed": seed, "recipe_test": base["evaluation"]["track"]["accuracy"],
                     "recipe_epochs": base["epochs_run"], "search_val": tested["val_acc"],
                     "search_test": tested["test_acc"], "best_params": summary["best"]["params"],
                     "pruned": states.count("pruned"), "trials": len(states),
                     "test_tracks": base["split"]["test"], "train_s": round(t1 - t0, 1),
                     "search_s": round(time.monotonic() - t1, 1)})
        print(json.dumps(rows[-1]), flush=True)
    print(f"\n{machine()}")
    print(f"budget per seed: {a.trials} trials" + (f" or {a.minutes:g} minutes, whichever ends first" if a.minutes
                                                   else "") + f"; wall time {time.monotonic() - start:.0f} s in all\n")
    name = a.recipe or "default"
    print(f"| seed | {name} recipe: test acc (epochs) | search: best val acc | search: test acc | pruned / trials | "
          "wall s (train, search) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['seed']} | {r['recipe_test']:.3f} ({r['recipe_epochs']}) | {r['search_val']:.3f} | "
              f"{r['search_test']:.3f} | {r['pruned']} / {r['trials']} | {r['train_s']:.0f}, {r['search_s']:.0f} |")

    def ms(xs):
        return f"{statistics.mean(xs):.3f} ± {statistics.stdev(xs) if len(xs) > 1 else 0:.3f}"

    rec, srch = [r["recipe_test"] for r in rows], [r["search_test"] for r in rows]
    print(f"| mean ± sd | {ms(rec)} | {ms([r['search_val'] for r in rows])} | {ms(srch)} | | |")
    diffs = [100 * (s - r) for s, r in zip(srch, rec, strict=True)]
    print(f"gain: {statistics.mean(diffs):+.1f} ± {statistics.stdev(diffs) if len(diffs) > 1 else 0:.1f} test points "
          f"(search - recipe, per seed: {', '.join(f'{d:+.1f}' for d in diffs)})")


if __name__ == "__main__":
    main()
