"""The feature study (``features-study``): on a small feature table the test writes, its
refusals, the result files, the Reproduction page's section on a fresh home (the shipped
results), and on the real Kaggle table and excerpts where present (skipping cleanly)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gtzan_core import GENRES
from gtzan_core.audio_features import KAGGLE_COLUMNS
from gtzan_core.errors import ConfigError, DatasetError
from gtzan_core.reproduction.feature_study import read_feature_table, run_study
from tests.helpers import ROOT, run

REAL = ROOT.parent / "shared" / "data" / "gtzan-real"
REAL_CSV = REAL / "kaggle-csv" / "features_30_sec.csv"


def write_table(path: Path, per_genre: int = 10, seed: int = 0) -> Path:
    """A Kaggle-layout table: each genre's MFCC means shifted from the others (the rest noise)."""
    rng = np.random.default_rng(seed)
    rows = []
    for genre in GENRES:
        centre = rng.normal(0, 1, len(KAGGLE_COLUMNS))
        for i in range(per_genre):
            values = rng.normal(0, 1, len(KAGGLE_COLUMNS))
            row = {"filename": f"{genre}.{i:05d}.wav", "length": 661794}
            for c, name in enumerate(KAGGLE_COLUMNS):
                shift = 3 * centre[c] if name.startswith("mfcc") else 0.0
                row[name] = values[c] + shift
            row["label"] = genre
            rows.append(row)
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_study_on_a_small_table(tmp_path):
    table = read_feature_table(write_table(tmp_path / "f.csv"))
    assert table.groups == ["mfcc", "chroma", "spectral", "rhythm"] and len(table.tracks) == 100
    rows = run_study(table, ["track"], seeds=2, models=["logreg", "svm"])
    # cumulative sets: MFCC 40, + chroma 2, + spectral 10, + rhythm 5 (= the Kaggle 57; no "all" beyond)
    assert [(r["step"], r["n_features"]) for r in rows if r["model"] == "svm"] == [
        ("mfcc", 40), ("chroma", 42), ("spectral", 52), ("rhythm", 57)]
    assert all(r["n_train"] + r["n_val"] + r["n_test"] == 100 for r in rows)
    mfcc_lr = next(r for r in rows if r["step"] == "mfcc" and r["model"] == "logreg")
    assert len(mfcc_lr["test_accuracies"]) == 2 and mfcc_lr["test_accuracy_sd"] is not None
    assert mfcc_lr["test_accuracy"] > 0.6  # the genres differ in their MFCCs: far above chance (0.1)
    assert 0 <= mfcc_lr["val_accuracy"] <= 1


@pytest.mark.slow  # ~25 s on a busy 2-core machine
def test_boosting_and_mlp_families_learn(tmp_path):
    table = read_feature_table(write_table(tmp_path / "f.csv", per_genre=20))
    rows = run_study(table, ["track"], seeds=1, models=["hgb", "mlp"], steps=["mfcc"])
    assert {r["model"]: r["test_accuracy"] > 0.5 for r in rows} == {"hgb": True, "mlp": True}, rows


def test_labels_scrambled_fall_to_chance(tmp_path):
    """The accuracy comes from the features: the same table with shuffled labels is near chance."""
    path = write_table(tmp_path / "f.csv", per_genre=20)
    df = pd.read_csv(path)
    df["label"] = np.random.default_rng(1).permutation(df["label"].to_numpy())
    df.to_csv(path, index=False)
    rows = run_study(read_feature_table(path), ["track"], seeds=2, models=["logreg"], steps=["mfcc"])
    assert rows[0]["test_accuracy"] < 0.35


def test_cli_writes_a_result_file_and_json(tmp_path, capsys):
    csv = write_table(tmp_path / "f.csv")
    out = tmp_path / "study.json"
    code, stdout, err = run(capsys, "features-study", "--csv", csv, "--protocols", "track", "--seeds", "2",
                            "--models", "logreg", "svm", "--features", "mfcc", "rhythm", "--out", out, "--json")
    assert code == 0, err
    doc = json.loads(stdout)
    saved = json.loads(out.read_text())
    assert saved["rows"] == doc["rows"] and saved["kind"] == "feature_study"
    assert saved["seeds"] == [0, 1] and saved["date"][:2] == "20" and "git_commit" in saved
    assert saved["command"].startswith("python -m gtzan_core features-study --csv ") and "--seeds 2" in saved["command"]
    assert {(r["step"], r["model"]) for r in saved["rows"]} == {("mfcc", "logreg"), ("mfcc", "svm"),
                                                              ("rhythm", "logreg"), ("rhythm", "svm")}
    code, stdout, err = run(capsys, "features-study", "--csv", csv, "--protocols", "track", "--seeds", "1",
                            "--models", "svm", "--features", "mfcc")
    assert code == 0, err
    assert "MFCC only" in stdout and "RBF SVM · test" in stdout and "53.4 %" in stdout
    written = list((Path(stdout.split("result: ")[-1].strip())).parent.glob("feature-study-*.json"))
    assert written  # by default into the studio home's results/


