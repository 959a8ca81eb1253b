"""Where things are, for every test: the checkout, the real material beside it, the fetched
weights, the browser, the suite's artifacts folder."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

#: The checkout's root (app.py, pages/, gtzan_core/).
ROOT = Path(__file__).resolve().parents[2]
#: The tests' own small files (old records and runs).
TEST_DATA = ROOT / "tests" / "data"
#: The screenshots and server logs a failed browser test leaves (git-ignored).
ARTIFACTS = ROOT / "test-artifacts"
#: Debian's Chromium, which the browser tests drive (never a browser Playwright downloads).
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


#: Real material beside the checkout (read there, never copied into the repository).
SHARED_DATA = ROOT.parent / "shared" / "data"


#: Where the real musicnn weights are for the tests that use them: `.ci/run` fetches them
#: there (`python -m gtzan_core weights --fetch musicnn`, the default studio home's).
REAL_WEIGHTS = Path(os.environ.get("GTZAN_STUDIO_TEST_WEIGHTS", "~/.cache/gtzan-studio/weights")).expanduser()


#: What the repository ships in a starter's folder (the run store's own files beside them,
#: such as its lock or a checkpoint's hash memo, are the user's, and git ignores them).
SHIPPED_FILES = ("record.json", "model.pt", "MODEL_CARD.md")


