"""Issue 43, item 2: each training knob is declared once (gtzan_core/knobs.py), and the CLI's
flags, the Train form's fields, validation, the recipe diff and the docs' table are made from
that one declaration. A knob added in a test (monkeypatched into the registry) appears in all."""

from __future__ import annotations

import importlib.util
from dataclasses import fields

import pytest

from gtzan_core import knobs
from gtzan_core.cli import main
from gtzan_core.cli.common import knob_values
from gtzan_core.cli.parser import build_parser
from gtzan_core.errors import ConfigError
from gtzan_core.hparams import TrainConfig, make_config
from gtzan_core.knobs import Bound, Knob
from tests.helpers import ROOT

NEW = Knob("label_smoothing", float, 0.0, "label smoothing of the cross-entropy (0: off)", "training",
           Bound(0.0, 0.5), recorded_unnamed=True, label="label smoothing", key="ls")


@pytest.fixture
def new_knob(monkeypatch):
    """One hyperparameter more, in one declaration (the registry is restored after the test)."""
    monkeypatch.setitem(knobs.KNOBS, NEW.name, NEW)
    return NEW


def test_a_new_knob_gets_a_cli_flag_that_reaches_the_config(new_knob):
    args = build_parser().parse_args(["train", "mlp", "--label-smoothing", "0.1"])
    assert args.label_smoothing == 0.1
    assert knob_values(args)["label_smoothing"] == 0.1
    config = make_config("mlp", **knob_values(args))
    assert config.value("label_smoothing") == 0.1 and config.as_dict()["extra"] == {"label_smoothing": 0.1}
    # recorded as a change from the recipe (it names no label smoothing; the knob counts it against its default)
    assert config.recipe_changes() == {"label_smoothing": 0.1}
    assert make_config("mlp").recipe_changes() == {} and make_config("mlp").value("label_smoothing") == 0.0
    assert "--label-smoothing" in build_parser()._subparsers._group_actions[0].choices["train"].format_help()


def test_a_new_knob_is_validated_everywhere_from_its_bounds(new_knob, capsys):
    with pytest.raises(ConfigError, match=r"^label-smoothing must be between 0 and 0\.5 \(got 0\.9\)$"):
        make_config("mlp", label_smoothing=0.9)
    with pytest.raises(ConfigError, match="label-smoothing must be a number"):
        make_config("mlp", label_smoothing="lots")
    # a job record carrying it (TrainConfig(**raw) as jobs/job.py rebuilds one) passes the same check
    with pytest.raises(ConfigError, match="label-smoothing must be between"):
        TrainConfig(model="mlp", extra={"label_smoothing": -1.0}).validate()
    # the CLI refuses it in one line, before any data is read
    code = _cli("train", "mlp", "--label-smoothing", "0.9")
    err = capsys.readouterr().err
    assert code == 2 and err.strip().splitlines() == [err.strip()]
    assert "label-smoothing must be between 0 and 0.5" in err


def test_without_the_declaration_the_knob_is_unknown_everywhere():
    assert "label_smoothing" not in knobs.KNOBS
    with pytest.raises(ConfigError, match="unknown setting"):
        make_config("mlp", label_smoothing=0.1)
    with pytest.raises(ConfigError, match="unknown setting"):
        TrainConfig(model="mlp", extra={"label_smoothing": 0.1}).validate()
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "mlp", "--label-smoothing", "0.1"])


def test_a_new_knob_appears_in_the_docs_table_and_the_committed_pages_go_stale(new_knob):
    spec = importlib.util.spec_from_file_location("docs_gen", ROOT / "docs" / "gen.py")
    assert spec is not None and spec.loader is not None
    docs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(docs)
    page = docs.knobs_page()
    row = next(line for line in page.splitlines() if line.startswith("| `label_smoothing`"))
    assert "`--label-smoothing`" in row and "0 to 0.5" in row and "every model" in row and "label smoothing" in row
    assert {"reference/knobs.md", "reference/cli.md"} <= set(docs.stale())


def _cli(*argv) -> int:
    try:
        return main(list(argv))
    except SystemExit as exc:
        return int(exc.code or 0)


def test_every_knob_is_a_trainconfig_field_with_its_declared_default():
    """Today's knobs each have a field (extra is for a knob just added); its default is the declaration's."""
    defaults = {f.name: f.default for f in fields(TrainConfig)}
    for k in knobs.KNOBS.values():
        assert k.name in defaults and defaults[k.name] == k.default, k.name
        assert (k.bound is None) or (k.type in (int, float)), k.name  # only numbers have bounds
        assert not (k.negate and k.type is not bool), k.name
    flags = [k.flag_name for k in knobs.KNOBS.values() if k.cli]
    keys = [k.widget_key for k in knobs.KNOBS.values() if k.form]
    assert len(set(flags)) == len(flags) and len(set(keys)) == len(keys)


def test_choices_are_checked_from_the_declaration():
    with pytest.raises(ConfigError, match=r"^optimizer must be one of adam, adamw \(got 'sgd'\)$"):
        make_config("ast", optimizer="sgd")
    with pytest.raises(ConfigError, match="schedule must be one of constant, cosine"):
        make_config("ast", schedule="linear")


def test_the_cli_flags_keep_their_names_and_meaning():
    args = build_parser().parse_args(["train", "resnext", "--unfreeze", "--no-pretrained", "--variant",
                                      "resnext50_32x4d", "--epochs", "3", "--seed", "4", "--mixup", "0.5"])
    values = knob_values(args)
    assert values["freeze_backbone"] is False and values["pretrained"] is False
    assert values["variant"] == "resnext50_32x4d" and values["epochs"] == 3 and values["seed"] == 4
    assert values["mixup"] == 0.5 and values["lr"] is None and values["optimizer"] is None
    plain = knob_values(build_parser().parse_args(["train", "resnext"]))
    assert plain["freeze_backbone"] is None and plain["pretrained"] is None  # None: the recipe's


@pytest.mark.heavy
def test_a_new_knob_appears_in_the_train_form_with_its_bounds(new_knob, demo_app):
    at = demo_app("train")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.multiselect(key="train-models").set_value(["mlp", "ast"]).run()
    assert not at.exception, [e.value for e in at.exception]
    for model in ("mlp", "ast"):  # a knob of every model: in each chosen model's expander
        field = at.number_input(key=f"ls-{model}-paper")
        assert field.label == "label smoothing" and field.value == 0.0
        assert (field.min, field.max) == (0.0, 0.5)
    # the Transformer's knobs stay the Transformer's: no mixup field for the MLP
    keys = {w.key for w in at.number_input}
    assert "mx-ast-paper" in keys and "mx-mlp-paper" not in keys
