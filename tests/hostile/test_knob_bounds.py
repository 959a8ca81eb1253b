"""Issue 41, item 4: every numeric knob has declared bounds (gtzan_core.knobs: each knob declared once),
checked by the one validation every entry point passes (CLI, Train form, job records,
search spaces, recipes files, imported runs); a job's memory is estimated and checked
against the budget (GTZAN_STUDIO_MAX_JOB_MB) before anything is allocated."""

from __future__ import annotations

import io
import json
import math

import pytest
import torch

from gtzan_core.errors import ConfigError
from gtzan_core.hparams import load_hparams, make_config
from gtzan_core.jobs import JobSpec, preflight
from gtzan_core.knobs import bounds
from gtzan_core.runs import RunStore
from gtzan_core.search.space import check_space, default_space
from gtzan_core.training.memory import MemoryBudgetError, estimate
from tests.helpers import run  # (the CLI called in-process, its exit code and output)

BOUNDS = bounds()


@pytest.fixture
def tiny_demo_env(monkeypatch):
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_PER_GENRE", "4")
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_SECONDS", "6.2")


@pytest.mark.parametrize("flags,needle", [
    (["--depth", "10000"], "depth must be between 1 and 24 (got 10000)"),
    (["--width", "100000"], "width must be between 4 and 768 (got 100000)"),
    (["--lr", "inf"], "lr must be a finite number (got inf)"),
    (["--lr", "nan"], "lr must be a finite number (got nan)"),
    (["--mixup", "inf"], "mixup must be a finite number (got inf)"),
    (["--weight-decay", "-5"], "weight-decay must be between 0 and 1 (got -5)"),
    (["--batch-size", "100000000"], "batch-size must be between 1 and 4096 (got 100000000)"),
    (["--seed", "-1"], "seed must be between 0 and 4294967295 (got -1)"),
])
def test_the_cli_refuses_a_knob_outside_its_bounds_in_one_line_before_any_run(tiny_demo_env, capsys, flags,
                                                                                needle):
    code, out, err = run(capsys, "train", "ast", "--epochs", "1", "--device", "cpu", *flags)
    assert code == 2 and err.strip() == f"error: {needle}", err
    assert RunStore().list() == []  # nothing created, nothing trained


@pytest.mark.parametrize("config,needle", [
    ({"model": "ast", "depth": 10000}, "depth must be between 1 and 24"),
    ({"model": "mlp", "epochs": 10 ** 12}, "epochs must be between 1 and 10000"),
    ({"model": "mlp", "epochs": 2.5}, "epochs must be a whole number (got 2.5)"),
    ({"model": "mlp", "lr": float("nan")}, "lr must be a finite number"),
    ({"model": "mlp", "batch_size": "32"}, "batch-size must be a number (got '32')"),
    ({"model": "mlp", "patience": True}, "patience must be a number (got True)"),
])
def test_a_job_record_with_a_knob_outside_its_bounds_is_refused(config, needle):
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        JobSpec.from_dict({"config": config})


def test_a_search_space_cannot_reach_beyond_a_knobs_bounds():
    with pytest.raises(ConfigError, match="depth's range: depth must be between 1 and 24 \\(got 10000\\)"):
        check_space({"depth": {"type": "int", "low": 2, "high": 10000}})
    with pytest.raises(ConfigError, match="batch_size's range: batch-size must be between 1 and 4096"):
        check_space({"batch_size": {"type": "categorical", "choices": [32, 10 ** 9]}})
    hp = load_hparams()
    hp["search_spaces"]["ast"] = {**hp["search_spaces"]["ast"], "width": {"type": "categorical",
                                                                           "choices": [64, 4096]}}
    with pytest.raises(ConfigError, match="width must be between 4 and 768 \\(got 4096\\)"):
        default_space("ast", hp)  # a recipes file's own space (GTZAN_STUDIO_HPARAMS)
    for model in ("mlp", "ast", "hgb", "vgg19"):  # the shipped spaces lie within the bounds
        assert default_space(model)


