"""What a newcomer reads on Predict (issue 40, item 4): the microphone's rate, counts in
words, a near tie said as one, the MFCC view's colour scale, a timeline that stays readable
with many runs, "Why?" offering only what a model supports, showing its progress and saying
which part of the clip it explained; and a feature-vector run described by what its curve's
points are (C values), with the levels and parameters it really has."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from gtzan_core import GENRES
from gtzan_core.hparams import make_config
from gtzan_core.jobs import train
from gtzan_core.runs import RunStore
from tests.helpers import ROOT, write_clip


@pytest.fixture(autouse=True)
def tiny_demo(monkeypatch):
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_PER_GENRE", "4")
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_SECONDS", "6.2")
    monkeypatch.setenv("GTZAN_STUDIO_OFFLINE", "1")  # no musicnn fetch in the background
    monkeypatch.chdir(ROOT)


def page(name: str, timeout: float = 120) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    at.switch_page(f"pages/{name}.py")
    return at


def no_errors(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def plotly_array(value) -> np.ndarray:
    """An array of a figure's JSON: a list, or Plotly's typed array (base64 ``bdata``, ``dtype``, ``shape``)."""
    if isinstance(value, dict):
        out = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        return out.reshape([int(n) for n in str(value["shape"]).split(",")]) if "shape" in value else out
    return np.asarray(value, float)


def fixed_answer(store: RunStore, run_id: str, probs: dict[str, float]) -> None:
    """Make an MLP run answer ``probs`` whatever it hears (its last layer's weights zero, its
    bias the log-probabilities) and say it learned from real GTZAN with a validation accuracy
    of 0.6, so that it is in Predict's default answer."""
    ckpt = store.load_checkpoint(run_id)
    state = ckpt["state_dict"]
    last = max((k for k in state if k.endswith(".bias") and state[k].shape == (len(GENRES),)),
               key=lambda k: int(re.findall(r"\d+", k)[-1]) if re.findall(r"\d+", k) else -1)
    rest = (1 - sum(probs.values())) / (len(GENRES) - len(probs))
    target = torch.tensor([probs.get(g, rest) for g in GENRES], dtype=state[last].dtype)
    state[last] = target.log()
    state[last.replace(".bias", ".weight")] = torch.zeros_like(state[last.replace(".bias", ".weight")])
    store.save_checkpoint(run_id, state, ckpt["meta"])
    record = store.read(run_id)  # and weighable: its kept epoch above chance on validation
    history = [{**h, "val_acc": 0.6} for h in record["history"]]
    store.update(run_id, dataset={**record["dataset"], "label": "GTZAN"}, history=history)


def mlp_runs(tiny_features, n: int) -> tuple[RunStore, list[str]]:
    store = RunStore()
    return store, [train(make_config("mlp", epochs=1, device="cpu", seed=k), tiny_features, store)["run_id"]
                   for k in range(n)]


def test_the_microphone_records_at_gtzans_rate():
    at = no_errors(page("predict").run())
    at.radio[0].set_value("Record with the microphone").run()
    mic = at.audio_input[0]
    assert mic.sample_rate == 22050 == mic.proto.sample_rate  # not Streamlit's 16 kHz: the models read 22.05 kHz


def test_the_windows_of_a_run_are_counted_in_words():
    from gtzan_core.inputs import get_kind
    from gtzan_core.splits import protocol_info
    from gtzan_core.words import count, plural

    starts = np.arange(26) * 2.97
    assert get_kind("musicnn").windows_text(starts, starts + 2.97, 90.0) == "scored 26 patches of 2.97 s"
    assert get_kind("mfcc").windows_text(starts[:1], starts[:1] + 3, 30.0) == "scored 1 segment of 3 s"
    assert [count(n, w) for n, w in ((1, "patch"), (2, "patch"), (0, "segment"), (5, "C value"), (3, "boosting"
            " iteration"))] == ["1 patch", "2 patches", "0 segments", "5 C values", "3 boosting iterations"]
    assert plural("query") == "queries" and plural("day") == "days"
    note = protocol_info("paper", "musicnn")["protocol_note"]
    assert "random split of patches: patches of one track" in note and "patchs" not in note


