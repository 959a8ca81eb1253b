"""Feature vectors: the Kaggle-style table as a dataset, the scikit-learn baselines kept as
arrays (their probabilities equal scikit-learn's), damaged parameter files, the four
feature-vector models trained and used from the CLI, the extraction against the Kaggle rows."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from gtzan_core.audio_features import GROUPS, KAGGLE_COLUMNS, extract, feature_names
from gtzan_core.data import open_dataset
from gtzan_core.errors import CheckpointError, DatasetError
from tests.helpers import ROOT, SHARED_DATA, run, write_clip, write_table

KAGGLE_CSV = SHARED_DATA / "gtzan-real" / "kaggle-csv" / "features_30_sec.csv"
VECTOR_MODELS = ("logreg", "svm", "hgb", "feature_mlp")


# -- the extraction ------------------------------------------------------------------------------

def test_the_groups_cover_the_kaggle_columns_and_more():
    assert len(KAGGLE_COLUMNS) == 57 and feature_names() == list(KAGGLE_COLUMNS)
    assert sorted(c for g in ("mfcc", "chroma", "spectral", "rhythm") for c in GROUPS[g]) == sorted(KAGGLE_COLUMNS)
    assert not set(GROUPS["contrast"] + GROUPS["tonnetz"] + GROUPS["onset"]) & set(KAGGLE_COLUMNS)
    assert feature_names(["chroma", "mfcc"])[:2] == ["chroma_stft_mean", "chroma_stft_var"]
    with pytest.raises(ValueError, match="unknown feature group"):
        feature_names(["timbre"])


@pytest.mark.heavy
def test_extract_on_a_written_clip(tmp_path):
    import soundfile as sf

    y, sr = sf.read(write_clip(tmp_path / "a.wav", "rock", seconds=3.0), dtype="float32")
    feats = extract(y, sr, list(GROUPS))
    assert list(feats) == feature_names(list(GROUPS)) and all(np.isfinite(v) for v in feats.values())
    assert 0 < feats["chroma_stft_mean"] < 1 and feats["rms_mean"] > 0 and 30 <= feats["tempogram_peak_bpm"] <= 300


def _agreement_on(folder, limit):
    from gtzan_core.feature_agreement import agreement

    if not KAGGLE_CSV.is_file() or not folder.is_dir():
        pytest.skip("the real GTZAN clips and the Kaggle table are not here")
    return {r["column"]: r for r in agreement(folder, KAGGLE_CSV, limit=limit).rows()}


def _holds(rows):
    """What docs/features.md states: MFCCs, chroma and the spectral columns within 1 % (median over
    clips), harmony/perceptr variances within 1 %; their means (~1e-5, near zero) and the
    tempo estimate are the columns that can differ."""
    for name, r in rows.items():
        if name in ("harmony_mean", "perceptr_mean", "tempo"):
            continue
        assert r["median_rel_error"] < 0.01, (name, r)
        assert r["max_rel_error"] < 0.1 or name.endswith("_mean") and abs(r["correlation"]) > 0.99, (name, r)


@pytest.mark.heavy
def test_extraction_agrees_with_the_kaggle_rows_on_two_real_clips():
    _holds(_agreement_on(SHARED_DATA / "gtzan-real-sample" / "genres_original", limit=2))


@pytest.mark.slow
def test_extraction_agrees_with_the_kaggle_rows_on_the_real_sample():
    rows = _agreement_on(SHARED_DATA / "gtzan-real-sample" / "genres_original", limit=None)
    _holds(rows)
    assert all(r["correlation"] > 0.999 for n, r in rows.items() if n.startswith("mfcc"))


# -- a table as a dataset ------------------------------------------------------------------------

def test_a_kaggle_style_table_is_a_dataset(tmp_path):
    path = write_table(tmp_path / "features.csv", per_genre=3)
    ds = open_dataset(path)
    assert ds.layout == "table" and len(ds.tracks) == 30 and list(ds.table.columns) == list(KAGGLE_COLUMNS)
    assert ds.tracks["track_id"].iloc[0] == "blues.00000" and not ds.has_audio and not ds.has_images
    assert ds.summary()["feature_columns"] == 57


@pytest.mark.parametrize("content, needle", [
    ("", "the file is empty"),
    ("filename,label,a\n", "header but no rows"),
    ("filename,tempo\nblues.00000.wav,120\n", "no column 'label'"),
    ("name,label,tempo\nblues.00000.wav,blues,120\n", "no column 'filename'"),
    ("filename,label\nblues.00000.wav,blues\n", "no feature column"),
    ("filename,label,tempo\nblues.00000.wav,blues,fast\n", "line 2: a missing or non-numeric value"),
    ("filename,label,tempo\nblues.00000.wav,blues,\n", "a missing or non-numeric value"),
    ("filename,label,tempo\nblues.00000.wav,polka,120\n", "unknown label(s) 'polka'"),
    ("filename,label,tempo\nblues.00000.wav,blues,120\nblues.00000.wav,blues,121\n", "appears twice"),
    ("filename,label,tempo\n../../etc/passwd,blues,120\n", "is no track file name"),
])
def test_a_bad_table_gets_one_clear_message(tmp_path, content, needle):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DatasetError, match=None) as info:
        open_dataset(path)
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_the_filtered_and_paper_protocols_split_a_table_by_track_id(tmp_path):
    from gtzan_core.feature_cache import load_features
    from gtzan_core.inputs import get_kind
    from gtzan_core.splits import fault_filtered_lists, split_for

    path = write_table(tmp_path / "all.csv", per_genre=100, numbers=range(100))
    fs = load_features(open_dataset(path), **get_kind("vector").feature_request(None))
    assert fs.samples("vector")[0].shape == (1000, 57) and fs.inputs["vector"].info["source"] == "table"
    lists = fault_filtered_lists()
    split = split_for(fs.tracks, None, "vector", "filtered", 0, 0.15, 0.15, False)
    ids = fs.tracks["track_id"].to_numpy()
    assert set(ids[split.test]) == set(lists["test"]) & set(ids)
    assert not set(ids[split.train]) & set(ids[split.test])
    paper = split_for(fs.tracks, None, "vector", "paper", 0, 0.15, 0.15, False)
    assert len(paper.train) + len(paper.test) == 1000


# -- the scikit-learn baselines as arrays ------------------------------------------------------------

def _fitted(family, seed=0):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import SVC
    from threadpoolctl import threadpool_limits

    from gtzan_core.models.sklearn_fit import standardise

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(240, 7)).astype(np.float32) * [1, 10, 100, 1e-3, 1, 1, 5]
    y = (np.digitize(x[:, 0] + x[:, 1] / 10 + rng.normal(size=240) * 0.3, [-1, 0, 1]) + 3) % 10
    mean, scale = standardise(x)
    z = (x.astype(np.float64) - mean) / scale
    est = {"logistic": lambda: LogisticRegression(max_iter=500),
           "svm": lambda: SVC(probability=True, random_state=seed),
           "hgb": lambda: HistGradientBoostingClassifier(max_iter=15, early_stopping=False)}[family]()
    with threadpool_limits(1), warnings.catch_warnings():  # one thread: a few shared cores
        warnings.filterwarnings("ignore", category=FutureWarning)  # SVC(probability=True), scikit-learn 1.9
        est.fit(z, y)
    return est, x, z, mean, scale


@pytest.mark.parametrize("family", ["logistic", "svm", "hgb"])
def test_the_array_model_gives_scikit_learns_probabilities(family, tmp_path):
    from gtzan_core.models.vector_models import array_model, load_npz, save_npz, to_arrays

    est, x, z, mean, scale = _fitted(family)
    name, arrays = to_arrays(est, mean, scale)
    model = array_model(name, arrays)
    expected = est.predict_proba(z)
    assert np.abs(model.predict_proba(x) - expected).max() < 1e-6
    # as the studio predicts: log-probabilities over all ten genres, softmax
    import torch

    full = torch.softmax(model(torch.from_numpy(x)), 1).numpy()
    assert full.shape == (240, 10) and np.abs(full[:, est.classes_] - expected).max() < 1e-6
    assert np.abs(np.delete(full, est.classes_, axis=1)).max() == 0
    # the .npz form (read with allow_pickle=False) and the checkpoint form give the same
    loaded, header = load_npz(save_npz(tmp_path / "model", model, {"run": "x"}))
    assert header["family"] == name and np.abs(loaded.predict_proba(x) - expected).max() < 1e-6
    buf = tmp_path / "ckpt.pt"
    torch.save({"state_dict": model.state_dict()}, buf)
    state = torch.load(buf, weights_only=True)["state_dict"]
    again = array_model(name, {k: v.numpy() for k, v in state.items()})
    assert np.abs(again.predict_proba(x) - expected).max() < 1e-6


def test_a_damaged_or_hostile_parameter_file_gets_a_clear_message(tmp_path):
    from gtzan_core.models.vector_models import array_model, load_npz, save_npz, to_arrays

    est, x, z, mean, scale = _fitted("hgb")
    name, arrays = to_arrays(est, mean, scale)
    path = save_npz(tmp_path / "m", array_model(name, arrays))
    # an object array (np.load would need to unpickle it): refused, never unpickled
    np.savez(path, **{**arrays, "value": np.array([{"x": 1}], dtype=object)})
    with pytest.raises(CheckpointError, match="not a readable array model"):
        load_npz(path)
    path.write_bytes(path.read_bytes()[:100])  # truncated
    with pytest.raises(CheckpointError, match="not a readable array model"):
        load_npz(path)
    bad_child = dict(arrays, left=np.where(arrays["leaf"], 0, 10**6).astype(np.int64))
    with pytest.raises(CheckpointError, match="child is out of range"):
        array_model(name, bad_child)
    with pytest.raises(CheckpointError, match="missing coef"):
        array_model("logistic", {k: v for k, v in to_arrays(_fitted("logistic")[0], mean, scale)[1].items()
                                 if k != "coef"})
    with pytest.raises(CheckpointError, match="is not a float64 array"):
        array_model(name, dict(arrays, threshold=arrays["threshold"].astype(np.float32)))
    with pytest.raises(CheckpointError, match="non-finite"):
        array_model(name, dict(arrays, value=np.full_like(arrays["value"], np.nan)))
    (tmp_path / "m.json").write_text("[1]")
    with pytest.raises(CheckpointError, match="not a readable array model"):
        load_npz(path)


# -- runs -------------------------------------------------------------------------------------------

def test_models_json_lists_the_four_feature_vector_models(capsys):
    code, out, _ = run(capsys, "models", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert code == 0 and all(rows[m]["input_kind"] == "vector" and rows[m]["input_shape"] == [57]
                             for m in VECTOR_MODELS)
    assert {rows[m]["family"] for m in VECTOR_MODELS} == {"features"}


@pytest.mark.heavy
def test_two_baselines_train_on_a_table_as_ordinary_runs(tmp_path, capsys):
    from gtzan_core.runs import RunStore

    table = write_table(tmp_path / "features.csv", per_genre=8)
    for model in ("logreg", "hgb"):
        code, out, err = run(capsys, "train", model, "--data", table, "--allow-weak-split", "--epochs", "5")
        assert code == 0, err
        record = RunStore().read(out.split("run ")[1].split(":")[0])
        assert record["status"] == "finished" and record["evaluation"]["track"]["accuracy"] > 0.5
        assert record["split"]["monitor"] == "validation" and record["fit"]["chosen"]


@pytest.mark.slow
def test_the_four_models_train_on_a_table_and_predict_a_song(tmp_path, capsys):
    from gtzan_core.runs import RunStore

    table = write_table(tmp_path / "features.csv", per_genre=8)
    song = write_clip(tmp_path / "song.wav", "disco", seconds=4.0)
    ids = {}
    for model in VECTOR_MODELS:
        extra = {"hgb": ["--epochs", "5"], "feature_mlp": ["--epochs", "30", "--lr", "0.003"]}.get(model, [])
        code, out, err = run(capsys, "train", model, "--data", table, "--allow-weak-split", *extra)
        assert code == 0, err
        assert f"{model} on GTZAN, protocol track" in out and "test track   accuracy" in out
        ids[model] = out.split("run ")[1].split(":")[0]
    store = RunStore()
    for model, run_id in ids.items():
        record = store.read(run_id)
        assert record["status"] == "finished" and record["input_kind"] == "vector"
        assert record["split"]["monitor"] == "validation" and record["history"]
        assert record["feature_vectors"] == {"source": "table", "columns": 57, "short_clips": 0,
                                             "groups": ["mfcc", "chroma", "spectral", "rhythm"]}
        # the table's genres are easy to tell apart
        assert 0.5 < record["evaluation"]["track"]["accuracy"] <= 1, (model, record["evaluation"]["track"])
    assert len(store.read(ids["svm"])["history"]) == 5  # one point per C of the grid
    code, out, err = run(capsys, "predict", song, "--json", *[a for r in ids.values() for a in ("--run", r)])
    assert code == 0, err
    result = json.loads(out)
    for run_id in ids.values():
        assert sum(result[run_id]["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    code, out, err = run(capsys, "export", ids["svm"], "--out", tmp_path / "svm.zip")
    assert code == 0, err


def test_a_model_on_an_unknown_table_refuses_to_predict_a_song(tmp_path, capsys):
    cols = ("loudness", "brightness")
    table = write_table(tmp_path / "own.csv", per_genre=6, columns=cols)
    code, out, err = run(capsys, "train", "logreg", "--data", table, "--allow-weak-split")
    assert code == 0, err
    run_id = out.split("run ")[1].split(":")[0]
    song = write_clip(tmp_path / "song.wav", "disco", seconds=3.0)
    code, out, err = run(capsys, "predict", song, "--run", run_id)
    assert code != 0 and "cannot predict on a song" in err + out


def test_mfcc_models_refuse_a_table_in_one_line(tmp_path, capsys):
    table = write_table(tmp_path / "features.csv", per_genre=4)
    code, out, err = run(capsys, "train", "mlp", "--data", table, "--allow-weak-split", "--epochs", "1")
    assert code != 0 and err.strip().count("\n") == 0 and "audio" in err
    assert "feature table" in err and "feature-vector models" in err and "pictures" not in err


@pytest.mark.skipif(not KAGGLE_CSV.is_file(), reason="the Kaggle table is not here")
def test_the_real_kaggle_table_opens_with_every_track():
    ds = open_dataset(KAGGLE_CSV)
    assert len(ds.tracks) == 1000 and ds.table.shape == (1000, 57)
    assert ds.counts().tolist() == [100] * 10


@pytest.mark.heavy
def test_the_train_page_trains_a_feature_vector_model_on_a_table(tmp_path, monkeypatch):

    from streamlit.testing.v1 import AppTest

    from gtzan_core.runs import RunStore
    from tests.helpers import ended, wait_until

    root = ROOT
    monkeypatch.chdir(root)
    monkeypatch.setenv("GTZAN_STUDIO_DATA_ROOTS", str(tmp_path))
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_PER_GENRE", "4")  # the page opens on the demo set: a tiny one
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_SECONDS", "6.2")
    table = write_table(tmp_path / "features.csv", per_genre=6)
    at = AppTest.from_file(str(root / "app.py"), default_timeout=180)
    at.switch_page("pages/train.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    models = at.multiselect[0]
    assert set(VECTOR_MODELS) <= set(models.options) or all(  # options are shown by their titles
        any(t in o for o in models.options) for t in ("Logistic regression", "RBF SVM", "Gradient boosting"))
    next(r for r in at.radio if r.label == "Train on").set_value("another folder").run()
    at.text_input(key="train-data-folder").set_value(str(table)).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("feature table" in c.value for c in at.caption)
    at.multiselect[0].set_value(["logreg"])
    at.checkbox[0].check()  # the tiny table's split is weak
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    store = RunStore()
    wait_until(lambda: store.list(), timeout=60, what="the job to be queued")
    run_id = store.list()[0]["run_id"]
    wait_until(ended(store, run_id), timeout=120, what="the job to end")
    record = store.read(run_id)
    assert record["status"] == "finished" and record["model"] == "logreg" and record["input_kind"] == "vector"