def test_a_recipes_file_with_a_knob_outside_its_bounds_is_refused_naming_the_recipe(tmp_path, monkeypatch, capsys):
    hp = load_hparams()
    hp["recipes"]["paper"]["ast"] = {**hp["recipes"]["paper"]["ast"], "depth": 10000}
    path = tmp_path / "recipes.yaml"
    path.write_text(json.dumps(hp))  # (JSON is YAML)
    monkeypatch.setenv("GTZAN_STUDIO_HPARAMS", str(path))
    with pytest.raises(ConfigError, match="recipe 'paper' for 'ast': depth must be between 1 and 24"):
        make_config("ast")


def test_an_imported_run_whose_options_are_outside_the_bounds_is_refused(tiny_features, tmp_path):
    from gtzan_core.jobs import train
    from gtzan_core.share import ArchiveError, import_archive
    from gtzan_core.share.archive import archive_members
    from tests.helpers import resigned, zip_of

    store = RunStore(tmp_path / "src")
    rid = train(make_config("mlp", recipe="studio", epochs=1, device="cpu"), tiny_features, store)["run_id"]
    members = archive_members(store, rid)
    record = json.loads(members["record.json"])
    forged = resigned({**members, "record.json": json.dumps(
        {**record, "config": {**record["config"], "batch_size": -5}}).encode()})
    with pytest.raises(ArchiveError, match="its configuration's batch-size must be between 1 and 4096"):
        import_archive(zip_of(forged), RunStore(tmp_path / "a"))
    ckpt = torch.load(io.BytesIO(members["model.pt"]), weights_only=True)
    ckpt["meta"]["options"] = {**ckpt["meta"]["options"], "depth": 10 ** 6}
    buf = io.BytesIO()
    torch.save(ckpt, buf)
    with pytest.raises(ArchiveError, match="options are outside the studio's bounds \\(depth must be between"):
        import_archive(zip_of(resigned({**members, "model.pt": buf.getvalue()})), RunStore(tmp_path / "b"))


def test_every_bound_is_finite_and_the_recipes_lie_within_them():
    for name, bound in BOUNDS.items():
        assert math.isfinite(bound.low) and math.isfinite(bound.high) and bound.low <= bound.high, name
    hp = load_hparams()
    for recipe in hp["recipes"]:
        for model in ("mlp", "cnn", "ast", "vgg19", "hgb", "feature_mlp"):
            make_config(model, recipe)  # every shipped recipe passes its own bounds


# -- memory -----------------------------------------------------------------------------------------------------------

def test_the_estimate_grows_with_the_transformers_size_and_batch():
    small = estimate(make_config("ast"))
    deep = estimate(make_config("ast", depth=24, width=768))
    big_batch = estimate(make_config("ast", batch_size=1024))
    assert small is not None and deep is not None and big_batch is not None
    assert 200_000 < small.parameters < 250_000  # the recipe's 0.22M (python -m gtzan_core models)
    assert deep.parameters > 100 * small.parameters
    assert deep.total - deep.runtime > 10 * (small.total - small.runtime) and deep.runtime == small.runtime
    # every parameter trains: its gradient and Adam's two moments (the weights hold the buffers too)
    assert deep.gradients == 4 * deep.trainable <= deep.weights and deep.optimizer == 2 * deep.gradients
    assert big_batch.activations > 10 * small.activations  # (32x the batch; validation's batch is the same)


def test_a_job_over_the_memory_budget_is_refused_naming_estimate_and_limit(tiny_demo_env, capsys, monkeypatch):
    monkeypatch.setenv("GTZAN_STUDIO_MAX_JOB_MB", "2000")
    code, out, err = run(capsys, "train", "ast", "--depth", "24", "--width", "768", "--epochs", "1", "--device",
                         "cpu")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "AST (Transformer) (depth 24, width 768, dropout 0.1) at batch size 32 would need about" in err
    assert "over the memory budget of 2.0 GB per job (GTZAN_STUDIO_MAX_JOB_MB)" in err
    assert RunStore().list() == []
    # the recipe's own Transformer fits the same budget
    assert preflight([JobSpec(make_config("ast", epochs=1))]) == []


