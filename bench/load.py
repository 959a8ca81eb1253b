"""Load on a shared instance: N visitors uploading on Predict while a job trains.

    python bench/load.py [--sessions 1,2,4,8] [--uploads 8] [--baseline] [--breakdown] [--keep DIR]

Starts the server as a shared instance runs it (``deploy/start.sh``) on a temporary
studio home (a 100-track synthetic demo set, two trained runs: MLP and CNN), starts
one training job in the server (a CNN, studio recipe, handed to the server's job
manager like a queued job, for as long as the benchmark runs), and for each N drives
N concurrent headless browser sessions (Playwright with Debian's Chromium, one
context each) that open Predict and upload a different 30 s clip, one after another:
each upload waits for the probabilities chart, then for the page's script run to end
(a visitor reads the result before the next upload).

Latency is measured in the browser, from the file chosen to this upload's
probabilities chart drawn (``--breakdown`` splits it into upload, script until the
chart's message reaches the browser, and drawing; the listeners that needs cost CPU).
Each session's first upload is reported on its own: it is the one where the fresh
page loads the chart library (4.7 MB of plotly.js), so it measures N browsers starting
at once rather than the server; the later uploads (started together once every page
has had its first) are the steady state the target is about. Also printed: the
server-side prediction time (from the page's caption), the CPU seconds per later
upload spent by the browsers, the server (its training job included) and the
harness, and the training job's epoch time alone and under each N. ``--baseline``
repeats everything with Streamlit's default full garbage collection after every
script run, which the app's config turns off. Last line: ``p95: X`` for the later
uploads at N=4.
"""

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import cpu_seconds, machine, shared_server


def pct(values, q):
    values = sorted(v for v in values if v == v)  # NaN: a mark that was not seen
    if not values:
        return float("nan")
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


DONE = """name => !!document.querySelector('.st-key-probs[data-stale="false"] .js-plotly-plot')
    && [...document.querySelectorAll('[data-testid="stCaptionContainer"]')].some(e => e.textContent.startsWith(name))"""
IDLE = """() => !!document.querySelector('[data-test-script-state="notRunning"]')"""


async def visitor(browser, url, clips, out, breakdown, barrier):
    context = await browser.new_context(viewport={"width": 1300, "height": 1000})
    page = await context.new_page()
    marks = {}  # clip name -> perf_counter of: upload request done, result's message received

    def on_request(request):
        if "/_stcore/upload_file" in request.url and request.method == "PUT":
            marks["uploaded"] = time.perf_counter()

    def on_frame(payload):
        if isinstance(payload, bytes) and b"ensemble (mean)" in payload:  # the probabilities chart
            marks.setdefault("received", time.perf_counter())

    if breakdown:  # every websocket frame then crosses into this process: costs CPU the visitors share
        page.on("requestfinished", on_request)
        page.on("websocket", lambda ws: ws.on("framereceived", on_frame))
    await page.goto(url)
    await page.get_by_text("Device", exact=True).wait_for(timeout=120_000)  # Home has rendered
    await page.goto(f"{url}/predict")
    await page.locator("input[type=file]").wait_for(state="attached", timeout=120_000)
    for i, clip in enumerate(clips):
        marks.clear()
        t0 = time.perf_counter()
        await page.locator("input[type=file]").set_input_files(str(clip))
        # this upload's caption and probabilities chart (the previous upload's stay on screen, marked stale,
        # until replaced), polled every 25 ms with two cheap selectors: Playwright's own text waits re-scan
        # the page on every animation frame, which costs the CPU the visitors share
        await page.wait_for_function(DONE, arg=f"{clip.name}:", polling=25, timeout=300_000)
        t1 = time.perf_counter()
        caption = page.locator('[data-testid="stCaptionContainer"]', has_text=f"{clip.name}:")
        text = await caption.inner_text()
        server = float(text.rsplit("predicted in", 1)[1].split("s")[0]) if "predicted in" in text else float("nan")
        up = marks.get("uploaded", float("nan")) - t0
        rx = marks.get("received", float("nan"))
        # upload: file chosen -> upload request finished; script: -> the result's message received;
        # draw: -> the probabilities chart is on screen
        out.append((t1 - t0, server, up, rx - t0 - up, t1 - rx, i == 0))
        # a visitor reads the result before the next upload: wait until the page's script run has ended
        await page.wait_for_function(IDLE, polling=25, timeout=300_000)
        if i == 0:  # the later uploads start together, once every page has loaded its charts
            await barrier.wait()


