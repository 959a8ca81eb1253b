"""The default answer on long real files: before and after, side by side, in one run.

    python bench/folder_predict.py [--files 10] [--rounds 2] [--csv-out answers.csv]

A SPEED workload only: the ten longest files of ``../shared/data/real-music`` (nothing is
chosen, tuned or scored on them; no accuracy is printed). Needs the shipped starters in
``checkpoints/`` and musicnn's weights (``python -m gtzan_core weights --fetch musicnn``).

In one process, alternating ``--rounds`` times (the machine's load drifts):

* **before**: the per-file path as it was: ``predict(file)`` with every run of the default
  selection (the musicnn starter and its EfficientNet-Lite0 fallback), the Predict page's
  picture drawn, musicnn through the release's layers (``Musicnn.fast_inference = False``),
  then ``Prediction.answer()``;
* **after**: ``folder_predict.predict_files``: only the runs that enter the answer, no
  picture, musicnn's inference path (live filters only, norm after the max).

Both are warm (models loaded by a first file before timing). Then, as a user runs them
(new processes: Python start, imports, model loads included): the CLI once per file
(``python -m gtzan_core predict FILE``, a shell loop) against ``python -m gtzan_core predict
FOLDER --csv FILE`` once. Prints files/s, CPU seconds, the load average, and whether the
two paths give each file the same top genre (their probabilities' largest difference).
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, machine

FOLDER = ROOT.parent / "shared" / "data" / "real-music"


def longest(n: int) -> list[Path]:
    """The ``n`` longest files by the folder's README table (seconds column)."""
    rows = []
    for line in (FOLDER / "README.md").read_text().splitlines():
        m = re.match(r"\| `([^`]+)` \|(?:[^|]*\|){3} ([\d.]+) \|", line)
        if m:
            rows.append((float(m.group(2)), m.group(1)))
    return [FOLDER / name for _, name in sorted(rows, reverse=True)[:n]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--csv-out", help="keep the folder's CSV here")
    args = ap.parse_args()
    if not FOLDER.is_dir():
        sys.exit(f"no {FOLDER}: nothing to time")

    from gtzan_core.folder_predict import answer_selection, predict_files
    from gtzan_core.inference import default_selection, predict
    from gtzan_core.models.musicnn import Musicnn
    from gtzan_core.runs import RunStore

    store = RunStore(ROOT / "checkpoints")
    files = longest(args.files)
    seconds = []
    all_ids, missing = default_selection(store)
    answer_ids, _ = answer_selection(store)
    if missing:
        sys.exit(f"weights absent: {'; '.join(missing.values())}")

    def before():
        Musicnn.fast_inference = False
        try:
            return {str(f): predict(f, all_ids, store).answer() for f in files}
        finally:
            Musicnn.fast_inference = True

    def after():
        return {a.file: a for a in predict_files(files, store, run_ids=answer_ids, unavailable={})}

    print(f"machine: {machine()}")
    print(f"files: the {len(files)} longest of {FOLDER.name}/ (speed only): "
          + ", ".join(f.name for f in files))
    print(f"before: runs {', '.join(all_ids)}; after: runs {', '.join(answer_ids)}")
    predict(files[0], all_ids, store).answer()  # warm: models loaded, caches filled
    list(predict_files(files[:1], store, run_ids=answer_ids, unavailable={}))
    times: dict[str, list[float]] = {"before": [], "after": []}
    cpu: dict[str, list[float]] = {"before": [], "after": []}
    for _ in range(args.rounds):
        for name, fn in (("before", before), ("after", after)):
            t0, c0 = time.perf_counter(), time.process_time()
            out = fn()
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
            if name == "before":
                old = out
            else:
                new = out
            print(f"  {name}: {len(files) / times[name][-1]:.3f} files/s ({times[name][-1]:.1f} s, "
                  f"{cpu[name][-1]:.1f} CPU-s); load {os.getloadavg()[0]:.1f}", flush=True)
    seconds = [a.seconds for a in new.values()]
    same = sum(old[f].top == a.genre for f, a in new.items())
    diff = max(abs(float(old[f].probs.max()) - a.probability) for f, a in new.items())
    print(f"audio: {sum(seconds):.0f} s in all, {statistics.mean(seconds):.1f} s a file on average")
    print(f"same top genre before and after: {same}/{len(files)} files; largest difference of the answer's "
          f"probability: {diff:.2e}")

    work = Path(tempfile.mkdtemp(prefix="bench-folder-"))
    try:
        folder = work / "music"
        folder.mkdir()
        for f in files:
            os.symlink(f, folder / f.name)
        env = {**os.environ, "GTZAN_STUDIO_OFFLINE": "1", "GTZAN_STUDIO_RUNS": str(ROOT / "checkpoints")}
        cli = [sys.executable, "-m", "gtzan_core", "predict"]
        t0 = time.perf_counter()
        for f in sorted(folder.iterdir()):
            subprocess.run([*cli, str(f)], env=env, cwd=ROOT, check=True, capture_output=True)
        loop = time.perf_counter() - t0
        print(f"  CLI, a process per file (predict FILE in a loop): {len(files) / loop:.3f} files/s ({loop:.1f} s); "
              f"load {os.getloadavg()[0]:.1f}", flush=True)
        csv_path = work / "answers.csv"
        t0 = time.perf_counter()
        subprocess.run([*cli, str(folder), "--csv", str(csv_path)], env=env, cwd=ROOT, check=True, capture_output=True)
        whole = time.perf_counter() - t0
        rows = csv_path.read_text().strip().splitlines()
        print(f"  CLI, one process for the folder (predict FOLDER --csv): {len(files) / whole:.3f} files/s "
              f"({whole:.1f} s, {len(rows) - 1} rows); load {os.getloadavg()[0]:.1f}", flush=True)
        if args.csv_out:
            shutil.copy(csv_path, args.csv_out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    b, a = statistics.median(times["before"]), statistics.median(times["after"])
    print(f"median of {args.rounds} rounds: before {len(files) / b:.3f} files/s, after {len(files) / a:.3f} files/s: "
          f"{b / a:.1f}x (CPU seconds {statistics.median(cpu['before']):.1f} -> {statistics.median(cpu['after']):.1f}); "
          f"CLI per file {len(files) / loop:.3f} files/s, CLI folder {len(files) / whole:.3f} files/s")


if __name__ == "__main__":
    main()
