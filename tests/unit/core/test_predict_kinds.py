"""Predict computes only what the chosen runs read (issue 43): a feature-vector run on a 30 s
clip draws no MFCC segments and no picture (the calls are counted), and each run is checked
against its own kind's parameters only."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from gtzan_core import GENRES, features
from gtzan_core.audio_features import KAGGLE_COLUMNS
from gtzan_core.cli import main
from gtzan_core.features import MFCCParams
from gtzan_core.inference import predict
from gtzan_core.inputs.mfcc import segment_count
from gtzan_core.runs import RunStore
from tests.helpers import write_clip


def _table(path, per_genre=8, seed=0):
    """A Kaggle-style table whose features depend on the genre."""
    rng = np.random.default_rng(seed)
    lines = [",".join(["filename", "length", *KAGGLE_COLUMNS, "label"])]
    for g, genre in enumerate(GENRES):
        for n in range(per_genre):
            values = rng.normal(size=len(KAGGLE_COLUMNS)) + np.where(np.arange(len(KAGGLE_COLUMNS)) % 10 == g, 3, 0)
            lines.append(",".join([f"{genre}.{n:05d}.wav", "661794", *(f"{v:.6g}" for v in values), genre]))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def vector_run(tmp_path, capsys):
    code = main(["train", "logreg", "--data", str(_table(tmp_path / "features.csv")), "--allow-weak-split"])
    out = capsys.readouterr().out
    assert code == 0, out
    return out.split("run ")[1].split(":")[0]


@pytest.fixture
def counted(monkeypatch):
    """Counts of the calls that make MFCC segments and pictures, wherever they were imported."""
    calls = {"mfcc_segments": 0, "spectrogram_input": 0}
    for name in calls:
        original = getattr(features, name)

        def counting(*args, _name=name, _original=original, **kwargs):
            calls[_name] += 1
            return _original(*args, **kwargs)

        for module in [m for n, m in sys.modules.items() if n.startswith("gtzan_core") and m is not None]:
            if getattr(module, name, None) is original:
                monkeypatch.setattr(module, name, counting)
    return calls


@pytest.mark.heavy
def test_a_vector_run_on_a_30s_clip_computes_no_mfcc_segments_and_no_picture(vector_run, counted, tmp_path):
    song = write_clip(tmp_path / "song.wav", "disco", seconds=30.0)
    pred = predict(song, [vector_run], RunStore())
    assert list(pred.results) == [vector_run] and not pred.refused
    assert pred.results[vector_run].unit == "window" and len(pred.results[vector_run].segment_probs) == 1
    assert counted == {"mfcc_segments": 0, "spectrogram_input": 0}
    assert segment_count(pred.clip) == 10  # said without computing them
    assert counted["mfcc_segments"] == 0
    # asked for, they are computed (once): the counter sees them
    assert pred.view("mfcc").shape == (10, 130, 13) and pred.view("image").shape == (224, 224, 3)
    assert pred.view("mfcc") is pred.view("mfcc") and pred.view("image") is pred.view("image")
    assert counted == {"mfcc_segments": 1, "spectrogram_input": 1}


def test_a_run_is_checked_against_its_own_kinds_parameters(vector_run, counted, tmp_path):
    """Other MFCC parameters refuse an MFCC-grid run, not a vector run (it reads none of them)."""
    song = write_clip(tmp_path / "song.wav", "disco", seconds=4.0)
    pred = predict(song, [vector_run], RunStore(), params={"mfcc": MFCCParams(n_mfcc=20)})
    assert list(pred.results) == [vector_run] and not pred.refused
    assert counted == {"mfcc_segments": 0, "spectrogram_input": 0}
