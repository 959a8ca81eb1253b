"""Load on a shared instance: N visitors uploading on Predict while a job trains.

    python bench/load.py [--sessions 1,2,4,8] [--uploads 4] [--keep DIR]

Starts `streamlit run app.py` on a temporary studio home (a 100-track synthetic
demo set, two trained runs: MLP and CNN), starts one training job in the server (a
CNN, studio recipe, handed to the server's job manager like a queued job, for as
long as the benchmark runs), and for each N drives N concurrent headless browser sessions
(Playwright with Debian's Chromium, one context each) that upload a different
30 s clip on Predict, one after another, waiting each time for the result. It
prints upload -> probabilities latency p50/p95 per N (measured in the browser,
from the file chosen to the result's caption drawn; the server-side prediction
time is printed beside it) and the training job's epoch time without load and
under each N. Last line: ``p95: X`` for N=4.
"""

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _common import ROOT, machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values, q):
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


async def visitor(browser, url, clips, out):
    context = await browser.new_context(viewport={"width": 1300, "height": 1000})
    page = await context.new_page()
    await page.goto(url)
    await page.get_by_text("Device", exact=True).wait_for(timeout=120_000)  # Home has rendered
    await page.goto(f"{url}/predict")
    await page.locator("input[type=file]").wait_for(state="attached", timeout=120_000)
    for clip in clips:
        t0 = time.perf_counter()
        await page.locator("input[type=file]").set_input_files(str(clip))
        caption = page.get_by_text(f"{clip.name}:")
        await caption.wait_for(timeout=300_000)
        latency = time.perf_counter() - t0
        text = await caption.inner_text()
        server = float(text.rsplit("predicted in", 1)[1].split("s")[0]) if "predicted in" in text else float("nan")
        out.append((latency, server))
    await context.close()


