"""The words and tables the pages show, without a browser: job progress and its ETA
range, the tables' names and cells, the figures' axes, the reproduction estimate, and
what the pages hand their widgets (AppTest). The browser's view of the same findings:
tests/e2e/test_seen.py."""

import re

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from gtzan_core import GENRES, tables
from gtzan_core.hparams import make_config
from gtzan_core.plots import epoch_ticks, loss_figure, mel_view, spectrogram_figure, timeline_figure
from gtzan_core.webapp.formatting import duration_text, empty_jobs_text, job_progress, plan_estimate
from tests.helpers import ROOT

NONE_WORDS = re.compile(r"\b(None|nan|NaN)\b")


def epochs(n, seconds=20.0, best=None):
    return [{"epoch": e, "train_loss": 1.0, "train_acc": 0.5, "val_loss": 1.0, "val_acc": 0.5, "seconds": seconds,
             "elapsed": seconds * e, "best": e == (best or n)} for e in range(1, n + 1)]


def record(**fields):
    base = {"run_id": "r1", "model": "cnn", "title": "CNN", "protocol": "track", "status": "running",
            "phase": "training", "config": {"epochs": 100, "patience": 10}, "history": [],
            "dataset": {"label": "synthetic demo", "root": None}}
    return {**base, **fields}


def test_a_job_says_what_it_is_doing_and_its_eta_is_a_range():
    assert job_progress(record(status="queued", phase="queued"))["phase"] == "queued"
    feats = job_progress(record(phase="features", progress={"done": 120, "total": 200, "message": "x"}))
    assert feats["phase"] == "extracting features 120/200" and feats["phase_fraction"] == 0.6
    p = job_progress(record(history=epochs(7, best=5), best_epoch=5))
    assert p["phase"] == "epoch 8 of ≤ 100" and p["fraction"] == 0.07
    # nothing better than epoch 5 within the patience of 10: early stopping after epoch 15, 8 epochs on;
    # the cap: 93 epochs on; 20 s an epoch
    assert p["eta"] == (8 * 20.0, 93 * 20.0)
    assert "2 min 40 s left if no epoch beats epoch 5 (early stopping)" in p["eta_text"]
    assert "at most 31 min 00 s (the 100-epoch cap)" in p["eta_text"]
    assert not p["stopping"] and job_progress(record(history=epochs(7), stop_requested=1.0))["stopping"]
    stopped = job_progress(record(status="cancelled", phase="done", history=epochs(7, best=5), best_epoch=5,
                                  epochs_run=7, evaluation={"segment": {}}))
    assert stopped["fraction"] == 0.07 and stopped["summary"] == "stopped by hand at epoch 7 of ≤ 100 (best 5)"
    done = job_progress(record(status="finished", phase="done", history=epochs(12), early_stopped=True,
                               epochs_run=12, best_epoch=2))
    assert done["summary"] == "early-stopped at epoch 12 of ≤ 100 (best 2)"
    assert [duration_text(s) for s in (None, 42, 282, 3900)] == ["—", "42 s", "4 min 42 s", "1 h 05 min"]


def test_an_empty_mine_view_says_whose_jobs_there_are():
    now = 1000.0
    records = [record(owner="alice"), record(owner="alice", status="queued"), record(owner="bob", status="finished",
                                                                                     finished=now - 10)]
    text = empty_jobs_text(records, "carol", "mine", now=now)
    assert text.startswith("No jobs of yours (carol)") and "2 of alice, 1 of bob" in text
    assert "nobody else's" in empty_jobs_text([], "carol", "mine", now=now)
    assert empty_jobs_text(records, "carol", "everyone's", now=now).startswith("No jobs yet")


def finished(model="cnn", run_id="r1", owner=None, **fields):
    ev = {"accuracy": 0.65432, "macro_f1": 0.61234, "weighted_f1": 0.6, "n": 20,
          "report": {g: {"precision": 0.5, "recall": 0.5, "f1-score": 0.5, "support": 2} for g in GENRES}
          | {"macro avg": {"precision": 0.5, "recall": 0.5, "f1-score": 0.5, "support": 20},
             "weighted avg": {"precision": 0.5, "recall": 0.5, "f1-score": 0.5, "support": 20}},
          "confusion": np.eye(10, dtype=int).tolist()}
    return record(**{"run_id": run_id, "model": model, "title": model.upper(), "status": "finished",
                     "phase": "done", "history": epochs(3), "epochs_run": 3, "evaluation": {"segment": ev, "track": ev},
                     "owner": owner, "pretrained": False, "trainable_params": 1234567, "train_seconds": 12.3,
                     "created": 1.7e9, **fields})