async def drive(url, chromium, groups, breakdown=False, server_pid=None):
    """Run the visitors; with ``server_pid`` also return the CPU seconds spent (see cpu_seconds)."""
    from playwright.async_api import async_playwright

    results = []
    barrier = asyncio.Barrier(len(groups) + 1)

    async def steady():  # CPU spent from the moment every page has had its first upload
        await barrier.wait()
        return cpu_seconds(server_pid or -1)

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, headless=True,
                                          args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        before, *_ = await asyncio.gather(steady(), *(visitor(browser, url, clips, results, breakdown, barrier)
                                                      for clips in groups))
        after = cpu_seconds(server_pid or -1)  # the pages are still open: their renderers count
        await browser.close()
    return results, {k: after[k] - before[k] for k in after}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", default="1,2,4,8")
    ap.add_argument("--uploads", type=int, default=8, help="uploads per session per N, after the first")
    ap.add_argument("--warmup", type=float, default=25.0, help="seconds of training alone first")
    ap.add_argument("--server-threads", type=int, help="OMP_NUM_THREADS for the app server (default: torch's)")
    ap.add_argument("--train-nice", type=int, help="GTZAN_STUDIO_TRAIN_NICE for the server (default: the studio's)")
    ap.add_argument("--breakdown", action="store_true",
                    help="split each latency into upload / script / drawing (the listeners this needs cost CPU)")
    ap.add_argument("--baseline", action="store_true",
                    help="then the same again with Streamlit's default gc.collect after every script run")
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
    from gtzan_core.jobs import train

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
            for i in range(args.uploads + 1):  # + the first one, reported on its own
                path = clips_dir / f"clip-n{n}-s{s}-u{i}.wav"
                sf.write(path, synth_track(GENRES[k % 10], 30.0, seed=100 + k), 22050, subtype="PCM_16")
                group.append(path)
                k += 1
            plan[n].append(group)
    warm = clips_dir / "warm-up.wav"
    sf.write(warm, synth_track("jazz", 30.0, seed=99), 22050, subtype="PCM_16")
    print(f"tracks: {len(ds.tracks)}; runs: 2 (MLP, CNN); {k} clips of 30 s", flush=True)

    configs = [("studio settings", {})]
    if args.baseline:  # the same run with Streamlit's default full collection after every script run
        configs.append(("Streamlit's post-run gc.collect on", {"STREAMLIT_RUNNER_POST_SCRIPT_GC": "true"}))
    server_env = {**env, **({"OMP_NUM_THREADS": str(args.server_threads)} if args.server_threads else {}),
                  **({"GTZAN_STUDIO_TRAIN_NICE": str(args.train_nice)} if args.train_nice is not None else {})}
    summary = {}
    for label, extra in configs:
        print(f"--- {label}", flush=True)
        rows, uploads = measure(args, chromium, work, store, {**server_env, **extra}, sizes, plan, warm)
        summary[label] = rows
        (work / f"bench-load-{len(summary)}.json").write_text(json.dumps({"rows": rows, "uploads": uploads}, indent=1))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    if args.baseline:
        base, ours = summary[configs[1][0]], summary[configs[0][0]]
        for (n, *b), (_, *o) in zip(base, ours):
            print(f"N={n}: p50 {b[1]:.2f} -> {o[1]:.2f} s ({b[1] / o[1]:.2f}x), p95 {b[2]:.2f} -> {o[2]:.2f} s "
                  f"({b[2] / o[2]:.2f}x) with the post-run collection off")
    rows = summary[configs[0][0]]
    single = next((r for r in rows if r[0] == 1), None)
    four = next((r for r in rows if r[0] == 4), None)
    if single and four:
        print(f"first upload in a new page, p50 at N=4 / single-user: {four[6] / single[6]:.2f}")
        print(f"p95 at N=4 / single-user p95 (later uploads): {four[3] / single[3]:.2f}")
    if four:
        print(f"p95: {four[3]:.2f}")


