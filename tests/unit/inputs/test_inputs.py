"""Input kinds as objects (gtzan_core.inputs) and models added by registering a spec."""

import json

import numpy as np
import pytest

from gtzan_core.errors import ConfigError
from gtzan_core.share.onnx_export import onnx_available
from tests.helpers import run  # (the CLI called in-process, its exit code and output)


@pytest.fixture
def toy_model():
    """A model nobody else knows, on the existing MFCC kind: a linear layer over a segment.
    Registering its spec is all it takes (no other module changes)."""
    from torch import nn

    from gtzan_core.models import ModelSpec, register_model, unregister_model
    from gtzan_core.models.weights import WeightsStatus

    def build(n_classes=10, frames=130, n_mfcc=13):
        return nn.Sequential(nn.Flatten(), nn.Linear(frames * n_mfcc, n_classes)), WeightsStatus(False, "from scratch")

    spec = register_model(ModelSpec("toy", "Toy", "mfcc", "a linear layer over MFCCs (a test)", build))
    yield spec
    unregister_model("toy")


@pytest.mark.heavy
def test_a_registered_toy_model_trains_predicts_and_explains_through_the_cli(toy_model, tiny_demo_set, tmp_path,
                                                                              capsys):
    from gtzan_core.explain import explain
    from gtzan_core.runs import RunStore
    from tests.helpers import write_clip

    code, out, err = run(capsys, "train", "toy", "--data", tiny_demo_set.root, "--epochs", "2", "--device", "cpu",
                         "--allow-weak-split")
    assert code == 0, err
    assert "toy on synthetic demo, protocol track" in out and "test segment accuracy" in out
    run_id = out.split("run ")[1].split(":")[0]
    record = RunStore().read(run_id)
    assert record["status"] == "finished" and record["input_kind"] == "mfcc" and record["title"] == "Toy"
    assert record["split"]["unit"] == "segment" and record["image_sources"] is None
    assert record["padded_inputs"] == {"tracks": 0, "of": 40, "unit": "segment"}  # 6.2 s clips: 2 whole segments
    assert record["trainable_params"] == 130 * 13 * 10 + 10

    clip = write_clip(tmp_path / "song.wav", "disco", seconds=8.0)
    code, out, _ = run(capsys, "predict", clip, "--run", run_id, "--json")
    res = json.loads(out)[run_id]
    assert code == 0 and res["model"] == "toy" and res["unit"] == "segment" and res["segments"] == 2
    assert sum(res["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)

    ex = explain(str(clip), run_id, methods=("occlusion", "gradcam"))
    assert set(ex.maps) == {"occlusion"}  # no Grad-CAM layer on its spec: not a conv model
    assert ex.maps["occlusion"].values.shape == (13, 2 * 130) and ex.maps["occlusion"].band_unit == "MFCC coefficient"

    code, out, err = run(capsys, "export", run_id, "--out", tmp_path / "toy.onnx", "--format", "onnx", "--json")
    if onnx_available(check=True):
        assert code == 0 and json.loads(out)["max_abs_diff"] < 1e-4
        assert "Cut into segments of 66150 samples" in (tmp_path / "toy.md").read_text()  # the MFCC kind's recipe
    elif not onnx_available():  # an optional extra the README's install leaves out: named in one line
        assert code == 2 and "optional package onnx" in err and "pip install onnx" in err
    else:  # onnx without onnxruntime: exported, not checked
        assert code == 0
    assert run(capsys, "export", run_id, "--out", tmp_path / "toy.zip")[0] == 0
    code, out, _ = run(capsys, "import", tmp_path / "toy.zip", "--runs", tmp_path / "elsewhere", "--json")
    assert code == 0 and json.loads(out.splitlines()[-1])["run_id"] == run_id


def test_the_cli_offers_registered_models_and_forgets_unregistered_ones(toy_model, capsys):
    from gtzan_core.models import unregister_model

    code, out, _ = run(capsys, "models", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert code == 0 and rows["toy"]["input_kind"] == "mfcc" and rows["toy"]["input_shape"] == [130, 13]
    unregister_model("toy")
    code, _, err = run(capsys, "train", "toy")
    assert code == 2 and "invalid choice: 'toy'" in err


def test_a_spec_is_refused_with_one_line_when_it_cannot_be_registered(toy_model):
    from gtzan_core.models import MODELS, ModelSpec, register_model

    with pytest.raises(ConfigError, match="already registered"):
        register_model(ModelSpec("toy", "Toy", "mfcc", "again", toy_model.builder))
    with pytest.raises(ConfigError, match="unknown input kind 'wav'; the studio has mfcc, image, musicnn"):
        register_model(ModelSpec("wavey", "Wavey", "wav", "no such kind", toy_model.builder))
    with pytest.raises(ConfigError, match="needs its image_size"):
        register_model(ModelSpec("pic", "Pic", "image", "a picture model without a size", toy_model.builder))
    assert "wavey" not in MODELS and "pic" not in MODELS


def test_each_kind_reads_its_own_arrays_of_a_feature_set_and_checks_them(tiny_features_for):
    from gtzan_core.inputs import get_kind
    from gtzan_core.models import MODELS

    fs = tiny_features_for(None)  # MFCCs and 224² pictures, no musicnn patches
    mfcc, image, musicnn = (get_kind(n) for n in ("mfcc", "image", "musicnn"))
    assert fs.samples("mfcc")[0].shape == (80, 130, 13)  # two segments per 6.2 s track
    assert fs.samples("mfcc")[1].tolist() == np.repeat(np.arange(40), 2).tolist()
    assert fs.samples("image")[0].shape == (40, 224, 224, 3) and fs.samples("image")[1].tolist() == list(range(40))
    assert mfcc.has(fs).all() and image.has(fs).all() and not musicnn.has(fs).any()
    with pytest.raises(ConfigError, match="without the musicnn input"):
        musicnn.check_features(fs, MODELS["musicnn"])
    with pytest.raises(ConfigError, match="takes 256² images; these features hold 224²"):
        image.check_features(fs, MODELS["resnext"])
    image.check_features(fs, MODELS["vgg19"])
    assert image.record_facts(fs) == {"image_sources": {"render": 40}, "padded_inputs": None}
    assert mfcc.record_facts(fs) == {"image_sources": None, "padded_inputs": {"tracks": 0, "of": 40, "unit": "segment"}}


@pytest.mark.heavy
def test_a_record_naming_an_unknown_kind_is_refused_by_predict_not_crashed_on(toy_model, tiny_features_for, tmp_path):
    """Such a record is a damaged run (its readers could not show it): listed apart with
    what is wrong, and predicting with it is refused in one line naming it."""
    from gtzan_core.hparams import make_config
    from gtzan_core.inference import predict
    from gtzan_core.jobs import train
    from gtzan_core.runs import RecordError, RunStore

    store = RunStore(tmp_path / "runs")
    record = train(make_config("toy", epochs=1, device="cpu"), tiny_features_for("toy"), store)
    store.update(record["run_id"], input_kind="wav")  # e.g. written by a newer studio
    problem = "unknown input kind 'wav'; the studio has mfcc, image, musicnn"
    assert [(d.run_id, problem in d.problem) for d in store.damaged()] == [(record["run_id"], True)]
    assert store.list() == []
    y = np.random.default_rng(0).standard_normal(22050 * 4).astype(np.float32) * 0.1
    with pytest.raises(RecordError, match=f"run {record['run_id']}: .*{problem}"):
        predict(y, [record["run_id"]], store)


def test_the_pages_words_about_a_kind_live_in_the_web_layer():
    """A kind says whether it standardises; the Train page's label is the web layer's, with a
    plain default for a kind it has no words for (issue 43)."""
    from gtzan_core.inputs import KINDS, InputKind
    from gtzan_core.webapp.kinds import STANDARDIZE_DEFAULT, no_explanation, standardize_label

    assert {n for n, k in KINDS.items() if standardize_label(k)} == {"mfcc", "vector"}
    assert standardize_label(KINDS["mfcc"]) == "standardise MFCCs (training-split statistics)"
    assert not any(hasattr(k, "standardize_label") for k in KINDS.values())
    new = type("Chroma", (InputKind,), {"name": "chroma-words", "standardizes": True})()
    assert standardize_label(new) == STANDARDIZE_DEFAULT
    assert no_explanation(KINDS["vector"]) == KINDS["vector"].no_explanation
    assert "does not know" in no_explanation(new)