def test_the_memory_budget_is_part_of_the_one_gate_every_caller_passes(monkeypatch):
    from gtzan_core.classroom import Settings

    monkeypatch.setenv("GTZAN_STUDIO_MAX_JOB_MB", "1500")
    big = JobSpec(make_config("ast", depth=12, width=384, batch_size=256, epochs=1), owner="alice")
    with pytest.raises(MemoryBudgetError, match="over the memory budget of 1.5 GB per job"):
        preflight([big], settings=Settings(mode="classroom"), store=None)
    with pytest.raises(MemoryBudgetError):
        preflight([JobSpec(make_config("mlp", epochs=1)), big])  # a batch of jobs: each one is checked


@pytest.mark.heavy
def test_the_train_forms_depth_field_is_bounded_and_depth_10000_queues_nothing(demo_app):
    from tests.helpers import ended, wait_until

    at = demo_app("train")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.multiselect(key="train-models").set_value(["ast"]).run()
    depth = at.number_input(key="de-ast-paper")
    assert depth.max == BOUNDS["depth"].high and depth.min == BOUNDS["depth"].low
    assert at.number_input(key="wi-ast-paper").max == BOUNDS["width"].high
    assert at.number_input(key="mx-ast-paper").max == BOUNDS["mixup"].high
    depth.set_value(10000)
    at.number_input(key="ep-ast-paper").set_value(1)
    at.checkbox[0].check()  # the tiny demo set's split is weak
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    store = RunStore()
    runs = store.list()  # the field keeps a value within its bounds: nothing outside them is ever queued
    assert all(r["config"]["depth"] <= BOUNDS["depth"].high for r in runs), [r["config"]["depth"] for r in runs]
    for r in runs:
        wait_until(ended(store, r["run_id"]), timeout=120, what="the job to end")


@pytest.mark.heavy
def test_the_train_form_refuses_a_transformer_over_the_memory_budget_naming_estimate_and_limit(demo_app,
                                                                                               monkeypatch):
    monkeypatch.setenv("GTZAN_STUDIO_MAX_JOB_MB", "2000")
    at = demo_app("train")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.multiselect(key="train-models").set_value(["ast"]).run()
    at.number_input(key="de-ast-paper").set_value(24)
    at.number_input(key="wi-ast-paper").set_value(768)
    at.number_input(key="ep-ast-paper").set_value(1)
    at.checkbox[0].check()  # the tiny demo set's split is weak
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    errors = " ".join(e.value for e in at.error)
    assert "AST (Transformer) (depth 24, width 768" in errors and "would need about" in errors, errors
    assert "over the memory budget of 2.0 GB per job (GTZAN_STUDIO_MAX_JOB_MB)" in errors
    assert RunStore().list() == []  # nothing queued


@pytest.mark.heavy
def test_a_search_started_on_the_page_passes_the_memory_budget(demo_app, monkeypatch):
    from gtzan_core.runs.studies import study_names

    monkeypatch.setenv("GTZAN_STUDIO_MAX_JOB_MB", "1000")  # under what even the MLP's job needs here
    at = demo_app("train")
    at.run()
    at.selectbox(key="search-model").set_value("mlp").run()
    at.text_input(key="search-name").set_value("too-big")
    at.button(key="search-start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    errors = " ".join(e.value for e in at.error)
    assert "MLP" in errors and "would need about" in errors, errors
    assert "over the memory budget of 1000 MB per job (GTZAN_STUDIO_MAX_JOB_MB)" in errors
    store = RunStore()
    assert store.list() == [] and study_names(store.root, None) == []  # no study, no trial
