"""Idle visitors: what open pages cost a shared server while nobody clicks.

    python bench/idle.py [--pages train,home,predict] [--visitors 1,4] [--runs 3] [--seconds 20]

Starts the server as a shared instance runs it (``deploy/start.sh``) on a temporary
studio home with ``--runs`` finished runs (an MLP on a small synthetic demo set),
opens N headless Chromium pages (one context each) on a page, lets them settle, and
measures the CPU seconds per second spent by the server and by the browsers over
``--seconds``. Pages with a live panel (Home's download state, Train's jobs) refresh
it on their own; nothing else happens. Last line: ``train idle: X``, the server's
CPU-s/s with the largest N on Train.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _common import cpu_seconds, machine, shared_server


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", default="train,home,predict")
    ap.add_argument("--visitors", default="1,4")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("error: Debian's chromium is needed (apt-get install chromium)")
    work = Path(tempfile.mkdtemp(prefix="bench-idle-"))
    env = {"GTZAN_STUDIO_HOME": str(work / "home"), "GTZAN_STUDIO_RUNS": str(work / "home" / "runs"),
           "GTZAN_STUDIO_DEMO_PER_GENRE": "4", "GTZAN_STUDIO_DEMO_SECONDS": "30", "GTZAN_STUDIO_OFFLINE": "1"}
    os.environ.update(env)
    from gtzan_core.data import open_dataset
    from gtzan_core.feature_cache import load_features
    from gtzan_core.features import ImageParams
    from gtzan_core.hparams import make_config
    from gtzan_core.runs import RunStore
    from gtzan_core.jobs import train
    from playwright.sync_api import sync_playwright

    print(f"machine: {machine()}")
    ds = open_dataset(None)
    fs = load_features(ds, image=ImageParams(source="none"))
    for _ in range(args.runs):
        train(make_config("mlp", recipe="studio", epochs=2, device="cpu"), fs, RunStore(), dataset_info=ds.run_info())
    print(f"{args.runs} finished runs; {args.seconds:.0f} s per measurement", flush=True)
    last = None
    try:
        with shared_server(work, dict(os.environ)) as (server, url), sync_playwright() as p:
            for name in args.pages.split(","):
                for n in (int(v) for v in args.visitors.split(",")):
                    browser = p.chromium.launch(executable_path=chromium, headless=True,
                                                args=["--no-sandbox", "--disable-gpu",
                                                      "--disable-background-networking"])
                    for _ in range(n):
                        page = browser.new_context(viewport={"width": 1300, "height": 1000}).new_page()
                        page.goto(f"{url}/{name}")
                    time.sleep(10)  # pages drawn, models and plotly.js loaded
                    a, t0 = cpu_seconds(server.pid), time.time()
                    time.sleep(args.seconds)
                    z, dt = cpu_seconds(server.pid), time.time() - t0
                    browser.close()
                    srv, brw = (z["server"] - a["server"]) / dt, (z["browsers"] - a["browsers"]) / dt
                    print(f"{name:8s} {n} visitor(s): server {srv:.3f} CPU-s/s, browsers {brw:.3f} CPU-s/s",
                          flush=True)
                    if name == "train":
                        last = srv
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if last is not None:
        print(f"train idle: {last:.3f}")


if __name__ == "__main__":
    main()
