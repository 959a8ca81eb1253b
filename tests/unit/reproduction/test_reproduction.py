"""The paper's recipe and protocol, and the one-command reproduction of its table."""

import json
import re

import numpy as np
import pytest

from gtzan_core.hparams import make_config, model_defaults, recipes
from gtzan_core.models import MODELS
from gtzan_core.reproduction.plan import PAPER_MODELS
from gtzan_core.splits import segment_split, track_split
from tests.helpers import SHARED_DATA

RECIPE_MD = SHARED_DATA.parent / "reference" / "paper-recipe.md"

#: paper-recipe.md's hyperparameter table, transcribed: lr, batch, max epochs, patience.
PAPER_TABLE = {"mlp": (1e-4, 32, 500, 20), "cnn": (1e-4, 32, 100, 10), "lstm": (1e-4, 32, 500, 20),
               "gru": (1e-4, 32, 500, 10), "vgg19": (1e-3, 50, 300, 15), "resnext": (1e-3, 50, 200, 15),
               "squeezenet": (1e-3, 50, 300, 15)}


def _recipe_values(model):
    d = model_defaults(model, "paper")
    return (d["lr"], d["batch_size"], d["epochs"], d["patience"])


def test_paper_recipe_is_the_papers_code():
    assert list(recipes())[0] == "paper" and "studio" in recipes()
    for model in PAPER_MODELS:
        assert _recipe_values(model) == PAPER_TABLE[model], model
        d = model_defaults(model, "paper")
        assert d["standardize"] is False and d["pretrained"] and d["freeze_backbone"]
        assert d["reshuffle"] is (MODELS[model].input_kind == "image")  # MFCC: one order, consecutive slices
    assert make_config("cnn").recipe == "paper"  # the default recipe


@pytest.mark.skipif(not RECIPE_MD.is_file(), reason="../shared/reference/paper-recipe.md is not beside the checkout")
def test_paper_recipe_matches_the_reference_markdown():
    text = RECIPE_MD.read_text()
    names = {"MLP": "mlp", "CNN": "cnn", "LSTM": "lstm", "GRU": "gru", "VGG19": "vgg19", "ResNeXt": "resnext",
             "SqueezeNet": "squeezenet"}
    found = {}
    for row in re.findall(r"^\| (\w+) \| ([\d.e-]+)[^|]*\| (\d+) \| (\d+) \| (\d+) \|$", text, re.M):
        if row[0] in names:
            found[names[row[0]]] = (float(row[1]), int(row[2]), int(row[3]), int(row[4]))
    assert len(found) == 7
    for model, values in found.items():
        assert _recipe_values(model) == values, model


@pytest.fixture(scope="module")
def hundred_tracks(tmp_path_factory):
    """A 100-track synthetic set (10 per genre, 2 segments each) and its MFCC features."""
    from gtzan_core.data import discover_dataset
    from gtzan_core.data.synth import generate_demo
    from gtzan_core.feature_cache import load_features
    from gtzan_core.features import ImageParams

    base = tmp_path_factory.mktemp("hundred")
    ds = discover_dataset(generate_demo(base / "demo", per_genre=10, seconds=6.2, seed=5))
    return load_features(ds, image=ImageParams(source="none"), cache_dir=base / "features")


def test_paper_protocol_split_sizes_per_family(hundred_tracks):
    from sklearn.model_selection import train_test_split

    fs = hundred_tracks
    assert len(fs.tracks) == 100 and len(fs.samples("mfcc")[0]) == 200
    images = track_split(fs.tracks, "paper", seed=7, synthetic=True, unit="image")
    assert (len(images.train), len(images.test)) == (80, 20) and images.unit == "image"
    assert np.array_equal(images.val, images.test) and images.selection_on_test and not images.leaky
    _, expected_test = train_test_split(np.arange(100), test_size=0.2, random_state=42, shuffle=True)
    assert np.array_equal(images.test, np.sort(expected_test))  # seed 42 whatever the run's seed
    assert np.array_equal(track_split(fs.tracks, "paper", seed=0, synthetic=True).test, images.test)

    segs = segment_split(fs.tracks, fs.samples("mfcc")[1], "paper", seed=7, synthetic=True)
    assert (len(segs.train), len(segs.test)) == (140, 60) and segs.unit == "segment"
    assert np.array_equal(segs.val, segs.test) and segs.leaky and segs.selection_on_test
    shared = set(fs.samples("mfcc")[1][segs.train]) & set(fs.samples("mfcc")[1][segs.test])
    assert shared  # the leak: tracks with segments on both sides

    honest = segment_split(fs.tracks, fs.samples("mfcc")[1], "track", seed=7, synthetic=True)
    assert not honest.selection_on_test and not (set(fs.samples("mfcc")[1][honest.train]) & set(fs.samples("mfcc")[1][honest.test]))


