"""A run's life by design: every move of its status is checked against one table, each
pair walked here; phases move only while it runs; the lifecycle reaches the store only
through its public interface."""

import ast
import itertools

import pytest

from gtzan_core.runs import RunStore, Status, lifecycle
from gtzan_core.runs.lifecycle import TRANSITIONS, IllegalTransition
from tests.helpers import ROOT

LEGAL = {(Status.QUEUED, Status.RUNNING), (Status.QUEUED, Status.CANCELLED), (Status.QUEUED, Status.FAILED),
         (Status.RUNNING, Status.FINISHED), (Status.RUNNING, Status.CANCELLED), (Status.RUNNING, Status.FAILED),
         (Status.RUNNING, Status.PRUNED)}


def a_run_in(store: RunStore, status: Status) -> str:
    run_id = lifecycle.create(store, {"model": "mlp"})
    record = store.read(run_id)
    store.write_record(run_id, record.updated(status=status.value))  # (a test may put a run anywhere)
    return run_id


@pytest.mark.parametrize("now, to", list(itertools.product(Status, Status)))
def test_every_pair_of_statuses_is_allowed_exactly_when_the_table_says(tmp_path, now, to):
    store = RunStore(tmp_path)
    run_id = a_run_in(store, now)
    before = store.read(run_id)
    if (now, to) in LEGAL:
        after = lifecycle.transition(store, run_id, to, note="moved")
        assert after["status"] == to.value and store.read(run_id)["note"] == "moved"
    else:
        with pytest.raises(IllegalTransition, match=f"run {run_id} is {now.value}; it cannot become {to.value}"):
            lifecycle.transition(store, run_id, to, note="moved")
        assert store.read(run_id) == before  # nothing written
    assert {(a, b) for a, bs in TRANSITIONS.items() if a is not None for b in bs} == LEGAL
    assert TRANSITIONS[None] == {Status.QUEUED}


@pytest.mark.parametrize("now", list(Status))
def test_a_phase_moves_only_while_the_run_runs(tmp_path, now):
    store = RunStore(tmp_path)
    run_id = a_run_in(store, now)
    if now is Status.RUNNING:
        assert lifecycle.set_phase(store, run_id, "training", epochs_run=1)["phase"] == "training"
    else:
        with pytest.raises(IllegalTransition, match="only a running run moves on to 'training'"):
            lifecycle.set_phase(store, run_id, "training")
    with pytest.raises(ValueError, match="unknown phase 'done'"):
        lifecycle.set_phase(store, run_id, "done")  # an end's, never a running run's


def test_the_named_moves_and_an_unknown_status(tmp_path):
    store = RunStore(tmp_path)
    run_id = lifecycle.create(store, {"model": "mlp"})
    assert lifecycle.start(store, run_id, "features")["status"] == "running"
    with pytest.raises(IllegalTransition, match="it cannot become running"):  # a phase update is no second start
        lifecycle.start(store, run_id, "training")
    done = lifecycle.finish(store, run_id, epochs_run=1)
    assert (done["status"], done["phase"]) == ("finished", "done") and done["finished"] > 0
    with pytest.raises(IllegalTransition, match="is finished; it cannot become failed"):
        lifecycle.fail(store, run_id, "late")
    odd = a_run_in(store, Status.QUEUED)
    store.write_record(odd, store.read(odd).updated(status="paused"))
    with pytest.raises(IllegalTransition, match="has no known status \\('paused'\\)"):
        lifecycle.cancel(store, odd)


def test_the_lifecycle_uses_no_private_member_of_the_store():
    """Outside the store, nothing reaches for an underscore-prefixed member of a RunStore
    (the lifecycle has write_life; every other part reads and updates)."""
    found = []
    for path in sorted((ROOT / "gtzan_core").rglob("*.py")):
        if path.relative_to(ROOT).as_posix() == "gtzan_core/runs/store.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__") \
                    and "store" in ast.unparse(node.value).lower():
                found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    assert found == []
