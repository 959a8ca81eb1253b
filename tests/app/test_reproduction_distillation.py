"""The Reproduction page's knowledge-distillation table on a fresh studio home: the shipped
result files (one per student, made with the same seed-matched teachers) drawn as one table,
the teacher once, the Transformer's rows beside the CNN's and the MLP's, each file's
provenance named."""

from __future__ import annotations

from gtzan_core.reproduction.result_files import shipped_results


def _pct(row: dict) -> str:
    return f"{100 * row['track_accuracy']:.1f} % ± {100 * row['track_accuracy_sd']:.1f}"


def test_the_page_draws_each_students_rows_without_and_with_its_teacher(demo_app):
    shipped = {d["file"]: d for d in shipped_results("distillation")}
    ast = shipped["distill-excerpts-ast-track.json"]
    assert ast["seeds"] == [0, 1, 2] and "--students ast" in ast["command"]

    at = demo_app("reproduction")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Does a teacher help?" in h.value for h in at.header)
    frame = next(f.value for f in at.dataframe if "gain (same seeds)" in f.value.columns)
    pairs = list(zip(frame["model"], frame["condition"], strict=True))
    assert pairs[0] == ("musicnn", "teacher") and pairs.count(("musicnn", "teacher")) == 1
    for title in ("CNN", "AST (Transformer)", "MLP"):
        assert (title, "without teacher") in pairs and (title, "with teacher") in pairs, (title, pairs)
    for row in ast["rows"]:  # the Transformer's figures as its file has them
        if row["model"] == "ast":
            shown = frame[(frame["model"] == "AST (Transformer)") & (frame["condition"] == row["condition"])]
            assert shown["track accuracy"].tolist() == [_pct(row)]
    captions = [c.value for c in at.caption]
    for doc in shipped.values():  # every file drawn says where it came from
        assert any(doc["command"] in c and "shipped with the studio" in c for c in captions), doc["file"]
