"""An idle studio started the README's way: server CPU with one idle tab on Home, from a
checkout with and without an in-tree virtualenv, under each file-watcher choice.

    python bench/idle_readme.py [--seconds 30] [--watchers auto,poll,none,config]

Each case copies the app's files (app.py, pages/, .streamlit/) into a fresh folder,
optionally beside a copy of the *folder tree* of this checkout's `.venv` (folders
only, the same 5,000-odd of them; 6,000 made-up ones when there is no `.venv`), and
runs `python -m streamlit run app.py` there (the project's `.streamlit/config.toml`
applies; a watcher other than ``config`` is passed as `--server.fileWatcherType`).
One headless Chromium tab opens Home and sits; after it settles, the server's CPU
seconds over ``--seconds`` (from /proc) are printed per 30 s. ``auto`` is Streamlit's
default, what the studio ran with before. A last case measures a server nobody visits
any more (one visitor opened Train, starting the job manager's worker, then left).
Last line: ``ratio:`` auto / config with the in-tree venv.
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, cpu_seconds, machine, stop_server, wait_until_healthy


def copy_tree_shape(src: Path, dst: Path) -> int:
    """Recreate the folders (not the files) of ``src`` under ``dst``; returns how many."""
    n = 0
    for dirpath, dirnames, _ in os.walk(src):
        rel = Path(dirpath).relative_to(src)
        (dst / rel).mkdir(parents=True, exist_ok=True)
        n += 1
    return n


def checkout(base: Path, venv: bool) -> tuple[Path, int]:
    root = base / ("with-venv" if venv else "plain")
    root.mkdir(parents=True)
    shutil.copy(ROOT / "app.py", root)
    shutil.copytree(ROOT / "pages", root / "pages", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / ".streamlit", root / ".streamlit")
    folders = 0
    if venv:
        if (ROOT / ".venv").is_dir():
            folders = copy_tree_shape(ROOT / ".venv", root / ".venv")
        else:
            for a in range(60):
                for b in range(100):
                    (root / ".venv" / f"pkg{a}" / f"mod{b}").mkdir(parents=True)
            folders = 6000
    return root, folders


def measure(root: Path, watcher: str, seconds: float, browser, home: Path, visitor_left: bool = False) -> float:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    flags = [] if watcher == "config" else ["--server.fileWatcherType", watcher]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GTZAN_STUDIO_HOME": str(home),
           "GTZAN_STUDIO_RUNS": str(home / "runs"), "GTZAN_STUDIO_DEMO_PER_GENRE": "2",
           "GTZAN_STUDIO_DEMO_SECONDS": "6.2", "GTZAN_STUDIO_OFFLINE": "1"}
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                               "--server.address", "127.0.0.1", *flags],
                              cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, server)
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        page.goto(url)
        page.get_by_text("synthetic demo").first.wait_for(timeout=120_000)
        if visitor_left:  # a visitor opened Train (the job manager starts) and closed the tab
            page.goto(f"{url}/train")
            page.get_by_role("heading", name="Train").wait_for(timeout=60_000)
            time.sleep(3)
            page.close()
        time.sleep(10)  # settled: demo built, watcher set up, a closed session let go
        a, t0 = cpu_seconds(server.pid)["server"], time.time()
        time.sleep(seconds)
        rate = (cpu_seconds(server.pid)["server"] - a) / (time.time() - t0)
        if not visitor_left:
            page.close()
        return rate
    finally:
        stop_server(server)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--watchers", default="auto,poll,none,config")
    args = ap.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("error: Debian's chromium is needed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="bench-idle-readme-"))
    results = {}
    try:
        trees = {venv: checkout(work, venv) for venv in (True, False)}
        print(f"machine: {machine()}")
        print(f"in-tree venv: {trees[True][1]} folders; {args.seconds:.0f} s per measurement", flush=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True,
                                        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            for venv in (True, False):
                for watcher in args.watchers.split(","):
                    rate = measure(trees[venv][0], watcher, args.seconds, browser, work / f"home-{venv}-{watcher}")
                    results[(venv, watcher)] = rate
                    label = "with an in-tree .venv" if venv else "no .venv in the folder"
                    print(f"{label:24s} watcher {watcher:6s}: server {rate * 30:6.2f} CPU-s per 30 s idle",
                          flush=True)
            rate = measure(trees[True][0], "config", args.seconds, browser, work / "home-left", visitor_left=True)
            print(f"{'with an in-tree .venv':24s} watcher config: server {rate * 30:6.2f} CPU-s per 30 s with no "
                  "visitor (one opened Train, then left)", flush=True)
            browser.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if (True, "auto") in results and (True, "config") in results:
        print(f"ratio: {results[(True, 'auto')] / max(results[(True, 'config')], 1e-9):.1f}")


if __name__ == "__main__":
    main()