async def drive(url, chromium, groups):
    from playwright.async_api import async_playwright

    results = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, headless=True,
                                          args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        await asyncio.gather(*(visitor(browser, url, clips, results) for clips in groups))
        await browser.close()
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", default="1,2,4,8")
    ap.add_argument("--uploads", type=int, default=4, help="uploads per session per N")
    ap.add_argument("--warmup", type=float, default=25.0, help="seconds of training alone first")
    ap.add_argument("--server-threads", type=int, help="OMP_NUM_THREADS for the app server (default: torch's)")
    ap.add_argument("--train-nice", type=int, help="GTZAN_STUDIO_TRAIN_NICE for the server (default: the studio's)")
    ap.add_argument("--keep", help="keep the work folder here")
    args = ap.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("error: Debian's chromium is needed (apt-get install chromium)")
    work = Path(args.keep or tempfile.mkdtemp(prefix="bench-load-"))
    env = {**os.environ, "GTZAN_STUDIO_HOME": str(work / "home"), "GTZAN_STUDIO_RUNS": str(work / "home" / "runs"),
           "GTZAN_STUDIO_DEMO_PER_GENRE": "10", "GTZAN_STUDIO_DEMO_SECONDS": "30", "GTZAN_STUDIO_OFFLINE": "1",
           "PYTHONUNBUFFERED": "1"}
    os.environ.update({k: env[k] for k in ("GTZAN_STUDIO_HOME", "GTZAN_STUDIO_RUNS", "GTZAN_STUDIO_DEMO_PER_GENRE",
                                            "GTZAN_STUDIO_DEMO_SECONDS", "GTZAN_STUDIO_OFFLINE")})
    import soundfile as sf

    from gtzan_core import GENRES
    from gtzan_core.data import open_dataset
    from gtzan_core.data.synth import synth_track
    from gtzan_core.feature_cache import load_features
    from gtzan_core.features import ImageParams
    from gtzan_core.hparams import make_config
    from gtzan_core.runs import RunStore
    from gtzan_core.training import train

    print(f"machine: {machine()}")
    ds = open_dataset(None)
    fs = load_features(ds, image=ImageParams(source="none"))
    store = RunStore()
    for model in ("mlp", "cnn"):
        train(make_config(model, recipe="studio", epochs=3, device="cpu"), fs, store, dataset_info=ds.run_info())
    sizes = [int(n) for n in args.sessions.split(",")]
    clips_dir = work / "clips"
    clips_dir.mkdir(exist_ok=True)
    plan = {}
    k = 0
    for n in sizes:
        plan[n] = []
        for s in range(n):
            group = []
            for i in range(args.uploads):
                path = clips_dir / f"clip-n{n}-s{s}-u{i}.wav"
                sf.write(path, synth_track(GENRES[k % 10], 30.0, seed=100 + k), 22050, subtype="PCM_16")
                group.append(path)
                k += 1
            plan[n].append(group)
    warm = clips_dir / "warm-up.wav"
    sf.write(warm, synth_track("jazz", 30.0, seed=99), 22050, subtype="PCM_16")
    print(f"tracks: {len(ds.tracks)}; runs: 2 (MLP, CNN); {k} clips of 30 s", flush=True)

    # the training job runs inside the app's server, as a visitor's would: queued in the
    # store by a manager that hands it over, and picked up by the server's job manager
    from gtzan_core.jobs import JobManager

    handover = JobManager(store, slots=0)
    job_id = handover.submit(make_config("cnn", recipe="studio", epochs=100000, patience=100000, device="cpu"),
                             owner="bench")
    handover.shutdown()
    port = free_port()
    server_env = {**env, **({"OMP_NUM_THREADS": str(args.server_threads)} if args.server_threads else {}),
                  **({"GTZAN_STUDIO_TRAIN_NICE": str(args.train_nice)} if args.train_nice is not None else {})}
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                               "--server.address", "127.0.0.1", "--server.headless", "true",
                               "--browser.gatherUsageStats", "false"], cwd=ROOT, env=server_env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    windows = {}
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.3)
        asyncio.run(drive(url, chromium, [[warm]]))  # the first upload loads the models: not measured
        deadline = time.time() + 120  # opening Home started the server's job manager, which resumes the job
        while time.time() < deadline and len(RunStore().read(job_id).get("history") or []) < 2:
            time.sleep(0.5)
        t_start = time.time()
        time.sleep(args.warmup)
        windows[0] = (t_start, time.time())
        rows = []
        for n in sizes:
            t0 = time.time()
            results = asyncio.run(drive(url, chromium, plan[n]))
            windows[n] = (t0, time.time())
            lat = [r[0] for r in results]
            srv = [r[1] for r in results]
            rows.append((n, len(lat), pct(lat, 0.5), pct(lat, 0.95), pct(srv, 0.5), pct(srv, 0.95)))
            print(f"N={n}: {len(lat)} uploads  latency p50 {pct(lat, 0.5):.2f} s  p95 {pct(lat, 0.95):.2f} s  "
                  f"(server-side p50 {pct(srv, 0.5):.2f} s, p95 {pct(srv, 0.95):.2f} s)", flush=True)
    finally:
        server.terminate()
        server.wait(20)
    record = RunStore().read(job_id)
    started = record.get("started") or t_start
    print("training job (CNN, studio recipe, 100-track demo set) epoch time:")
    for n, (a, b) in windows.items():
        epochs = [h["seconds"] for h in record.get("history", []) if a <= started + h["elapsed"] <= b]
        label = "alone" if n == 0 else f"N={n}"
        print(f"  {label:6s} median {statistics.median(epochs):.2f} s over {len(epochs)} epochs" if epochs
              else f"  {label:6s} no epoch finished in the window")
    single = next((r for r in rows if r[0] == 1), None)
    four = next((r for r in rows if r[0] == 4), None)
    (work / "bench-load.json").write_text(json.dumps({"rows": rows, "windows": windows}, indent=1))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    if single and four:
        print(f"p95 at N=4 / single-user p95: {four[3] / single[3]:.2f}")
    if four:
        print(f"p95: {four[3]:.2f}")


if __name__ == "__main__":
    main()