@pytest.mark.heavy
def test_a_recording_is_predicted_a_near_tie_said_counts_in_words_mfccs_scaled_without_c0(tiny_features, tmp_path):
    store, (rid,) = mlp_runs(tiny_features, 1)
    fixed_answer(store, rid, {"pop": 0.330, "hiphop": 0.319})
    at = no_errors(page("predict").run())
    at.radio[0].set_value("Record with the microphone").run()
    clip = write_clip(tmp_path / "rec.wav", "pop", seconds=8.0)  # a recording: the same pipeline as an upload
    at.audio_input[0].set_value(("recording.wav", clip.read_bytes(), "audio/wav")).run()
    no_errors(at)
    assert any(c.value.startswith("microphone recording: 8.0 s") for c in at.caption)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Default answer"].startswith("pop · 33")
    captions = [c.value for c in at.caption]
    assert any("A near tie between pop (33.0%) and hiphop (31.9%)" in c for c in captions), captions
    assert any("scored 2 segments of 3 s" in c for c in captions), captions
    assert not any(re.search(r"\b\d+ (patchs|segment)\b", c) and "1 segment" not in c for c in captions)
    at.session_state["clip-view"] = "MFCC"
    at.run()
    no_errors(at)
    trace = json.loads(at.get("plotly_chart")[-1].proto.spec)["data"][0]
    z = plotly_array(trace["z"])
    assert trace["zmax"] == pytest.approx(np.abs(z[1:]).max()) and trace["zmin"] == -trace["zmax"]
    assert np.abs(z[0]).max() > trace["zmax"]  # coefficient 0 is beyond the scale: drawn clipped, said so
    assert any("colour scale is set by coefficients 1 and up" in c.value for c in at.caption)


def test_a_clear_winner_is_no_tie():
    from gtzan_core.ensemble import near_tie, tie_text

    p = np.full(len(GENRES), 0.05)
    p[GENRES.index("pop")], p[GENRES.index("hiphop")] = 0.40, 0.20
    assert near_tie(p) is None and tie_text(p) is None
    p[GENRES.index("hiphop")] = 0.36
    assert near_tie(p) == ("pop", "hiphop")


@pytest.mark.heavy
def test_many_runs_get_a_row_each_on_the_timeline(tiny_features, tmp_path):
    from gtzan_core.plots import MANY_RUNS

    store, ids = mlp_runs(tiny_features, MANY_RUNS + 1)
    at = no_errors(page("predict").run())
    clip = write_clip(tmp_path / "song.wav", "rock", seconds=10.0)
    at.file_uploader[0].set_value(("song.wav", clip.read_bytes(), "audio/wav")).run()
    no_errors(at)
    spec = json.loads(next(c.proto.spec for c in at.get("plotly_chart") if "time in the clip" in c.proto.spec))
    rows = spec["layout"]["yaxis"]["categoryarray"]
    assert len(rows) == len(ids) and all(any(r[-6:] in row for row in rows) for r in ids)  # one row per run
    assert {t["name"] for t in spec["data"]} <= set(GENRES)  # coloured by genre, one legend entry each
    assert spec["layout"]["legend"]["title"]["text"] == "top genre"
    assert any("in the row of its run, coloured by the genre it chose" in c.value for c in at.caption)


@pytest.mark.heavy
def test_why_offers_what_the_model_supports_shows_progress_and_says_what_it_explained(tiny_features, tmp_path):
    store = RunStore()
    cnn = train(make_config("cnn", epochs=1, device="cpu"), tiny_features, store)["run_id"]
    mlp = train(make_config("mlp", epochs=1, device="cpu"), tiny_features, store)["run_id"]
    at = no_errors(page("predict").run())
    clip = write_clip(tmp_path / "song.wav", "jazz", seconds=40.0)
    at.file_uploader[0].set_value(("song.wav", clip.read_bytes(), "audio/wav")).run()
    no_errors(at)
    at.selectbox(key="ex-run").set_value(mlp).run()
    methods = next(m for m in at.multiselect if m.label == "Methods")
    assert list(methods.options) == ["occlusion", "segments"]  # no Grad-CAM for an MLP: not offered
    at.selectbox(key="ex-run").set_value(cnn).run()
    methods = next(m for m in at.multiselect if m.label == "Methods")
    assert list(methods.options) == ["occlusion", "gradcam", "segments"] and methods.value == list(methods.options)
    next(b for b in at.button if b.label == "Explain").click().run()
    no_errors(at)
    (box,) = at.status
    assert box.state == "complete" and box.label.startswith("Explained in ")
    done = box.get("progress")[0]
    assert done.proto.value == 100 and done.proto.text == "done"
    captions = [c.value for c in at.caption]
    said = next(c for c in captions if c.startswith("Explained: "))
    # the 40 s clip: the maps explain the segments that start in its first 30 s, segments score all of it
    assert "occlusion, gradcam: 0.0–30.0 s of the 40.0 s clip" in said and "segments: every segment of the clip, " \
        "0.0–39.0 s" in said, said
    lines = [m.value for m in at.markdown if m.value.startswith("**") and " · over " in m.value]
    assert {line.split("**")[1] for line in lines} == {"occlusion", "gradcam", "segments"}
    for line in lines:  # the strongest span lies inside the span the map covers
        (a, b), (c, d) = (tuple(map(float, pair)) for pair in re.findall(r"(\d+\.\d)–(\d+\.\d) s", line)[:2])
        assert a <= c < d <= b, line
        assert ("segments" in line) == (b > 30.0), line


