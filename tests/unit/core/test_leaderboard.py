"""Issue 43, item 4: one leaderboard builder (gtzan_core.leaderboard.board_rows) for the CLI
(``runs``, ``runs --json``) and the pages (``tables.runs_frame``, Home's board); the paper's
rows in one place (gtzan_core.paper_results.reference_rows)."""

from __future__ import annotations

import copy
import json
import math
import time

import pytest

from gtzan_core import leaderboard as board, tables
from gtzan_core.cli import main
from gtzan_core.paper_results import reference_rows
from gtzan_core.runs import RunStore

MUSICNN = "starter-gtzan-musicnn"


def _copy_run(store: RunStore, source: str, run_id: str, **changes) -> None:
    """A run of its own in ``store``: the starter's record under ``run_id``, ``changes`` applied."""
    src = store.root / source
    dst = store.root / run_id
    dst.mkdir()
    data = json.loads((src / "record.json").read_text())
    data.pop("starter", None)
    data.update(run_id=run_id, **changes)
    (dst / "record.json").write_text(json.dumps(data))
    (dst / "model.pt").write_bytes((src / "model.pt").read_bytes())


def _scores(record: dict, accuracy: float) -> dict:
    ev = copy.deepcopy(record["evaluation"])
    for level in ("segment", "track"):
        ev[level]["accuracy"] = accuracy
    return ev


@pytest.fixture
def varied_store(shipped_store):
    """The two starters, a weaker run, a claimed import that says 0.99, and a run that failed
    after training a few epochs (no test evaluation)."""
    base = json.loads((shipped_store.root / MUSICNN / "record.json").read_text())
    _copy_run(shipped_store, MUSICNN, "weaker", evaluation=_scores(base, 0.41), owner="alice")
    _copy_run(shipped_store, MUSICNN, "claimed", evaluation=_scores(base, 0.99),
              imported={"at": time.time(), "from": "someone.zip"})
    _copy_run(shipped_store, MUSICNN, "broke", status="failed", evaluation=None, error="out of memory")
    return shipped_store


def _cli_board(capsys, *flags) -> list[dict]:
    assert main(["runs", "--json", *flags]) == 0
    return json.loads(capsys.readouterr().out)


def _same(a, b) -> bool:
    none = lambda v: v is None or (isinstance(v, float) and math.isnan(v))  # noqa: E731
    return (none(a) and none(b)) or (not none(a) and not none(b) and a == pytest.approx(b))


def test_the_cli_and_the_pages_show_the_same_runs_in_the_same_order(varied_store, capsys):
    assert varied_store.damaged() == []
    cli = _cli_board(capsys, "--no-paper")
    page = tables.runs_frame(varied_store.list())
    runs_with_results = [row for row in cli if row["status"] != "failed"]
    assert [row["run_id"] for row in runs_with_results] == page["run"].tolist()
    # best first, the claimed import's 0.99 after every run measured here; a run without a test score is listed
    # last by the CLI (its status says why) and apart on the pages (jobs without results)
    assert page["run"].tolist() == [MUSICNN, "starter-gtzan-efficientnet_lite0", "weaker", "claimed"]
    assert cli[-1]["run_id"] == "broke" and cli[-1]["status"] == "failed" and cli[-1]["track_acc"] is None
    assert tables.unfinished_frame(varied_store.list())["run"].tolist() == ["broke"]
    for row, (_, shown) in zip(runs_with_results, page.iterrows(), strict=True):
        for cli_column, page_column in (("track_acc", "track acc."), ("segment_acc", "segment acc."),
                                        ("macro_f1", "macro F1"), ("track_macro_f1", "track macro F1")):
            assert _same(row[cli_column], shown[page_column]), (row["run_id"], cli_column)
    # Home's small board is the same ranking, cut short
    assert tables.home_frame(varied_store.list(), n=2)["model"].tolist() == page["model"].tolist()[:2]


def test_both_come_from_the_one_builder(varied_store, capsys, monkeypatch):
    built = board.board_rows

    def reversed_rows(records, paper=False, jobs=False):
        return list(reversed(built(records, paper=paper, jobs=jobs)))

    monkeypatch.setattr(board, "board_rows", reversed_rows)  # a change in the builder alone...
    cli = [row["run_id"] for row in _cli_board(capsys, "--no-paper") if row["status"] != "failed"]
    page = tables.runs_frame(varied_store.list())["run"].tolist()
    assert cli == page == ["claimed", "weaker", "starter-gtzan-efficientnet_lite0", MUSICNN]  # ...shows in both


def test_the_papers_rows_come_from_one_place(shipped_store, capsys):
    paper = reference_rows()
    assert [p.model for p in paper][:3] == ["mlp", "cnn", "lstm"] and len(paper) == 7
    cli = {row["run_id"]: row for row in _cli_board(capsys) if row["status"] == "reference"}
    assert list(cli) == [f"paper:{p.model}" for p in sorted(paper, key=lambda p: -p.accuracy)]
    frame = tables.paper_frame()
    for p, (_, shown) in zip(paper, frame.iterrows(), strict=True):
        row = cli[f"paper:{p.model}"]
        assert _same(row["track_acc"], p.track_acc) and _same(row["segment_acc"], p.segment_acc)
        assert row["macro_f1"] == p.macro_f1 and row["protocol"] == p.protocol == shown["protocol"]
        assert shown["macro F1 (its table)"] == f"{p.macro_f1:.3f}"
        assert shown["track acc." if p.unit == "image" else "segment acc."] == f"{p.accuracy:.3f}"