def _record(model, protocol, seed, acc, f1=None):
    from gtzan_core.splits import protocol_info

    kind = MODELS[model].input_kind
    report = {g: {"f1-score": acc} for g in ("blues", "rock")}
    return {"model": model, "protocol": protocol, "status": "finished", "created": seed,
            **protocol_info(protocol, kind), "reproduction": {"id": "r1", "seed": seed},
            "dataset": {"label": "synthetic demo"}, "recipe": "paper", "recipe_changes": {},
            "evaluation": {"segment": {"accuracy": acc, "macro_f1": f1 if f1 is not None else acc, "report": report},
                           "track": {"accuracy": acc, "macro_f1": acc}}}


def test_tables_mean_sd_differences_and_inflation():
    from gtzan_core.reproduction import comparison_table, per_class_f1, protocol_table

    records = [_record("cnn", "paper", 0, 0.90), _record("cnn", "paper", 1, 0.80),
               _record("cnn", "track", 0, 0.60), _record("cnn", "track", 1, 0.70),
               _record("vgg19", "paper", 0, 0.50), _record("vgg19", "track", 0, 0.40)]
    table = protocol_table(records)
    assert list(table.protocol) == ["paper", "paper", "track", "track"]  # paper protocol first
    cnn = table[(table.model == "cnn") & (table.protocol == "paper")].iloc[0]
    assert cnn.accuracy == pytest.approx(0.85) and cnn.accuracy_sd == pytest.approx(np.std([0.9, 0.8], ddof=1))
    assert cnn.paper_accuracy == 0.79 and cnn.delta_accuracy == pytest.approx(0.06)
    assert "leaky" in cnn.protocol_label
    vgg = table[(table.model == "vgg19") & (table.protocol == "paper")].iloc[0]
    assert "early-stopped on test" in vgg.protocol_label and "leaky" not in vgg.protocol_label
    assert np.isnan(vgg.accuracy_sd)  # one seed: no sd
    comp = comparison_table(records).set_index("model")
    assert comp.loc["cnn", "inflation"] == pytest.approx(0.85 - 0.65)
    assert comp.loc["cnn", "delta_honest"] == pytest.approx(0.65 - 0.79)
    assert comp.loc["vgg19", "honest_protocol"] == "track" and comp.loc["vgg19", "paper_accuracy"] == 0.73
    ours, paper = per_class_f1(records, "vgg19")
    assert list(paper.index)[0] == "blues" and paper.loc["rock", "paper"] == 0.40  # Table 5 maps to genres
    assert ours.loc["blues", "ours · paper"] == 0.5
    _, paper_cnn = per_class_f1(records, "cnn")
    assert list(paper_cnn.index)[0] == "class 0"  # MFCC tables do not map to genres


def test_report_is_one_self_contained_html(tmp_path):
    from gtzan_core.reproduction import write_report

    records = [_record("cnn", "paper", 0, 0.9), _record("cnn", "track", 0, 0.6)]
    text = write_report(tmp_path / "r.html", records, "r1").read_text()
    assert text.startswith("<!doctype html>") and "Synthetic demo set, not GTZAN" in text
    assert "plotly" in text.lower() and "<script src=\"http" not in text  # plotly.js embedded, no CDN
    assert "leak inflation" in text and "+0.300" in text and "Table 2" in text


@pytest.mark.heavy
def test_reproduce_cli_one_epoch_every_model_and_protocol(tmp_path, capsys):
    """The done-when command on a small synthetic set: one row per model and protocol."""
    from gtzan_core.cli import main
    from gtzan_core.data.synth import generate_demo
    from gtzan_core.runs import RunStore

    data = generate_demo(tmp_path / "synth", per_genre=3, seconds=6.2, seed=3)
    out = tmp_path / "report.html"
    args = ["reproduce", "--data", str(data), "--epochs", "1", "--device", "cpu", "--json", "--out", str(out),
            "--runs", str(tmp_path / "runs")]
    # 3 tracks a genre: no split can say anything; each protocol skipped, saying why
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "skipped paper protocol for mlp, cnn, lstm, gru" in err and "skipped track protocol" in err
    assert "every run of this reproduction was skipped" in err and not RunStore(tmp_path / "runs").list()
    code = main(args + ["--allow-weak-split"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["dataset"] == "synthetic demo" and result["seeds"] == 1
    rows = result["rows"]
    assert {(r["model"], r["protocol"]) for r in rows} == {(m, p) for m in PAPER_MODELS for p in ("paper", "track")}
    for r in rows:
        assert r["seeds_done"] == 1 and 0 <= r["accuracy"] <= 1 and r["paper_accuracy"] > 0.5
        assert r["delta_accuracy"] == pytest.approx(r["accuracy"] - r["paper_accuracy"])
    assert len(result["comparison"]) == 7 and out.is_file() and "Reproducing the paper" in out.read_text()
    runs = RunStore(tmp_path / "runs").list()
    assert len(runs) == 14 and {r["reproduction"]["id"] for r in runs} == {result["reproduction"]}
    assert all(r["recipe"] == "paper" and r["recipe_changes"] == {"epochs": 1} for r in runs)
    image_paper = [r for r in runs if r["protocol"] == "paper" and r["input_kind"] == "image"]
    assert all(r["split"]["test"] == 6 and r["split"]["monitor"] == "test" for r in image_paper)  # 20% of 30
