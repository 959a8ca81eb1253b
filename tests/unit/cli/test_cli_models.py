"""CLI: train, evaluate, predict, runs (on a tiny demo set)."""

import json

import pytest

from tests.helpers import run, write_clip


@pytest.fixture
def tiny_demo_env(monkeypatch):
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_PER_GENRE", "4")
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_SECONDS", "6.2")


@pytest.mark.heavy
def test_train_evaluate_predict_runs(tiny_demo_env, tmp_path, capsys):
    code, out, _ = run(capsys, "train", "cnn", "--epochs", "2", "--device", "cpu", "--allow-weak-split")
    assert code == 0
    assert "cnn on synthetic demo, protocol track" in out and "test segment accuracy" in out
    run_id = out.split("run ")[1].split(":")[0]

    code, out, _ = run(capsys, "evaluate", run_id, "--json")
    ev = json.loads(out)
    assert code == 0 and ev["run_id"] == run_id and 0 <= ev["evaluation"]["track"]["accuracy"] <= 1

    code, out, _ = run(capsys, "evaluate", run_id)
    assert "segment-level report:" in out and "macro avg" in out

    mp3 = write_clip(tmp_path / "my song.mp3", "disco", seconds=8.0)
    stereo = write_clip(tmp_path / "stereo44k.wav", "rock", seconds=8.0, sr=44100, channels=2)
    for clip in (mp3, stereo):
        code, out, _ = run(capsys, "predict", str(clip), "--run", run_id, "--json")
        res = json.loads(out)[run_id]
        assert code == 0 and res["model"] == "cnn" and res["top"] in res["probabilities"]
        assert sum(res["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)

    code, out, _ = run(capsys, "runs", "--json")
    rows = json.loads(out)
    assert code == 0 and rows[0]["run_id"] in (run_id, "paper:cnn")
    assert {r["run_id"] for r in rows} >= {run_id, "paper:cnn", "paper:vgg19"}

    code, out, _ = run(capsys, "runs", "--delete", run_id)
    assert code == 0 and "to the trash" in out
    code, out, _ = run(capsys, "runs", "--no-paper")
    assert out.strip() == "no runs yet"


@pytest.mark.heavy
def test_train_image_model_warns_about_missing_weights(tiny_demo_env, capsys):
    code, out, err = run(capsys, "train", "squeezenet", "--epochs", "1", "--device", "cpu",
                         "--allow-weak-split")
    assert code == 0 and "ImageNet (IMAGENET1K_V1) weights not found" in err and "random initialisation" in err


@pytest.mark.parametrize("argv,needle", [
    (["train", "transformer"], "invalid choice: 'transformer'"),
    (["train", "cnn", "--epochs", "0"], "epochs must be between 1 and 10000"),
    (["train", "cnn", "--protocol", "filtered", "--epochs", "1"], "fault-filtered split needs real GTZAN"),
    (["evaluate", "no-such-run"], "no run 'no-such-run'"),
    (["evaluate", "../../etc"], "invalid run id"),
    (["predict", "/no/such/file.wav"], "no such file"),
    (["runs", "--delete", "ghost"], "no run 'ghost'"),
])
def test_cli_errors_are_one_line(tiny_demo_env, capsys, argv, needle):
    code, out, err = run(capsys, *argv)
    assert code == 2 and "Traceback" not in err
    line = err.strip().splitlines()[-1]  # progress bars may precede it on stderr
    assert line.startswith("error: ") and needle in line


def test_predict_without_runs_and_with_non_audio(tiny_demo_env, tmp_path, capsys):
    clip = write_clip(tmp_path / "c.wav", "pop", seconds=4.0)
    code, _, err = run(capsys, "predict", str(clip))
    assert code == 2 and "no trained runs" in err
    fake = tmp_path / "fake.wav"
    fake.write_text("hello")
    code, _, err = run(capsys, "predict", str(fake))
    assert code == 2 and err.strip().startswith("error: fake.wav: not a readable audio file")


@pytest.mark.heavy
def test_image_runs_record_their_pictures_and_predict_without_a_false_warning(tmp_path, capsys):
    """Trained on the dataset's PNGs or on drawn pictures, a run sees Kaggle-style pictures of
    uploads: no warning either way (tests/unit/spectrogram/test_pictures.py covers the old style's warning)."""
    from tests.helpers import make_gtzan

    data = make_gtzan(tmp_path / "kaggle", per_genre=4, seconds=3.2, images=True)
    runs = tmp_path / "runs"
    clip = write_clip(tmp_path / "c.wav", "rock", 4.0)
    ids = {}
    for source in ("auto", "render"):
        code, out, err = run(capsys, "train", "squeezenet", "--data", data, "--epochs", "1", "--device", "cpu",
                             "--runs", runs, "--image-source", source, "--allow-weak-split")
        assert code == 0, err
        ids[source] = out.split("run ")[1].split(":")[0]
    for source, sources in (("auto", {"png": 40}), ("render", {"render": 40})):
        code, out, err = run(capsys, "predict", clip, "--run", ids[source], "--runs", runs)
        assert code == 0 and "PNG" not in err and "warning" not in err
        record = json.loads((runs / ids[source] / "record.json").read_text())
        assert record["image_sources"] == sources and record["image_params"]["source"] == source
        assert record["image_params"]["style"] == "kaggle"


def test_filtered_protocol_end_to_end_on_a_gtzan_layout(tmp_path, capsys):
    """Tracks named like GTZAN's: the artist-filtered split assigns them by id."""
    from gtzan_core import GENRES
    from gtzan_core.splits import fault_filtered_lists

    lists = fault_filtered_lists()
    root = tmp_path / "gtzan" / "genres"
    chosen = {part: [] for part in lists}
    for part, ids in lists.items():
        for genre in GENRES:
            for tid in [t for t in ids if t.startswith(genre + ".")][:2]:
                write_clip(root / genre / f"{tid}.au", genre, 3.2, index=int(tid[-5:]))
                chosen[part].append(tid)
    runs = tmp_path / "runs"
    code, out, err = run(capsys, "train", "mlp", "--data", tmp_path / "gtzan", "--protocol", "filtered",
                         "--epochs", "2", "--device", "cpu", "--runs", runs)
    assert code == 2 and "fewer than 3 tracks of blues 2" in err and "--allow-weak-split" in err
    assert not list(runs.glob("*/record.json"))  # refused before any run was created
    code, out, err = run(capsys, "train", "mlp", "--data", tmp_path / "gtzan", "--protocol", "filtered",
                         "--epochs", "2", "--device", "cpu", "--runs", runs, "--allow-weak-split")
    assert code == 0, err
    assert "WEAK SPLIT" in out
    assert "mlp on GTZAN, protocol filtered" in out
    record = json.loads(next(runs.glob("*/record.json")).read_text())
    assert {k: record["split"][k] for k in ("train", "val", "test")} == {"train": 20, "val": 20, "test": 20}
    assert "60 of 930 listed tracks present" in record["split"]["note"]
