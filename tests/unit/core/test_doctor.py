"""``python -m gtzan_core doctor``: one line a check, exit 0 when the README's promises
hold; Home shows the same checks to whoever runs the instance."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gtzan_core import doctor
from tests.helpers import ROOT

NAMES = {"python", "torch", "numba cache", "run store", "studio home", "starters", "musicnn", "onnx", "onnxruntime",
         "ray", "playwright", "matplotlib", "hadolint", "chromium"}


@pytest.mark.heavy
def test_the_doctor_prints_one_line_a_check_and_says_whether_the_promises_hold(tmp_path):
    env = {**__import__("os").environ, "GTZAN_STUDIO_HOME": str(tmp_path / "home"),
           "GTZAN_STUDIO_RUNS": str(tmp_path / "runs")}
    out = subprocess.run([sys.executable, "-m", "gtzan_core", "doctor", "--json"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    report = json.loads(out.stdout)
    found = {c["name"]: c for c in report["checks"]}
    assert set(found) == NAMES
    required = {n for n, c in found.items() if c["required"]}
    assert required == {"python", "torch", "numba cache", "run store", "studio home", "starters"}
    assert report["ok"] == all(found[n]["ok"] for n in required) and out.returncode == (0 if report["ok"] else 1)
    assert found["numba cache"]["ok"], found["numba cache"]  # the suite's own cache is whole (conftest warmed it)
    assert str(tmp_path / "runs") in found["run store"]["detail"] and "writable" in found["run store"]["detail"]
    text = subprocess.run([sys.executable, "-m", "gtzan_core", "doctor"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600).stdout.splitlines()
    assert len(text) == len(NAMES) + 1 and text[-1] in ("all the README's promises hold here",) \
        or text[-1].startswith("not as the README promises: ")


def test_a_run_store_that_cannot_be_written_fails_its_check(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    check = doctor._writable("run store", blocker / "runs")
    assert not check.ok and check.required and "not writable" in check.detail
    assert check.line().startswith("FAIL run store")
    assert not doctor.all_ok([check])


def test_an_absent_extra_says_what_it_enables_and_how_to_get_it(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnx" else real(name, *a))
    onnx = next(c for c in doctor._extras() if c.name == "onnx")
    assert not onnx.ok and not onnx.required
    assert "absent" in onnx.detail and "pip install onnx onnxruntime" in onnx.detail
    assert onnx.line().startswith("--")
    assert doctor.all_ok([onnx])  # an optional extra breaks no promise


@pytest.mark.heavy
def test_home_shows_the_checks_to_the_one_who_runs_the_instance(demo_app):
    at = demo_app()
    at.run(timeout=120)
    assert not at.exception
    panel = next(e for e in at.expander if "This machine" in e.label)
    panel.button(key="machine-check").click()
    at.run(timeout=300)
    assert not at.exception
    panel = next(e for e in at.expander if "This machine" in e.label)
    table = panel.dataframe[0].value
    assert set(table["check"]) == NAMES
    assert any("promises" in m.value for m in [*panel.success, *panel.error])


@pytest.mark.heavy
def test_a_classs_visitor_does_not_see_the_machine(demo_app, monkeypatch):
    monkeypatch.setenv("GTZAN_STUDIO_MODE", "classroom")
    monkeypatch.setenv("GTZAN_STUDIO_ADMIN_PASSWORD", "s3cret")
    at = demo_app()
    at.run(timeout=120)
    assert not at.exception
    assert not any("This machine" in e.label for e in at.expander)
