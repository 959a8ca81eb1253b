"""The browser tests' tools: Debian's Chromium under Playwright, the app served on a free
port, what a page's canvases drew, screenshots on failure."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .paths import ARTIFACTS, CHROMIUM, ROOT
from .processes import free_port, stop_process, wait_for_health

#: The page's main area, and the mark of a page whose script run has ended.
MAIN = "[data-testid=stMain]"
IDLE = '[data-test-script-state="notRunning"]'


@contextlib.contextmanager
def headless_chromium(*extra_args: str):
    """Debian's Chromium under Playwright, headless, closed afterwards; the test skips,
    saying why, when Playwright is not installed. ``extra_args``: more command-line
    switches (a fake microphone, say)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                          "--no-first-run", *extra_args])
        try:
            yield browser
        finally:
            browser.close()




#: Records every text a canvas draws: which grid (its element's ``st-key-``), the text, where, how wide, and
#: whether the grid's header canvas drew it (the cells have a canvas of their own).
RECORD_CANVAS_TEXT = """
(() => {
  window.__drawn = [];
  const fill = CanvasRenderingContext2D.prototype.fillText;
  CanvasRenderingContext2D.prototype.fillText = function (text, x, y, ...rest) {
    const c = this.canvas;
    const box = c.closest && c.closest('.stElementContainer');
    const key = box && (box.className.match(/st-key-([\\w-]+)/) || [])[1];
    window.__drawn.push({grid: key || null, text: String(text), x: x, y: y,
                         header: c.getAttribute('data-testid') !== 'data-grid-canvas',
                         width: this.measureText(String(text)).width, canvas: c.clientWidth});
    return fill.call(this, text, x, y, ...rest);
  };
})();
"""


@contextlib.contextmanager
def shots_on_failure(context, name: str):
    """On a failure, a screenshot of every page of ``context`` (the test's evidence)."""
    try:
        yield
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)
        for k, p in enumerate(context.pages):
            with contextlib.suppress(Exception):
                p.screenshot(path=str(ARTIFACTS / f"seen-{name}-{k}.png"), full_page=True)
        raise


def drawn(page, grid: str | None = None) -> list[dict]:
    """The texts the page's canvases drew (of the grid with key ``grid`` only, if given)."""
    return [d for d in page.evaluate("window.__drawn") if grid is None or d["grid"] == grid]


def settle(page, timeout: float = 60_000) -> None:
    """The script run has ended (the page is drawn)."""
    page.locator(IDLE).wait_for(state="attached", timeout=timeout)



@contextlib.contextmanager
def streamlit_server(fake_jobs: Path | None = None, **env_extra):
    """`streamlit run app.py` on a free localhost port; yields its URL. The server's output
    goes to a file, never to an unread pipe: a server that logs more than a pipe holds
    (64 KiB) would block mid-run and look like a page that ignores clicks. Its tail is
    printed when the test fails. With ``fake_jobs`` (a folder) its jobs do not train but
    stop at known points until the test lets them go (tests/helpers/seen_server.py)."""
    port = free_port()
    env = {**os.environ, "GTZAN_STUDIO_DEMO_PER_GENRE": "4", "GTZAN_STUDIO_DEMO_SECONDS": "6.2", **env_extra}
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / f"server-{port}.log"
    start = [sys.executable, "-m", "streamlit"] if fake_jobs is None else \
        [sys.executable, str(ROOT / "tests" / "helpers" / "seen_server.py"), str(fake_jobs), "--fake-jobs", "--"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [*start, "run", "app.py", "--server.port", str(port), "--server.address",
             "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    if not wait_for_health(url, proc, 60):
        proc.kill()
        pytest.fail("streamlit did not start: " + log_path.read_text(errors="replace")[-2000:])
    try:
        yield url
    except BaseException:
        print(f"--- the server's output ({log_path}), last 4000 characters ---\n"
              + log_path.read_text(errors="replace")[-4000:], file=sys.stderr)
        raise
    finally:
        stop_process(proc)

