import json
import subprocess
import sys

import pytest

from gtzan_core.cli import main
from tests.helpers import make_gtzan


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_synth_then_features(tmp_path, capsys):
    code, out, _ = run(capsys, "synth", str(tmp_path / "demo"), "--per-genre", "1", "--seconds", "3.2")
    assert code == 0 and "synthetic demo set" in out
    code, out, _ = run(capsys, "features", "--data", str(tmp_path / "demo"))
    assert code == 0
    assert "dataset: synthetic demo" in out and "tracks: 10   segments: 10" in out
    code, out, _ = run(capsys, "features", "--data", str(tmp_path / "demo"))
    assert "(cache hit)" in out


def test_features_on_gtzan_folder_names_skipped_files(tmp_path, capsys):
    root = make_gtzan(tmp_path / "g", "original", per_genre=1, seconds=3.5)
    (root / "genres" / "jazz" / "jazz.00003.au").write_bytes(b".snd garbage")
    code, out, _ = run(capsys, "features", "--data", str(root), "--json")
    summary = json.loads(out)
    assert code == 0 and summary["dataset"] == "GTZAN" and summary["extracted_tracks"] == 10
    assert summary["skipped"][0]["path"] == "genres/jazz/jazz.00003.au"
    assert summary["mfcc_shape"] == [10, 130, 13]


def test_default_dataset_is_the_synthetic_demo(capsys, monkeypatch):
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_PER_GENRE", "1")
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_SECONDS", "3.1")
    code, out, _ = run(capsys, "features")
    assert code == 0 and "dataset: synthetic demo" in out


@pytest.mark.parametrize("make,needle", [
    (lambda p: None, "no such folder"),
    (lambda p: p.mkdir(), "no GTZAN layout found"),
    (lambda p: (p / "genres" / "techno").mkdir(parents=True), "unknown genre folder(s) 'techno'"),
])
def test_bad_data_folder_exits_2_with_one_line(tmp_path, capsys, make, needle):
    target = tmp_path / "data"
    make(target)
    code, out, err = run(capsys, "features", "--data", str(target))
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0]


def test_synth_into_non_empty_folder(tmp_path, capsys):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "f").write_text("keep me")
    code, _, err = run(capsys, "synth", str(tmp_path / "x"))
    assert code == 2 and "not empty" in err
    assert (tmp_path / "x" / "f").read_text() == "keep me"


@pytest.mark.heavy
def test_module_entry_point_usage_error_has_no_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "gtzan_core", "features", "--data", str(tmp_path / "missing")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"error: {tmp_path / 'missing'}: no such folder"
    proc = subprocess.run([sys.executable, "-m", "gtzan_core", "bogus"], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and len(proc.stderr.splitlines()) == 1