def test_run_tables_read_like_a_report():
    never = record(run_id="never", status="cancelled", phase="done", error="stopped while queued; never started")
    runs = [finished(), finished("vgg19", "r2", owner="alice"), never, record(run_id="live")]
    board = tables.runs_frame(runs)
    assert list(board["run"]) == ["r1", "r2"]  # runs with results only
    assert list(board.columns[:7]) == ["model", "track acc.", "macro F1", "recipe", "dataset", "owner", "segment acc."]
    text = board.select_dtypes(exclude="number")
    assert not text.isin([None, "", "None", "nan"]).any().any()
    assert list(board["pretrained"]) == ["—", "no"]  # an MFCC model has nothing pretrained to speak of
    assert list(tables.unfinished_frame(runs)["run"]) == ["never", "live"]
    for frame in (tables.home_frame(runs, demo=True), tables.compare_frame(runs[:2], "track"), tables.paper_frame(),
                  tables.report_table(runs[0]["evaluation"]["track"])):
        cells = " ".join(map(str, frame.columns)) + " " + " ".join(frame.astype(str).to_numpy().ravel())
        assert not NONE_WORDS.search(cells) and not re.search(r"\b[a-z]+_[a-z0-9_]+\b", " ".join(frame.columns))
        assert not re.search(r"\b\d\.\d{4,}\b", cells), cells  # 3 decimals
    assert tables.home_frame(runs, demo=True)["track acc."].tolist() == ["0.654", "0.654"]
    assert tables.home_frame(runs).empty  # demo runs are never ranked with real ones
    assert {"macro avg", "weighted avg"} <= set(tables.report_table(runs[0]["evaluation"]["track"]).index)
    assert tables.dataset_name({"starter": {}, "dataset": {"label": "GTZAN"}}) == "real GTZAN"
    assert tables.dataset_name({"dataset": {"label": "pending", "root": "/data/gtzan"}}) == "folder gtzan"
    stopped = finished(status="cancelled")
    assert tables.compare_frame([stopped], "track")["training"][0].startswith("stopped by hand at epoch 3")


def test_figures_have_whole_epochs_axes_and_only_the_rows_that_occur():
    for last in (1, 2, 7, 30, 500):
        ticks = epoch_ticks(last)
        first, step = ticks["tick0"], ticks["dtick"]
        assert isinstance(step, int) and step >= 1 and (last - first) / step <= 11
    layout = loss_figure(epochs(2)).layout.xaxis
    assert layout.dtick == 1 and layout.tickformat == "d" and layout.title.text == "epoch"

    class Result:
        title, whole = "CNN", False
        starts, ends = np.array([0.0, 3.0, 6.0]), np.array([3.0, 6.0, 9.0])
        segment_probs = np.eye(10)[[3, 3, 8]]

    class Picture(Result):  # one picture of the whole clip: nothing to draw over time
        title, whole = "EfficientNet-Lite0", True
        starts, ends, segment_probs = np.zeros(1), np.array([9.5]), np.eye(10)[[0]]

    fig = timeline_figure({"r1": Result(), "r2": Picture()}, duration=9.5)
    assert list(fig.layout.yaxis.categoryarray) == ["disco", "reggae"]  # blues: the picture is not drawn
    (bars,) = fig.data  # each segment over the seconds it covers, on the clip's time axis (never a -1..1 axis)
    assert list(bars.base) == [0.0, 3.0, 6.0] and list(bars.x) == [3.0, 3.0, 3.0] and bars.orientation == "h"
    assert tuple(fig.layout.xaxis.range) == (0, 9.5) and fig.layout.xaxis.title.text == "time in the clip (s)"
    sr = 22050
    y = np.sin(2 * np.pi * 440 * np.arange(4 * sr) / sr).astype(np.float32)
    db, times, freqs = mel_view(y, sr)
    fig = spectrogram_figure(db, times, freqs)
    assert fig.layout.xaxis.title.text == "time (s)" and fig.layout.yaxis.title.text.startswith("frequency (Hz")
    assert len(fig.layout.yaxis.tickvals) >= 4 and abs(times[-1] - 4.0) < 0.1
    loudest = freqs[db.mean(axis=1).argmax()]
    assert 300 < loudest < 600  # the 440 Hz tone sits where the axis says


def test_the_reproduction_estimate_is_a_range_and_says_where_it_comes_from():
    configs = [make_config(m, protocol=p, epochs=200, patience=5) for p in ("paper", "track") for m in ("mlp", "cnn", "vgg19")]
    measured = finished("mlp", split={"tracks_per_genre": {"train": {g: 14 for g in GENRES}}, "unit": "segment"},
                        device="cpu", history=epochs(5, seconds=2.0), epochs_run=5)
    est = plan_estimate(configs, [measured], tracks=200)
    assert 0 < est["low"] < est["high"] and est["measured"] == ["mlp"] and est["guessed"] == ["cnn", "vgg19"]
    assert "timed from earlier runs here: mlp" in est["text"]
    gpu = plan_estimate(configs, [measured], tracks=200, on_gpu=True)
    assert gpu["unknown"] == ["cnn", "mlp", "vgg19"] and "no estimate for" in gpu["text"]


# -- what the pages hand their widgets ------------------------------------------------------------------------------

@pytest.fixture
def app_home(monkeypatch):
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_PER_GENRE", "4")
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_SECONDS", "6.2")
    monkeypatch.chdir(ROOT)


def test_the_leaderboard_grid_draws_a_dash_and_the_paper_rows_are_not_selectable(app_home, tiny_features):
    from gtzan_core.jobs import JobManager, train
    from gtzan_core.runs import RunStore

    store = RunStore()
    rid = train(make_config("mlp", epochs=1, device="cpu"), tiny_features, store)["run_id"]
    held = JobManager(store, slots=0)
    never = held.submit(make_config("lstm", epochs=1, device="cpu"))
    held.cancel(never)
    held.shutdown()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page("pages/leaderboard.py")
    at.run()
    assert not at.exception
    (grid,) = [d for d in at.dataframe if d.proto.selection_mode]  # one selectable grid: the runs
    assert grid.proto.placeholder == "—" and grid.value["run"].tolist() == [rid]
    assert all(d.proto.placeholder == "—" for d in at.dataframe)
    assert any("§4.2.1, Table 2" in t.value.to_string() for t in at.table)  # the paper's rows: a plain table
    at.session_state["board"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert any(c.value.startswith("1 run selected") for c in at.caption)
    assert next(b for b in at.button if b.label == "Compare selected").disabled