def measure(args, chromium, work, store, server_env, sizes, plan, warm):
    """One server (deploy/start.sh) with one training job in it; the uploads for every N."""
    from gtzan_core.hparams import make_config
    from gtzan_core.jobs import JobManager
    from gtzan_core.runs import RunStore

    # the training job runs inside the app's server, as a visitor's would: queued in the
    # store by a manager that hands it over, and picked up by the server's job manager
    handover = JobManager(store, slots=0)
    job_id = handover.submit(make_config("cnn", recipe="studio", epochs=100000, patience=100000, device="cpu"),
                             owner="bench")
    handover.shutdown()
    windows = {}
    rows, uploads = [], {}
    t_start = time.time()
    with shared_server(work, server_env) as (server, url):
        asyncio.run(drive(url, chromium, [[warm]]))  # the first upload loads the models: not measured
        deadline = time.time() + 120  # opening Home started the server's job manager, which resumes the job
        while time.time() < deadline and len(RunStore().read(job_id).get("history") or []) < 2:
            time.sleep(0.5)
        t_start = time.time()
        time.sleep(args.warmup)
        windows[0] = (t_start, time.time())
        for n in sizes:
            t0 = time.time()
            results, cpu = asyncio.run(drive(url, chromium, plan[n], args.breakdown, server.pid))
            uploads[n] = results
            windows[n] = (t0, time.time())
            cpu = {k: v / max(1, len(results) - n) for k, v in cpu.items()}  # per later upload
            later = [r for r in results if not r[5]]
            first = [r[0] for r in results if r[5]]
            lat, srv, up, script, draw = ([r[i] for r in later] for i in range(5))
            rows.append((n, len(lat), pct(lat, 0.5), pct(lat, 0.95), pct(srv, 0.5), pct(srv, 0.95),
                         pct(first, 0.5), max(first)))
            print(f"N={n}: {len(lat)} uploads  latency p50 {pct(lat, 0.5):.2f} s  p95 {pct(lat, 0.95):.2f} s  "
                  f"(server-side p50 {pct(srv, 0.5):.2f} s, p95 {pct(srv, 0.95):.2f} s)", flush=True)
            if args.breakdown:
                print(f"       where it goes, p50 / p95: upload {pct(up, 0.5):.2f} / {pct(up, 0.95):.2f} s, "
                      f"script {pct(script, 0.5):.2f} / {pct(script, 0.95):.2f} s, "
                      f"drawing {pct(draw, 0.5):.2f} / {pct(draw, 0.95):.2f} s", flush=True)
            print(f"       first upload in each new page (loads plotly.js): p50 {pct(first, 0.5):.2f} s, "
                  f"max {max(first):.2f} s", flush=True)
            print(f"       CPU per later upload (both cores): browsers {cpu['browsers']:.2f} s, server "
                  f"{cpu['server']:.2f} s (its training job included), harness {cpu['harness']:.2f} s", flush=True)
    record = RunStore().read(job_id)
    started = record.get("started") or t_start
    print("training job (CNN, studio recipe, 100-track demo set) epoch time:")
    for n, (a, b) in windows.items():
        epochs = [h["seconds"] for h in record.get("history", []) if a <= started + h["elapsed"] <= b]
        label = "alone" if n == 0 else f"N={n}"
        print(f"  {label:6s} median {statistics.median(epochs):.2f} s over {len(epochs)} epochs" if epochs
              else f"  {label:6s} no epoch finished in the window")
    return rows, uploads


if __name__ == "__main__":
    main()
