"""The musicnn starter is chosen among musicnn's heads (MSD, MTT, both) on GTZAN validation
figures only: the transfer table carries each head's validation accuracy, the choice reads
it (never the test figures), and the shipped starter is the head it chose, its card saying so."""

from __future__ import annotations

import copy
import json

import pytest

from gtzan_core.errors import ConfigError
from gtzan_core.reproduction.transfer import transfer_table
from gtzan_core.starter import STARTERS, Starter, shipped_dir, starter_choice

MUSICNN = STARTERS["musicnn"]
SHIPPED = shipped_dir() / MUSICNN.run_id
needs_starter = pytest.mark.skipif(not (SHIPPED / "record.json").is_file(), reason=f"no musicnn starter at {SHIPPED}")


def _with_val(record: dict, val: float, seed: int) -> dict:
    r = copy.deepcopy(record)
    r["transfer"] = {"id": "t", "condition": "frozen, new head", "pretrained_on": "music", "seed": seed, "seeds": 3}
    for h in r["history"]:
        if h["epoch"] == r["best_epoch"]:
            h["val_acc"] = val
        else:
            h["val_acc"] = 0.99  # another epoch's figure: never the one read
    return r


@needs_starter
def test_the_transfer_table_carries_the_kept_epochs_validation_accuracy_and_epochs():
    base = json.loads((SHIPPED / "record.json").read_text())  # a real finished record, as tracked
    table = transfer_table([_with_val(base, v, k) for k, v in enumerate((0.7, 0.8, 0.9))])
    row = table.iloc[0]
    assert row["val_accuracy"] == pytest.approx(0.8) and row["val_accuracy_sd"] == pytest.approx(0.1)
    assert row["epochs"] == [base["epochs_run"]] * 3 and base["epochs_run"] > 0


def _result(tmp_path, monkeypatch, rows: list[dict]) -> Starter:
    folder = tmp_path / "shipped"
    folder.mkdir()
    (folder / "r.json").write_text(json.dumps({"kind": "transfer", "command": "python -m gtzan_core transfer ...",
                                               "date": "2026-12-07", "rows": rows}))
    monkeypatch.setattr("gtzan_core.reproduction.result_files.shipped_dir", lambda: folder)
    return Starter("a", "starter-x", "cmd", "audio", candidates=("a", "b"), chosen_in="r.json")


def _row(model, val, test, condition="frozen, new head"):
    return {"model": model, "condition": condition, "val_accuracy": val, "val_accuracy_sd": 0.01,
            "track_accuracy": test, "track_accuracy_sd": 0.02, "seeds_done": 3}


def test_the_choice_reads_validation_never_test(tmp_path, monkeypatch):
    # b is better on test, a on validation: a is chosen; a random-init row of b is not a candidate
    starter = _result(tmp_path, monkeypatch, [_row("a", 0.80, 0.70), _row("b", 0.75, 0.90),
                                               _row("b", 0.95, 0.95, condition="random init, frozen")])
    choice = starter_choice(starter)
    assert choice["chosen"] == "a" and [c["model"] for c in choice["candidates"]] == ["a", "b"]
    assert choice["candidates"][1]["val_accuracy"] == 0.75 and "validation" in choice["rule"]


def test_a_result_without_validation_figures_is_refused_by_name(tmp_path, monkeypatch):
    starter = _result(tmp_path, monkeypatch, [_row("a", 0.8, 0.7), {**_row("b", None, 0.9)}])
    with pytest.raises(ConfigError, match="r.json: no validation accuracy for b"):
        starter_choice(starter)
    assert starter_choice(STARTERS["efficientnet_lite0"]) is None  # the fallback is not chosen among heads


@needs_starter
def test_the_shipped_musicnn_starter_is_the_head_best_on_validation_and_its_card_says_so():
    choice = starter_choice(MUSICNN)  # the shipped transfer result's validation figures
    assert choice["chosen"] == MUSICNN.model
    assert {c["model"] for c in choice["candidates"]} == {"musicnn", "musicnn_mtt", "musicnn_both"}
    record = json.loads((SHIPPED / "record.json").read_text())
    assert record["model"] == MUSICNN.model and record["starter"]["choice"]["chosen"] == MUSICNN.model
    assert record["starter"]["choice"]["candidates"] == choice["candidates"]
    assert record["starter"]["choice"]["fallback"]["model"] == "efficientnet_lite0"
    card = (SHIPPED / "MODEL_CARD.md").read_text()
    best = max(choice["candidates"], key=lambda c: c["val_accuracy"])
    assert "on GTZAN validation" in card and f"{100 * best['val_accuracy']:.1f} %" in card
    assert (SHIPPED / "model.pt").stat().st_size < 50_000  # the head only


def test_a_transfer_plan_can_leave_out_the_random_init_conditions():
    from types import SimpleNamespace

    from gtzan_core.reproduction.transfer import plan_transfer

    models = ["musicnn", "musicnn_mtt", "musicnn_both"]
    ds = SimpleNamespace(has_audio=True)
    full = plan_transfer(ds, seeds=2, models=models, device="cpu", fine_tune=False)
    assert ("random init, frozen", "nothing") in full.conditions and len(full.configs) == 8
    plan = plan_transfer(ds, seeds=2, models=models, device="cpu", fine_tune=False, random_init=False)
    assert [c for c, _ in plan.conditions] == ["frozen, new head"] * 6
    assert [c.model for c in plan.configs] == models * 2 and all(c.pretrained for c in plan.configs)
