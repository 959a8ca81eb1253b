"""Distillation result files read together (gtzan_core/reproduction/distill_study.py): one
file per student, made with the same teachers, is one table (the teacher once, each student
without and with it); files that differ in what the table means are never merged."""

from __future__ import annotations

from gtzan_core.reproduction.distill_study import distill_caption, distill_combined, distill_groups, distill_label


def _row(model: str, condition: str, acc: float, epochs=(20, 20, 20)) -> dict:
    return {"model": model, "title": {"musicnn": "musicnn", "cnn": "CNN", "ast": "AST (Transformer)",
                                      "mlp": "MLP"}[model],
            "condition": condition, "track_accuracy": acc, "track_accuracy_sd": 0.01, "seeds_done": 3,
            "epochs": list(epochs)}


def _doc(student: str, created: float, without: float, with_: float, teacher: float = 0.79, temperature=4.0,
         origin="shipped", cap: int | None = None) -> dict:
    return {"kind": "distillation", "title": "Does a teacher help? · GTZAN · excerpts", "date": "2026-12-07T17:00:00Z",
            "created": created, "command": f"python -m gtzan_core distill --students {student}", "seeds": [0, 1, 2],
            "protocol": "track", "recipe": "studio", "temperature": temperature, "alpha": 0.5,
            "students_epoch_cap": {student: cap} if cap else {}, "runs_done": 9, "runs_planned": 9,
            "dataset": {"root": "/data/excerpts", "tracks": 499}, "origin": origin, "file": f"{student}.json",
            "rows": [_row("musicnn", "teacher", teacher, (60, 78, 65)), _row(student, "without teacher", without),
                     _row(student, "with teacher", with_)]}


def test_a_file_per_student_with_the_same_teachers_reads_as_one_table():
    ast, cnn, mlp = _doc("ast", 3, 0.31, 0.35), _doc("cnn", 2, 0.58, 0.60, cap=12), _doc("mlp", 1, 0.50, 0.51, cap=25)
    groups = distill_groups([ast, cnn, mlp])  # newest first, as results_of gives them
    assert groups == [[ast, cnn, mlp]]
    rows, doc = distill_combined(groups[0])
    assert [(r["model"], r["condition"]) for r in rows] == [
        ("musicnn", "teacher"), ("cnn", "without teacher"), ("cnn", "with teacher"),
        ("ast", "without teacher"), ("ast", "with teacher"), ("mlp", "without teacher"), ("mlp", "with teacher")]
    assert [r["track_accuracy"] for r in rows if r["model"] == "ast"] == [0.31, 0.35]
    assert doc["students_epoch_cap"] == {"cnn": 12, "mlp": 25}
    caption = distill_caption(doc)
    assert "cnn capped at 12 epochs; mlp capped at 25 epochs" in caption and "Cut short" not in caption
    assert distill_label(ast) == "Does a teacher help? · GTZAN · excerpts · AST (Transformer)"


def test_files_that_mean_another_table_are_never_merged():
    ast = _doc("ast", 5, 0.31, 0.35)
    other_teacher = _doc("cnn", 4, 0.58, 0.60, teacher=0.70)  # other teacher runs: another teacher row
    hotter = _doc("mlp", 3, 0.50, 0.51, temperature=8.0)
    yours = _doc("mlp", 6, 0.50, 0.52, origin="yours")
    older_ast = _doc("ast", 1, 0.20, 0.25)  # the same student again: the newest file's rows stand alone
    groups = distill_groups([yours, ast, other_teacher, hotter, older_ast])
    assert groups == [[yours], [ast], [other_teacher], [hotter], [older_ast]]
    cut = {**_doc("cnn", 2, 0.5, 0.5), "runs_done": 7}
    rows, doc = distill_combined(distill_groups([ast, cut])[0])
    assert {r["model"] for r in rows} == {"musicnn", "ast", "cnn"}
    assert "Cut short: 16 of 18 runs." in distill_caption(doc)