@pytest.mark.parametrize("change, needle", [
    ("missing", "no feature table at"),
    ("no_label", "has no label column"),
    ("text", "mfcc3_mean holds blanks or text"),
    ("partial", "mfcc lacks mfcc7_var"),
    ("duplicate", "appears more than once"),
    ("one_label", "only one label"),
])
def test_cli_refuses_bad_tables_in_one_line(tmp_path, capsys, change, needle):
    path = write_table(tmp_path / "f.csv", per_genre=3)
    df = pd.read_csv(path)
    if change == "missing":
        path = tmp_path / "nowhere.csv"
    elif change == "no_label":
        df.drop(columns="label").to_csv(path, index=False)
    elif change == "text":
        df["mfcc3_mean"] = df["mfcc3_mean"].astype(object)
        df.loc[4, "mfcc3_mean"] = "n/a"
        df.to_csv(path, index=False)
    elif change == "partial":
        df.drop(columns="mfcc7_var").to_csv(path, index=False)
    elif change == "duplicate":
        pd.concat([df, df.iloc[:2]]).to_csv(path, index=False)
    elif change == "one_label":
        df.assign(label="rock").to_csv(path, index=False)
    code, out, err = run(capsys, "features-study", "--csv", path)
    assert code == 2 and err.startswith("error: ") and needle in err and err.count("\n") == 1, err


def test_refusals_of_the_study_itself(tmp_path, capsys):
    table = read_feature_table(write_table(tmp_path / "f.csv", per_genre=3))
    with pytest.raises(ConfigError, match="seeds must be at least 1"):
        run_study(table, ["track"], seeds=0)
    with pytest.raises(ConfigError, match="unknown model family"):
        run_study(table, ["track"], models=["knn"])
    code, _, err = run(capsys, "features-study")
    assert code == 2 and "one of the arguments --csv --data is required" in err


def test_filtered_split_needs_gtzan_track_ids(tmp_path):
    path = write_table(tmp_path / "f.csv", per_genre=3)
    df = pd.read_csv(path)
    df["filename"] = [f"song{i}.wav" for i in range(len(df))]
    df.to_csv(path, index=False)
    with pytest.raises(DatasetError, match="fault-filtered"):
        run_study(read_feature_table(path), ["filtered"], seeds=1, models=["logreg"], steps=["mfcc"])


def test_result_files_unreadable_are_left_out(tmp_path):
    from gtzan_core.reproduction.result_files import (
        new_result,
        results_dir,
        unreadable_results,
        user_results,
        write_result,
    )

    good = write_result(new_result("feature_study", "t", "python -m gtzan_core features-study --csv x", [0], []))
    assert good.parent == results_dir()
    (results_dir() / "broken.json").write_text("{not json")
    (results_dir() / "partial.json").write_text(json.dumps({"kind": "feature_study"}))
    assert [d["file"] for d in user_results("feature_study")] == [good.name]
    assert unreadable_results() == ["broken.json", "partial.json"]
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(ConfigError, match="not a regular file"):
        write_result(new_result("x", "t", "c", [0], []), tmp_path / "dir.json")


def test_shipped_results_are_well_formed():
    from gtzan_core.reproduction.result_files import shipped_results

    docs = shipped_results()
    assert {d["kind"] for d in docs} >= {"feature_study"}
    for d in docs:
        assert d["git_commit"] and d["command"].startswith("python -m gtzan_core ") and d["rows"]
        assert "--out gtzan_core/reproduction/shipped/" in d["command"] or "--result gtzan_core/reproduction/shipped/" \
            in d["command"]
    assert {d["file"] for d in docs if d["kind"] == "transfer"} == {"transfer-pngs-track.json",
                                                                    "transfer-excerpts-track.json",
                                                                    "transfer-excerpts-musicnn-track.json",
                                                                    "transfer-clips-musicnn-track.json",
                                                                    "transfer-excerpts-vgg-track.json",
                                                                    "transfer-clips-vgg-track.json"}
    kaggle = next(d for d in docs if d["kind"] == "feature_study" and d["source"]["kind"] == "kaggle")
    assert kaggle["seeds"] == [0, 1, 2] and set(kaggle["protocols"]) == {"track", "filtered"}
    assert {r["model"] for r in kaggle["rows"]} == {"logreg", "svm", "hgb", "mlp"}


