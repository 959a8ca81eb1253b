"""Processes a test starts: a free port, a server's health, a clean stop."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from .paths import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_health(url: str, proc: subprocess.Popen, seconds: float) -> bool:
    """True once ``url``'s Streamlit health endpoint answers ok; False when ``proc`` exits or time runs out."""
    deadline = time.time() + seconds
    while time.time() < deadline and proc.poll() is None:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                return True
        except OSError:
            time.sleep(0.3)
    return False


def stop_process(proc: subprocess.Popen, grace: float = 10) -> None:
    """SIGTERM, then SIGKILL if it has not exited after ``grace`` seconds."""
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()


def start_script_dry(tmp_path: Path, **env_vars) -> tuple[subprocess.CompletedProcess, list[str]]:
    """deploy/start.sh with an interpreter whose ``-m streamlit`` only writes down what it was asked."""
    argv = tmp_path / "argv.txt"
    python = tmp_path / "python"
    python.write_text(f'#!/usr/bin/env bash\nif [ "$1" = -m ] && [ "$2" = streamlit ]; then\n'
                      f'  printf "%s\\n" "$@" > {argv}; exit 0\nfi\nexec {sys.executable} "$@"\n')
    python.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GTZAN_STUDIO_", "TORCH_HOME"))}
    env.update(GTZAN_STUDIO_DATA_DIR=str(tmp_path / "volume"), PYTHON=str(python), **env_vars)
    out = subprocess.run(["bash", str(ROOT / "deploy" / "start.sh")], capture_output=True, text=True, timeout=60,
                         env=env)
    return out, argv.read_text().splitlines() if argv.exists() else []
