"""The library installs without its checkout: a wheel built from this tree, installed
into a fresh virtual environment, trains from a folder that is not the repository
(its recipes come packaged: ``gtzan_core/hparams.yaml``)."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.helpers import ROOT


def run(*cmd, **kw):
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=600, **kw)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel of this tree, built from a copy (the build leaves nothing in the checkout, and
    no earlier build's files can slip into it)."""
    src, out = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("wheel")
    for name in ("pyproject.toml", "README.md", "hparams.yaml"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "gtzan_core", src / "gtzan_core", symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    # no build isolation: the environment's setuptools, no package index needed
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", out, src, cwd=src)
    (path,) = out.glob("gtzan_studio-*.whl")
    return path


def test_the_wheel_carries_the_recipes_and_the_data_files(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for packaged in ("gtzan_core/hparams.yaml", "gtzan_core/data/paper_results.yaml",
                     "gtzan_core/data/fault_filtered/train.txt", "gtzan_core/spectrogram/magma.csv",
                     "gtzan_core/classroom/confusables.txt"):
        assert packaged in names
    recipes = zipfile.ZipFile(wheel).read("gtzan_core/hparams.yaml").decode()
    assert recipes == (ROOT / "hparams.yaml").read_text()  # the repository's file itself
    assert not any(n.startswith(("tests/", "pages/", "checkpoints/")) for n in names)


@pytest.mark.heavy
def test_installed_into_a_fresh_virtualenv_it_trains_outside_the_checkout(wheel, tmp_path):
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    target = Path(run(venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"
                      ).stdout.strip())
    # the wheel alone, no dependencies: those (torch, librosa...) come from this environment, by a .pth
    run(sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", target, wheel)
    (target / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "GTZAN_STUDIO_HPARAMS")}
    env.update(GTZAN_STUDIO_HOME=str(tmp_path / "home"), OMP_NUM_THREADS="1")
    python = venv / "bin" / "python"
    where = run(python, "-c", "import gtzan_core, gtzan_core.hparams as h; print(gtzan_core.__file__); "
                              "print(h.hparams_path())", cwd=work, env=env).stdout.split()
    assert all(Path(p).is_relative_to(target) for p in where)  # the installed copy, recipes included
    run(python, "-m", "gtzan_core", "synth", work / "demo", "--per-genre", "3", "--seconds", "6.2", cwd=work, env=env)
    out = run(python, "-m", "gtzan_core", "train", "mlp", "--data", work / "demo", "--epochs", "1", "--device", "cpu",
              "--allow-weak-split", "--runs", work / "runs", cwd=work, env=env).stdout
    assert "status finished" in out and "recipe paper, epochs 1" in out
    (record,) = [json.loads(p.read_text()) for p in (work / "runs").glob("*/record.json")]
    assert record["status"] == "finished" and record["config"]["lr"] == 1e-4  # the paper recipe's, from the wheel


def test_pyproject_carries_the_lower_bounds_of_requirements():
    """``pip install .`` allows no older version than ``pip install -r requirements.txt``
    (whose lowest versions pass the fast tier: CONTRIBUTING.md, "Checking the lowest versions"):
    each of pyproject's dependencies has requirements.txt's specifier, torch and
    torchvision (pinned there) the pinned version as their lower bound."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    from packaging.requirements import Requirement

    def parse(lines):
        return {r.name.lower(): r.specifier for r in map(Requirement, lines)}

    lines = [ln.split("#")[0].strip() for ln in (ROOT / "requirements.txt").read_text().splitlines()]
    pinned = parse(ln for ln in lines if ln)
    declared = parse(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])
    assert set(declared) == set(pinned) - {"pytest", "pytest-xdist", "hypothesis"}  # the tests' own stay out of the package
    for name, spec in declared.items():
        want = str(pinned[name])
        if name in ("torch", "torchvision"):
            want = want.replace("==", ">=")
        assert str(spec) == want, (name, str(spec), want)
        assert any(s.operator in (">=", "==") for s in spec), name  # every dependency has a lower bound
