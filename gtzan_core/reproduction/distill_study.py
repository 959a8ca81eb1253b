"""Does a teacher help the from-scratch models? A *distillation study* trains, on one
dataset and the track split, for each seed: the teacher (musicnn's MSD head, frozen, a new
head: :data:`TEACHER`), then each student (:data:`STUDENTS`) twice with the same seed and
split, without its teacher and with it (:mod:`gtzan_core.distillation`: the teacher's soft
targets on the student's training split, temperature and alpha as given). Every run picks
its best epoch on validation and is tested once; the teacher of seed ``s`` was trained on
seed ``s``'s split, so it never saw the student's test tracks (the trainer checks).

Every run records ``distill_study: {id, role, condition, seed, seeds}``; the table
(:func:`distill_table`) is gathered from the records: track-level test accuracy and macro
F1, mean ± sd over seeds, and the paired gain (with minus without, the same seed and split).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from ..errors import ConfigError, StudioError
from ..hparams import TrainConfig, make_config
from ..models import MODELS
from ..runs.record import RunRecord

#: the result files' kind
KIND = "distillation"
TEACHER = "musicnn"
#: the students: the CNN on MFCCs, the spectrogram Transformer, the MLP on MFCCs
STUDENTS = ("cnn", "ast", "mlp")
WITHOUT, WITH = "without teacher", "with teacher"


def _fields(study: str, role: str, condition: str, seed: int, seeds: int) -> dict:
    return {"distill_study": {"id": study, "role": role, "condition": condition, "seed": seed, "seeds": seeds}}


def new_study_id() -> str:
    return f"distill-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def epoch_caps(values: list[str] | None, students) -> dict[str, int]:
    """``--epochs`` as a cap per student: ``N`` (every student) and/or ``MODEL=N`` (that one)."""
    caps: dict[str, int] = {}
    for value in values or []:
        model, _, n = value.rpartition("=")
        if not n.isdigit() or int(n) < 1 or (model and model not in students):
            raise ConfigError(f"--epochs takes N or STUDENT=N with N >= 1 and a student of this study (got {value!r})")
        for m in ([model] if model else students):
            caps[m] = int(n)
    return caps


def run_distill_study(dataset, store, seeds: int = 3, recipe: str = "studio", students=STUDENTS,
                      epochs: dict[str, int] | None = None, temperature: float = 4.0, alpha: float = 0.5,
                      device: str = "auto", on_run: Callable[[dict], None] | None = None, progress=None,
                      study: str | None = None, teachers: list[str] | None = None) -> tuple[str, list[dict]]:
    """Train the study on ``dataset`` into ``store``; returns its id and every run's final record.
    ``epochs``: a cap on each student's epochs ({model: cap}; the teacher keeps its recipe's).
    The teachers of every seed train first, then each student over the seeds (so a study cut
    short has whole students). A run that fails is recorded as failed and the study goes on (a
    seed whose teacher failed trains no distilled run). ``teachers``: finished teacher runs to
    reuse instead, one per seed (seed ``s``'s trained with seed ``s``: checked), e.g. another
    study's, so a student added later is taught by the same teachers."""
    from ..feature_cache import feature_request, load_features, request_key
    from ..jobs.job import JobSpec
    from ..jobs.recorded import describe_job, train
    from ..runs import lifecycle

    if seeds < 1:
        raise ConfigError(f"seeds must be at least 1 (got {seeds})")
    unknown = [m for m in students if m not in MODELS]
    if unknown:
        raise ConfigError(f"unknown student(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    study = study or new_study_id()
    info = dataset.run_info()
    features: dict = {}
    records: list[dict] = []

    def one(config: TrainConfig, extra: dict) -> dict:
        request = feature_request(config.model)
        key = request_key(request)
        if key not in features:
            features[key] = load_features(dataset, progress=progress, **request)
        run_id = lifecycle.create(store, describe_job(JobSpec(config, extra=extra), info))
        try:
            record = train(config, features[key], store, run_id=run_id, progress=progress, dataset_info=info)
        except StudioError:  # recorded as failed, with its error
            record = store.read(run_id)
        records.append(record)
        if on_run:
            on_run(record)
        return record

    def common(seed: int) -> dict:
        return dict(recipe=recipe, protocol="track", device=device, seed=seed)

    if teachers:
        given = _given_teachers(store, teachers, seeds)
        for record in given.values():  # (their rows in this study's table: the teacher beside its students)
            records.append(record)
            if on_run:
                on_run(record)
    else:
        given = {seed: one(make_config(TEACHER, **common(seed)), _fields(study, "teacher", "teacher", seed, seeds))
                 for seed in range(seeds)}
    teachers_by_seed = given
    for model in students:
        cap = {"epochs": (epochs or {})[model]} if (epochs or {}).get(model) else {}
        for seed in range(seeds):
            one(make_config(model, **common(seed), **cap), _fields(study, "student", WITHOUT, seed, seeds))
            if teachers_by_seed[seed].get("status") == "finished":
                one(make_config(model, **common(seed), **cap, teacher=teachers_by_seed[seed]["run_id"],
                                kd_temperature=temperature, kd_alpha=alpha),
                    _fields(study, "student", WITH, seed, seeds))
    return study, records


def _given_teachers(store, run_ids: list[str], seeds: int) -> dict[int, dict]:
    """The teacher runs given for seeds 0..seeds-1, checked: finished musicnn runs, seed ``s``'s
    trained with seed ``s`` on the track protocol."""
    if len(run_ids) != seeds:
        raise ConfigError(f"--teachers needs one run per seed ({seeds}), got {len(run_ids)}")
    out = {}
    for seed, run_id in enumerate(run_ids):
        record = store.read(run_id)
        config = record.get("config") or {}
        if (record.get("model") != TEACHER or record.get("status") != "finished" or config.get("seed") != seed
                or config.get("protocol") != "track"):
            raise ConfigError(f"teacher {run_id} is not a finished {TEACHER} run with seed {seed} on the track "
                              "protocol (the teachers are given in seed order)")
        out[seed] = record
    return out


def _mean_sd(values) -> tuple[float, float]:
    arr = np.asarray(list(values), dtype=float)
    if not len(arr):
        return float("nan"), float("nan")
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else float("nan")


def _best_val_acc(record: RunRecord) -> float:
    """The validation accuracy (per sample) of the epoch the run kept."""
    best = record.get("best_epoch")
    for entry in record.get("history") or []:
        if entry.get("epoch") == best:
            return float(entry.get("val_acc", np.nan))
    return float("nan")


def distill_table(records: list[dict]) -> pd.DataFrame:
    """One row per model and condition (the teacher first, then each student without and with
    its teacher): track-level test accuracy and macro F1 (mean, sd over the finished seeds), the
    paired gain in accuracy over the same seeds (with minus without), epochs, test tracks."""
    runs: dict[tuple, dict[int, RunRecord]] = {}
    for r in records:
        rec = RunRecord.of(r)
        part = rec.get("distill_study") or {}
        if rec.model == TEACHER and not part:  # a teacher reused from another study
            part = {"condition": "teacher", "seed": (rec.get("config") or {}).get("seed", 0)}
        if rec.evaluation is None or rec.evaluation.track is None:
            continue
        runs.setdefault((rec.model, part.get("condition")), {})[int(part.get("seed", 0))] = rec
    order = [(TEACHER, "teacher")] + [(m, c) for m in STUDENTS for c in (WITHOUT, WITH)]
    order += sorted(k for k in runs if k not in order)
    rows = []
    for model, condition in order:
        by_seed = runs.get((model, condition))
        if not by_seed:
            continue
        acc = {s: r.evaluation.track.accuracy for s, r in by_seed.items()}
        f1 = [r.evaluation.track.macro_f1 for r in by_seed.values()]
        row = {"model": model, "title": MODELS[model].title if model in MODELS else model, "condition": condition,
               "track_accuracy": _mean_sd(acc.values())[0], "track_accuracy_sd": _mean_sd(acc.values())[1],
               "macro_f1": _mean_sd(f1)[0], "macro_f1_sd": _mean_sd(f1)[1],
               "val_accuracy": _mean_sd(_best_val_acc(r) for r in by_seed.values())[0],
               "seeds_done": len(by_seed), "seeds": sorted(by_seed),
               "epochs": [by_seed[s].get("epochs_run") for s in sorted(by_seed)],
               "test_tracks": sorted({r.evaluation.track.n for r in by_seed.values()}),
               "train_seconds": float(np.mean([r.get("train_seconds") or 0 for r in by_seed.values()])),
               "gain": None, "gain_sd": None}
        if condition == WITH:
            base = runs.get((model, WITHOUT), {})
            diffs = [acc[s] - base[s].evaluation.track.accuracy for s in sorted(acc) if s in base]
            if diffs:
                row["gain"], row["gain_sd"] = _mean_sd(diffs)
        rows.append(row)
    return pd.DataFrame(rows)


def distill_display(rows: list[dict]) -> pd.DataFrame:
    """A distillation table's rows (a result file's, or :func:`distill_table`'s records) as
    display strings: percentages with their sd, the paired gain in points."""
    def pct(v, sd=None):
        if v is None or v != v:
            return "—"
        return f"{100 * v:.1f} %" + (f" ± {100 * sd:.1f}" if sd is not None and sd == sd else "")

    def pts(v, sd):
        if v is None or v != v:
            return "—"
        return f"{100 * v:+.1f}" + (f" ± {100 * sd:.1f}" if sd is not None and sd == sd else "") + " points"

    return pd.DataFrame([{
        "model": r.get("title") or r.get("model"), "condition": r.get("condition", "—"),
        "track accuracy": pct(r.get("track_accuracy"), r.get("track_accuracy_sd")),
        "macro F1": pct(r.get("macro_f1"), r.get("macro_f1_sd")),
        "gain (same seeds)": pts(r.get("gain"), r.get("gain_sd")),
        "seeds": str(r.get("seeds_done", "?")), "epochs run": ", ".join(map(str, r.get("epochs") or [])) or "—",
    } for r in rows])


def distill_caption(doc: dict) -> str:
    """What a distillation result file's table is, in one paragraph (plain text)."""
    caps = doc.get("students_epoch_cap") or {}
    capped = "; ".join(f"{m} capped at {n} epochs" for m, n in caps.items())
    done = (f" Cut short: {doc['runs_done']} of {doc['runs_planned']} runs." if doc.get("runs_done") is not None
            and doc.get("runs_done") != doc.get("runs_planned") else "")
    return (f"{doc.get('title', '')}: the teacher is musicnn's MSD head (frozen, a new head) trained on each seed's "
            f"training split; each student trains from scratch with the {doc.get('recipe', '?')} recipe, without and "
            f"with the teacher's soft targets (temperature {doc.get('temperature', '?')}, alpha "
            f"{doc.get('alpha', '?')}) on the same seed's split, picks its best epoch on validation and is tested "
            f"once. Track-level test accuracy, mean ± sd over seeds {', '.join(map(str, doc.get('seeds', [])))}; the "
            f"gain is with minus without, paired by seed." + (f" {capped}." if capped else "") + done)


def distill_command(args) -> str:
    """The command line that remakes a distillation study (the options that change its figures)."""
    import shlex

    parts = ["python", "-m", "gtzan_core", "distill"] + (["--data", args.data] if args.data else [])
    parts += ["--recipe", args.recipe, "--seeds", str(args.seeds), "--students", *args.students,
              "--kd-temperature", f"{args.kd_temperature:g}", "--kd-alpha", f"{args.kd_alpha:g}"]
    if args.epochs:
        parts += ["--epochs", *args.epochs]
    if getattr(args, "teachers", None):
        parts += ["--teachers", *args.teachers]
    return shlex.join(parts + (["--result", args.result] if args.result else []))


def write_distill_result(args, dataset, table: pd.DataFrame, study: str, device: str, wall: float,
                         runs: int, planned: int):
    """A distillation study's table as a result file (:mod:`.result_files`) at ``args.result``
    (written after every run: ``runs`` of ``planned`` done)."""
    import json

    from .result_files import new_result, write_result

    rows = json.loads(table.to_json(orient="records"))
    folder = str(dataset.root).rstrip("/").rsplit("/", 1)[-1]
    doc = new_result(KIND, f"Does a teacher help? · {dataset.label} · {folder}", distill_command(args),
                     list(range(args.seeds)), rows, study=study, protocol="track", recipe=args.recipe,
                     teacher=TEACHER, temperature=args.kd_temperature, alpha=args.kd_alpha,
                     students_epoch_cap=epoch_caps(args.epochs, args.students), runs_done=runs,
                     runs_planned=planned,
                     dataset={**dataset.run_info(), "tracks": int(len(dataset.tracks))}, device=device,
                     wall_seconds=round(wall, 1))
    return write_result(doc, args.result)


def distill_label(doc: dict) -> str:
    """A distillation result file's title with its students named (one file per student
    shares a title: "Does a teacher help? · GTZAN · excerpts · CNN")."""
    students = dict.fromkeys(str(r.get("title") or r.get("model")) for r in doc.get("rows", [])
                             if r.get("condition") != "teacher")
    return " · ".join([str(doc.get("title", "")), *([", ".join(students)] if students else [])])


def _same_study_key(doc: dict) -> tuple:
    """What files must share to be read as one table: where they come from, the dataset (its
    folder and size), the protocol, recipe, temperature, alpha and seeds, and the teacher's
    figures (the same teacher runs give the same row)."""
    teacher = next((r for r in doc.get("rows", []) if r.get("condition") == "teacher"), {})
    data = doc.get("dataset") or {}
    return (doc.get("origin"), data.get("root"), data.get("tracks"), doc.get("protocol"), doc.get("recipe"),
            doc.get("temperature"), doc.get("alpha"), tuple(doc.get("seeds") or ()),
            teacher.get("track_accuracy"), tuple(teacher.get("epochs") or ()))


def distill_groups(docs: list[dict]) -> list[list[dict]]:
    """Distillation result files (newest first within each origin, as
    :func:`~gtzan_core.reproduction.measured.results_of` gives them) gathered into the tables
    they make together: files of one origin made on the same dataset, protocol, recipe,
    temperature, alpha and seeds with the same teacher row (one study per student, say) form
    one group; a student in two files of a group keeps its newest file's rows (the older one
    starts a group of its own). Groups in the order of their newest file."""
    groups: list[list[dict]] = []
    for doc in docs:
        key = _same_study_key(doc)
        mine = {r.get("model") for r in doc.get("rows", []) if r.get("condition") != "teacher"}
        for group in groups:
            theirs = {r.get("model") for d in group for r in d.get("rows", []) if r.get("condition") != "teacher"}
            if _same_study_key(group[0]) == key and not mine & theirs:
                group.append(doc)
                break
        else:
            groups.append([doc])
    return groups


def distill_combined(group: list[dict]) -> tuple[list[dict], dict]:
    """One group's table and caption document (:func:`distill_groups`): the teacher's row once,
    then each student's rows in :data:`STUDENTS`' order, and a document for
    :func:`distill_caption` with every file's epoch caps and runs."""
    teacher = [r for r in group[0].get("rows", []) if r.get("condition") == "teacher"][:1]
    students = [r for d in group for r in d.get("rows", []) if r.get("condition") != "teacher"]
    rank = {m: i for i, m in enumerate(STUDENTS)}
    students.sort(key=lambda r: (rank.get(r.get("model"), len(rank)), r.get("condition") != WITHOUT))
    caps: dict[str, int] = {}
    for d in group:
        caps.update(d.get("students_epoch_cap") or {})
    done = [d.get("runs_done") for d in group]
    planned = [d.get("runs_planned") for d in group]
    doc = {**group[0], "students_epoch_cap": caps,
           "runs_done": None if None in done else sum(done), "runs_planned": None if None in planned else sum(planned)}
    return teacher + students, doc
