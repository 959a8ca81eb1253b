"""The studio started the README's way (`streamlit run app.py` from a checkout): an idle
tab costs next to no CPU whatever sits in the folder, and a bookmarked page URL as the
first request of a fresh server still gets the app's navigation and wide layout."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import CHROMIUM, ROOT, free_port, headless_chromium, stop_process, wait_for_health

PAGES = ["Home", "Train", "Compare", "Reproduction", "Predict", "Dataset", "Leaderboard"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)"),
]


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads) from /proc."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(cwd: Path, *flags: str) -> tuple[subprocess.Popen, str]:
    """`python -m streamlit run app.py` in ``cwd`` as the README says (its .streamlit/config.toml
    applies), on a free localhost port."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GTZAN_STUDIO_DEMO_PER_GENRE": "2",
           "GTZAN_STUDIO_DEMO_SECONDS": "6.2"}
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1", *flags],
                            cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    if not wait_for_health(url, proc, 60):
        stop_process(proc)
        pytest.fail("streamlit did not start")
    return proc, url


@pytest.fixture
def chromium():
    with headless_chromium() as browser:
        yield browser


@pytest.fixture
def checkout_with_a_big_tree(tmp_path):
    """The app's files in a fresh folder beside 6,000 folders, the size of an in-tree `.venv`
    (this project's own has ~5,200)."""
    root = tmp_path / "checkout"
    root.mkdir()
    shutil.copy(ROOT / "app.py", root)
    shutil.copytree(ROOT / "pages", root / "pages", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / ".streamlit", root / ".streamlit")
    for a in range(60):
        for b in range(100):
            (root / ".venv" / "lib" / f"pkg{a}" / f"mod{b}").mkdir(parents=True)
    return root


@pytest.mark.parametrize("watcher", [
    pytest.param((), id="the-project-config"),
    # Streamlit's default event watcher schedules inotify recursively on the app's folder: the queue
    # overflows and the observer rescans for ever (~1 CPU-s/s). Kept as proof the test sees the cause.
    pytest.param(("--server.fileWatcherType", "auto"), id="streamlit-default-watcher", marks=pytest.mark.slow),
])
def test_an_idle_tab_costs_next_to_no_cpu_beside_a_big_folder_tree(checkout_with_a_big_tree, chromium, watcher):
    proc, url = start_server(checkout_with_a_big_tree, *watcher)
    try:
        page = chromium.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{url}/leaderboard")
        page.get_by_role("heading", name="Leaderboard").wait_for(timeout=60_000)
        page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')", timeout=60_000)
        time.sleep(3)  # the watcher set up, the page settled
        before, t0 = process_cpu_seconds(proc.pid), time.monotonic()
        time.sleep(6)
        rate = (process_cpu_seconds(proc.pid) - before) / (time.monotonic() - t0)
    finally:
        stop_process(proc)
    if watcher:  # (the reference: only a machine where the cause shows can show that the test sees it)
        if rate <= 0.5:
            import streamlit

            pytest.skip(f"Streamlit {streamlit.__version__}'s default watcher does not burn a core beside this "
                        f"tree on this machine ({rate:.3f} CPU-s/s): no cause here for the test to see")
    else:
        assert rate < 0.15, f"an idle tab costs the server {rate:.3f} CPU-s/s"


@pytest.mark.parametrize("path", ["/train?who=alice", "/leaderboard"])
def test_a_page_url_as_the_first_request_shows_the_apps_navigation(chromium, path):
    proc, url = start_server(ROOT)  # a fresh server: no visitor has loaded the root yet
    try:
        page = chromium.new_page(viewport={"width": 1400, "height": 900})
        page.goto(url + path)
        title = "Train" if path.startswith("/train") else "Leaderboard"
        page.get_by_role("heading", name=title).wait_for(timeout=60_000)
        nav = page.locator("[data-testid=stSidebarNav] a")
        nav.nth(5).wait_for(timeout=30_000)
        assert [t.split("\n")[-1].strip() for t in nav.all_inner_texts()] == PAGES
        assert page.url.endswith(path)  # still the bookmarked page, ?who= kept
        # the wide layout: the main block spans the window, not Streamlit's 736 px column
        assert page.locator("[data-testid=stMainBlockContainer]").bounding_box()["width"] > 1000
    finally:
        stop_process(proc)
