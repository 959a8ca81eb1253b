"""The test suite's one helpers package: every test imports its tools from here (never from
another test file, and never from conftest.py, which holds the fixtures). One module a
concern; their names are re-exported here, so ``from tests.helpers import write_clip`` works.

- ``paths``: the checkout, the real material beside it, fetched weights, Chromium, artifacts
- ``processes``: a free port, a server's health, a clean stop
- ``polling``: waiting for a state, never for a time
- ``data``: clips, GTZAN-layout folders, feature tables, labelled folders, the planted-cue set,
  the shipped starters copied out of the checkout, one tiny training run
- ``cli``: the CLI called in-process
- ``models``: musicnn's TF1 bundles and wheel, a random musicnn, a squeezenet weights file
- ``archives``, ``audio_bombs``: hostile run archives and decode bombs (also used by bench/)
- ``browser``: Playwright on Debian's Chromium, the app on a free port, what canvases drew
- ``classroom``: a visitor's AppTest session (import it from ``tests.helpers.classroom``)
- ``seen_server.py``: a script, the server with its slow parts held (the browser tests)
"""

from __future__ import annotations

from .archives import (  # noqa: F401
                       MB,
                       bomb_archive,
                       import_growth,
                       incompressible_archive,
                       member,
                       renamed,
                       resigned,
                       write_zip,
                       zeros_member,
                       zip_of,
)
from .audio_bombs import decode_growth, write_bomb  # noqa: F401
from .browser import (  # noqa: F401
                       IDLE,
                       MAIN,
                       RECORD_CANVAS_TEXT,
                       drawn,
                       headless_chromium,
                       settle,
                       shots_on_failure,
                       streamlit_server,
)
from .cli import run  # noqa: F401
from .data import (  # noqa: F401
                       CUE,
                       SR,
                       copy_shipped_starters,
                       cue_clip,
                       labelled_folder,
                       make_gtzan,
                       real_musicnn_weights,
                       tone,
                       train_tiny_mlp,
                       write_clip,
                       write_cue_set,
                       write_table,
)
from .models import (  # noqa: F401
                       DATA_FILE,
                       fake_wheel,
                       random_musicnn,
                       tf_tensors,
                       write_checkpoint,
                       write_squeezenet_weights,
                       write_tf_table,
)
from .paths import ARTIFACTS, CHROMIUM, REAL_WEIGHTS, ROOT, SHARED_DATA, SHIPPED_FILES, TEST_DATA  # noqa: F401
from .polling import bounded, ended, wait_until  # noqa: F401
from .processes import free_port, start_script_dry, stop_process, wait_for_health  # noqa: F401