@pytest.mark.heavy
def test_explain_reports_each_step_and_every_occlusion_batch(tiny_features):
    from gtzan_core.explain import STEPS, explain, methods_for

    store = RunStore()
    rid = train(make_config("cnn", epochs=1, device="cpu"), tiny_features, store)["run_id"]
    heard = []
    y = np.random.default_rng(0).standard_normal(22050 * 7).astype(np.float32) * 0.1
    ex = explain(y, rid, store, methods=("occlusion", "segments"), progress=lambda d, t, m: heard.append((d, t, m)))
    assert [d for d, _, _ in heard] == sorted(d for d, _, _ in heard) and heard[-1] == (STEPS, STEPS, "done")
    messages = [m for _, _, m in heard]
    assert messages[0] == "loading the model" and any(m.startswith("segments") for m in messages)
    batches = [m for m in messages if m.startswith("occlusion: ") and " of " in m]
    counts = [tuple(map(int, re.findall(r"(\d+) of (\d+)", m)[0])) for m in batches]
    total = counts[0][1]
    assert total >= 2 and counts == [(k, total) for k in range(1, total + 1)]  # every batch, in order
    assert set(ex.maps) == {"occlusion", "segments"}
    assert methods_for("cnn") == ("occlusion", "gradcam", "segments")
    assert methods_for("musicnn") == ("occlusion", "segments")  # no Grad-CAM layer in its spec
    assert methods_for("ast") == ("occlusion", "segments", "rollout")
    assert methods_for("logreg") == ()  # a feature vector: no map at all


@pytest.fixture
def logreg_run(tmp_path):
    from gtzan_core.data import open_dataset
    from gtzan_core.feature_cache import load_features
    from tests.helpers import write_table

    table = write_table(tmp_path / "features.csv", per_genre=8)
    store = RunStore()
    features = load_features(open_dataset(table), cache_dir=tmp_path / "cache")
    config = make_config("logreg", device="cpu")
    return store, train(config, features, store)["run_id"]


@pytest.mark.heavy
def test_a_feature_vector_run_speaks_of_its_c_values_its_one_level_and_its_fitted_values(logreg_run, capsys):
    from gtzan_core.cli.training import _print_evaluation
    from gtzan_core.models import record_steps
    from gtzan_core.models.sklearn_fit import C_GRID
    from gtzan_core.plots import loss_figure
    from gtzan_core.share.card import model_card
    from gtzan_core.tables import runs_frame, training_text
    from gtzan_core.webapp.formatting import job_progress, score_metrics

    store, rid = logreg_run
    record = store.read(rid)
    assert record["trainable_params"] == 0  # no trained weights...
    fitted = record["fit"]["fitted_values"]
    assert fitted == 57 * 10 + 10 + 2 * 57 + 10  # ...but 57 x 10 coefficients, intercepts, mean, scale, classes
    # the chart: one point per C tried, its tick names the value
    fig = loss_figure(record["history"], steps=record_steps(record))
    assert fig.layout.xaxis.title.text.startswith("C tried") and "epoch" not in fig.layout.xaxis.title.text
    assert list(fig.layout.xaxis.ticktext) == [f"{c:g}" for c in C_GRID]
    best = record["best_epoch"]
    assert training_text(record) == f"all 5 C values (best C = {C_GRID[best - 1]:g})"
    _print_evaluation(record)  # what `train` prints
    assert f", C values 5 (best C = {C_GRID[best - 1]:g})" in capsys.readouterr().out
    card = model_card(record)
    assert f"| C values | 5 (best C = {C_GRID[best - 1]:g}) on cpu |" in card and "| epochs |" not in card
    assert "| track |" in card and "segment / image" not in card  # one level: its sample is the track
    assert score_metrics(record) == [("test accuracy (track)", f"{record['evaluation']['track']['accuracy']:.3f}"),
                                     ("macro F1", f"{record['evaluation']['track']['macro_f1']:.3f}")]
    record_running = {**record, "status": "running", "phase": "training", "history": record["history"][:2]}
    assert job_progress(record_running)["phase"] == "C value 3 of ≤ 5"
    board = runs_frame([record])
    assert board.loc[0, "parameters"] == fitted and np.isnan(board.loc[0, "segment acc."])
    # what a person sees on the Leaderboard and on Predict
    at = no_errors(page("leaderboard").run())
    grid = at.dataframe[0].value
    row = grid[grid["run"] == rid].iloc[0]
    assert row["parameters"] == fitted and row["training"].startswith("all 5 C values")
    at = no_errors(page("train").run())  # its job card: the levels it has, its curve in C values
    labels = [m.label for m in at.metric]
    assert "test accuracy (track)" in labels and not any("segment" in label for label in labels)
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert any(c["layout"]["xaxis"]["title"]["text"].startswith("C tried") for c in charts)
    at = no_errors(page("predict").run())
    at.radio[0].set_value("A demo clip").run()
    no_errors(at)
    assert any("No explanation for this model: a feature-vector model" in i.value for i in at.info)
    assert not [b for b in at.button if b.label == "Explain"]