def test_reproduction_page_on_a_fresh_home_shows_the_shipped_results(demo_app, tmp_path):
    from gtzan_core.reproduction.feature_study import study_result
    from gtzan_core.reproduction.result_files import write_result

    at = demo_app("reproduction")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    captions = [c.value for c in at.caption]
    assert any("shipped with the studio" in c and "features-study --csv" in c for c in captions), captions
    assert any("Which audio features help?" in h.value for h in at.header)
    frames = [f.value for f in at.dataframe]
    assert any("features" in f.columns and "MFCC only" in set(f["features"]) for f in frames)
    assert any("53.4 %" in c for c in captions)
    assert any("Measured on real GTZAN" in h.value for h in at.header)
    assert any("model" in f.columns and "EfficientNet-Lite0" in set(f["model"]) and "the paper's accuracy" in f.columns
               for f in frames)  # the shipped transfer study on the 999 PNGs, beside the paper's column
    studies = next(s for s in at.selectbox if s.label == "Feature study")
    assert "Kaggle feature table" in studies.options[0]  # the 1,000-track table first
    assert any("1000 tracks" in c for c in captions)
    # a run of the user's own is shown first, labelled as theirs
    table = read_feature_table(write_table(tmp_path / "mine.csv"))
    write_result(study_result(run_study(table, ["track"], seeds=1, models=["logreg"], steps=["mfcc"]), table, 1,
                              "python -m gtzan_core features-study --csv mine.csv", ["track"]))
    at = demo_app("reproduction")
    at.run()
    assert not at.exception
    assert any("your run" in c.value and "mine.csv" in c.value for c in at.caption)
    assert any(s.options[0].startswith("yours") for s in at.selectbox if s.label == "Feature study")


@pytest.mark.skipif(not REAL_CSV.is_file(), reason="no real Kaggle feature table in ../shared")
def test_real_kaggle_table_one_group_one_seed():
    table = read_feature_table(REAL_CSV)
    assert len(table.tracks) == 1000 and table.X.shape[1] == 57
    rows = run_study(table, ["filtered"], seeds=1, models=["svm"], steps=["mfcc"])
    r = rows[0]
    assert (r["n_train"], r["n_val"], r["n_test"]) == (443, 197, 290)
    assert 0.35 < r["test_accuracy"] < 0.75  # MFCC + SVM on the filtered split: Kereliuk & Sturm's 53.4 %


@pytest.mark.slow
@pytest.mark.skipif(not (REAL / "excerpts").is_dir(), reason="no real excerpts in ../shared")
def test_real_excerpts_extracted_once_then_cached(tmp_path):
    from gtzan_core.reproduction.feature_study import audio_feature_table

    subset = tmp_path / "ex"
    for g in GENRES:
        (subset / g).mkdir(parents=True)
        for src in sorted((REAL / "excerpts" / "genres_original" / g).glob("*.wav"))[:4]:
            (subset / g / src.name).symlink_to(src)
    calls = []
    table = audio_feature_table(subset, progress=lambda d, n, m: calls.append(d))
    assert len(table.tracks) == 40 and table.X.shape[1] == 89 and calls[-1] == 40
    assert table.groups[-3:] == ["contrast", "tonnetz", "onset"]
    calls.clear()
    again = audio_feature_table(subset, progress=lambda d, n, m: calls.append(d))
    assert not calls and np.array_equal(again.X.to_numpy(), table.X.to_numpy())  # the cache, no extraction


@pytest.mark.heavy
def test_transfer_result_file_is_what_the_study_printed(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_PER_GENRE", "4")
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_SECONDS", "6.2")
    out = tmp_path / "transfer.json"
    code, stdout, err = run(capsys, "transfer", "--models", "mlp", "--seeds", "1", "--epochs", "1", "--device", "cpu",
                            "--allow-weak-split", "--json", "--result", out)
    assert code == 0, err
    printed = json.loads(stdout)
    doc = json.loads(out.read_text())
    assert doc["kind"] == "transfer" and doc["rows"] == printed["rows"] and doc["seeds"] == [0]
    assert doc["study"] == printed["transfer"] and doc["dataset"]["label"] == "synthetic demo"
    assert doc["command"] == (f"python -m gtzan_core transfer --protocol track --recipe studio --seeds 1 --models mlp "
                              f"--epochs 1 --allow-weak-split --result {out}")
