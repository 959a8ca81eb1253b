"""The default answer on long real files: before and after, side by side, in one run.

    python bench/folder_predict.py [--files 10] [--rounds 2] [--no-cli] [--csv-out answers.csv]

A SPEED workload only: the ten longest files of ``../shared/data/real-music`` (nothing is
chosen, tuned or scored on them; no accuracy is printed). Needs the shipped starters in
``checkpoints/``, musicnn's weights (``python -m gtzan_core weights --fetch musicnn``) and
the git history (the baseline's starters are read from it).

In one process, alternating ``--rounds`` times (the machine's load drifts):

* **before**, the default answer as issue 44 measured it ("today's"): the starters of commit
  :data:`BASELINE` (the MSD-only musicnn starter and its EfficientNet-Lite0 fallback, read
  from git into a temporary run store) through the per-file path as it was: ``predict(file)``
  with both runs, the Predict page's picture drawn, musicnn through the release's layers
  (``Musicnn.fast_inference = False``), then ``Prediction.answer()``;
* **after**, today's default answer: the shipped starters (the musicnn starter is now
  ``musicnn_both``, MSD and MTT side by side) through ``folder_predict.predict_files``: only
  the runs that enter the answer, no picture, musicnn's inference path
  (:mod:`gtzan_core.models.musicnn_fast`: the live filters of both networks as shared
  chunked matrix products, the patches split among threads of one intra-op thread each).

Both are warm (models loaded by a first file before timing). The two answers come from
different models, so their top genres are counted, not required to agree. Then, unless
``--no-cli``, as a user runs today's answer (new processes: Python start, imports, model loads
included): the CLI once per file (``python -m gtzan_core predict FILE``, a shell loop) against
``python -m gtzan_core predict FOLDER --csv FILE`` once. Prints files/s, CPU seconds and the
load average; and, for the new starter, the seconds each of its networks takes on the files
alone and the two together as the answer runs them (one shared pass).
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
#: The commit whose starters are the baseline: the default answer as issue 44 measured it
#: (the MSD-only musicnn starter, its EfficientNet-Lite0 fallback).
BASELINE = "773b184"
STARTERS = ("starter-gtzan-musicnn", "starter-gtzan-efficientnet_lite0")
RUN_FILES = ("record.json", "model.pt", "MODEL_CARD.md")


def longest(n: int) -> list[Path]:
    """The ``n`` longest files by the folder's README table (seconds column)."""
    rows = []
    for line in (FOLDER / "README.md").read_text().splitlines():
        m = re.match(r"\| `([^`]+)` \|(?:[^|]*\|){3} ([\d.]+) \|", line)
        if m:
            rows.append((float(m.group(2)), m.group(1)))
    return [FOLDER / name for _, name in sorted(rows, reverse=True)[:n]]


def baseline_store(root: Path) -> Path:
    """The starters of commit :data:`BASELINE`, read from git into run folders under ``root``."""
    for run in STARTERS:
        (root / run).mkdir(parents=True)
        for name in RUN_FILES:
            blob = subprocess.run(["git", "show", f"{BASELINE}:checkpoints/{run}/{name}"], cwd=ROOT,
                                  check=True, capture_output=True).stdout
            (root / run / name).write_bytes(blob)
    return root


