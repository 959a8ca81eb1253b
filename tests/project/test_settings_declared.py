"""Issue 43, item 2: every environment variable the studio reads is declared once, in
``gtzan_core/settings.py`` (name, type, default, help): the code's, the deploy scripts' and
Streamlit's config's names are all declared, their defaults there agree with the declaration,
and the upload cap has one value (``GTZAN_STUDIO_UPLOAD_MB``): start.sh passes the declared
setting's value to Streamlit and ``.streamlit/config.toml`` holds the same default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gtzan_core.settings import SETTINGS
from tests.helpers import ROOT, start_script_dry

NAME = re.compile(r"GTZAN_STUDIO_[A-Z0-9_]*[A-Z0-9]")


def _files() -> list[Path]:
    code = [*sorted((ROOT / "gtzan_core").rglob("*.py")), *sorted((ROOT / "pages").glob("*.py")), ROOT / "app.py"]
    return [*code, *sorted(p for p in (ROOT / "deploy").iterdir() if p.is_file()), ROOT / ".streamlit" / "config.toml"]


def test_every_variable_the_code_and_the_deploy_scripts_name_is_declared():
    undeclared = {f"{path.relative_to(ROOT)}: {name}" for path in _files()
                  for name in NAME.findall(path.read_text(errors="replace")) if name not in SETTINGS}
    assert sorted(undeclared) == []
    start = (ROOT / "deploy" / "start.sh").read_text()
    assert {"GTZAN_STUDIO_DATA_DIR", "GTZAN_STUDIO_ADDRESS", "GTZAN_STUDIO_UPLOAD_MB"} <= set(NAME.findall(start))


def test_the_deploy_scripts_defaults_are_the_declared_ones():
    seen = []
    for path in (ROOT / "deploy" / "start.sh", ROOT / "deploy" / "Dockerfile"):
        text = path.read_text()
        # ${GTZAN_STUDIO_X:-literal} in the script, GTZAN_STUDIO_X=literal in the image's ENV
        for name, literal in [*re.findall(r"\$\{(GTZAN_STUDIO_\w+):-([^$}]+)\}", text),
                              *re.findall(r"^\s*(GTZAN_STUDIO_\w+)=(\S+?)\s*\\?$", text, re.M)]:
            seen.append(name)
            assert literal == str(SETTINGS[name].default), f"{path.name}: {name} defaults to {literal}"
    assert "GTZAN_STUDIO_DATA_DIR" in seen
    assert not re.search(r"maxUploadSize\s+\"?\d", (ROOT / "deploy" / "start.sh").read_text()), \
        "start.sh passes the declared upload cap, never a number of its own"


def test_streamlits_upload_cap_is_the_declared_one():
    tomllib = pytest.importorskip("tomllib", reason="Python 3.11+ reads TOML")
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == SETTINGS["GTZAN_STUDIO_UPLOAD_MB"].default


@pytest.mark.heavy
@pytest.mark.parametrize("given,passed", [(None, str(SETTINGS["GTZAN_STUDIO_UPLOAD_MB"].default)), ("7", "7")])
def test_start_passes_the_declared_upload_cap_to_streamlit(tmp_path, given, passed):
    out, argv = start_script_dry(tmp_path, **({} if given is None else {"GTZAN_STUDIO_UPLOAD_MB": given}))
    assert out.returncode == 0, out.stderr
    assert argv[argv.index("--server.maxUploadSize") + 1] == passed
    assert argv[argv.index("--server.address") + 1] == SETTINGS["GTZAN_STUDIO_ADDRESS"].default


@pytest.mark.heavy
def test_start_refuses_a_bad_upload_cap_in_one_line(tmp_path):
    out, argv = start_script_dry(tmp_path, GTZAN_STUDIO_UPLOAD_MB="lots")
    assert out.returncode == 2 and argv == []
    assert out.stderr.strip() == "error: GTZAN_STUDIO_UPLOAD_MB='lots': expected a whole number"
