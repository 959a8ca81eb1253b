#!/usr/bin/env bash
# Start GTZAN Genre Studio for a shared (hosted) instance.
#
# Everything the studio writes (demo set, feature cache, runs, pretrained weights)
# goes under one persistent folder, $GTZAN_STUDIO_DATA_DIR (default /data: mount a
# volume there), so a restart or redeploy keeps runs and the training queue.
#
# Settings (environment): PORT (8501), PYTHON (the interpreter, default python3) and the
# GTZAN_STUDIO_* variables, each declared once in gtzan_core/settings.py (name, type,
# default, help; docs/reference/settings.md): this script uses GTZAN_STUDIO_DATA_DIR,
# GTZAN_STUDIO_ADDRESS and the upload cap GTZAN_STUDIO_UPLOAD_MB, read and checked by
# gtzan_core.settings below (the Leaderboard's run-archive import has its own limit of 1.6 GB).
# tests/project/test_settings_declared.py checks that every name here is declared, with these defaults.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA_DIR="${GTZAN_STUDIO_DATA_DIR:-/data}"
export GTZAN_STUDIO_HOME="${GTZAN_STUDIO_HOME:-$DATA_DIR/studio}"
export GTZAN_STUDIO_RUNS="${GTZAN_STUDIO_RUNS:-$GTZAN_STUDIO_HOME/checkpoints}"
export TORCH_HOME="${TORCH_HOME:-$DATA_DIR/torch}"
# a shared server runs torch's CPU threads beside other work (visitors' predictions, the web server,
# a training job): idle OpenMP threads sleep instead of spinning (measured in bench/README.md, "Load")
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
if ! mkdir -p "$GTZAN_STUDIO_HOME" "$GTZAN_STUDIO_RUNS" "$TORCH_HOME" 2>/dev/null || [ ! -w "$GTZAN_STUDIO_HOME" ]; then
  echo "error: cannot write to $GTZAN_STUDIO_HOME (mount a writable volume at $DATA_DIR, owned by uid $(id -u))" >&2
  exit 2
fi

# a classroom's visitors never see Streamlit's developer options (Deploy, Rerun, Clear cache, the developer
# menu): its toolbar is the viewer's; personal mode keeps Streamlit's default (gtzan_core.classroom.rules.toolbar_mode).
# The upload cap is the declared setting's value (its default there), checked: a bad value stops here in one line.
STUDIO="$("${PYTHON:-python3}" - <<'PY'
import sys
from gtzan_core import settings
from gtzan_core.classroom.rules import toolbar_mode
from gtzan_core.errors import ConfigError
try:
    print(toolbar_mode(), settings.get("GTZAN_STUDIO_UPLOAD_MB"), settings.get("GTZAN_STUDIO_ADDRESS"))
except ConfigError as exc:
    sys.exit(f"error: {exc}")
PY
)" || exit 2
read -r TOOLBAR_MODE UPLOAD_MB ADDRESS <<< "$STUDIO"

echo "GTZAN Genre Studio: data in $DATA_DIR, port ${PORT:-8501}"
exec "${PYTHON:-python3}" -m streamlit run app.py \
  --server.port "${PORT:-8501}" \
  --server.address "$ADDRESS" \
  --server.headless true \
  --server.maxUploadSize "$UPLOAD_MB" \
  --server.enableXsrfProtection true \
  --server.enableCORS true \
  --server.fileWatcherType none \
  --client.toolbarMode "$TOOLBAR_MODE" \
  --browser.gatherUsageStats false