def network_seconds(store, files) -> dict[str, float]:
    """Seconds each network of the musicnn starter takes on the files' patches (inference path),
    alone and (several networks) together in the starter's shared pass."""
    import torch

    from gtzan_core.audio import decode_audio
    from gtzan_core.inference import load_run_model
    from gtzan_core.mel_patches import mel_patches

    model, _ = load_run_model(store, STARTERS[0], "cpu")
    nets = getattr(model.backbone, "nets", {"musicnn": model.backbone})
    out = {"log-mel patches": 0.0, **{name: 0.0 for name in nets}}
    if len(nets) > 1:
        out["together (shared pass)"] = 0.0
    for f in files:
        t0 = time.perf_counter()
        x = torch.from_numpy(mel_patches(decode_audio(f, max_seconds=600).at(16000))[0])
        out["log-mel patches"] += time.perf_counter() - t0
        with torch.inference_mode():
            for name, net in nets.items():
                t0 = time.perf_counter()
                for i in range(0, len(x), 32):
                    net(x[i:i + 32])
                out[name] += time.perf_counter() - t0
            if len(nets) > 1:
                t0 = time.perf_counter()
                for i in range(0, len(x), 32):
                    model.backbone(x[i:i + 32])
                out["together (shared pass)"] += time.perf_counter() - t0
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--no-cli", action="store_true", help="skip the CLI's per-file loop and folder run")
    ap.add_argument("--csv-out", help="keep the folder's CSV here")
    args = ap.parse_args()
    if not FOLDER.is_dir():
        sys.exit(f"no {FOLDER}: nothing to time")

    from gtzan_core.folder_predict import answer_selection, predict_files
    from gtzan_core.inference import default_selection, predict
    from gtzan_core.models.musicnn import Musicnn
    from gtzan_core.runs import RunStore

    base_dir = Path(tempfile.mkdtemp(prefix="bench-baseline-"))
    try:
        old_store = RunStore(baseline_store(base_dir / "checkpoints"))
        _run(args, old_store, RunStore(ROOT / "checkpoints"), default_selection, answer_selection, predict,
             predict_files, Musicnn)
    finally:
        shutil.rmtree(base_dir, ignore_errors=True)


def _run(args, old_store, store, default_selection, answer_selection, predict, predict_files, Musicnn):
    files = longest(args.files)
    old_ids, old_missing = default_selection(old_store)
    answer_ids, missing = answer_selection(store)
    if old_missing or missing:
        sys.exit(f"weights absent: {'; '.join({**old_missing, **missing}.values())}")

    def before():
        Musicnn.fast_inference = False
        try:
            return {str(f): predict(f, old_ids, old_store).answer() for f in files}
        finally:
            Musicnn.fast_inference = True

    def after():
        return {a.file: a for a in predict_files(files, store, run_ids=answer_ids, unavailable={})}

    models = {rid: store.read(rid).get("model") for rid in answer_ids}
    print(f"machine: {machine()}")
    print(f"files: the {len(files)} longest of {FOLDER.name}/ (speed only): "
          + ", ".join(f.name for f in files))
    print(f"before: commit {BASELINE}'s runs {', '.join(old_ids)} "
          f"({', '.join(str(old_store.read(r).get('model')) for r in old_ids)}); "
          f"after: runs {', '.join(f'{r} ({m})' for r, m in models.items())}")
    before_warm = Musicnn.fast_inference
    Musicnn.fast_inference = False
    predict(files[0], old_ids, old_store).answer()  # warm: models loaded, caches filled
    Musicnn.fast_inference = before_warm
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
    print(f"audio: {sum(seconds):.0f} s in all, {statistics.mean(seconds):.1f} s a file on average")
    print(f"the same top genre before and after (different models): {same}/{len(files)} files")
    parts = network_seconds(store, files)
    print("today's musicnn starter, its parts on these files (one pass, warm): "
          + ", ".join(f"{k} {v:.1f} s" for k, v in parts.items()) + f"; load {os.getloadavg()[0]:.1f}", flush=True)
    b, a = statistics.median(times["before"]), statistics.median(times["after"])
    summary = (f"median of {args.rounds} rounds: before {len(files) / b:.3f} files/s, after {len(files) / a:.3f} "
               f"files/s: {b / a:.1f}x (CPU seconds {statistics.median(cpu['before']):.1f} -> "
               f"{statistics.median(cpu['after']):.1f}: "
               f"{statistics.median(cpu['before']) / statistics.median(cpu['after']):.1f}x)")
    if args.no_cli:
        print(summary)
        return

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
    print(f"{summary}; CLI per file {len(files) / loop:.3f} files/s, CLI folder {len(files) / whole:.3f} files/s")


if __name__ == "__main__":
    main()
