"""The vocabulary of a run record (``record.json``): its statuses and phases, and a
typed view of the fields every part of the studio reads.

A run's **status** says where it is in its life (set only by
:mod:`.lifecycle`): ``queued`` (in a job queue, nothing done yet), ``running``,
then ``finished``, ``cancelled`` (stopped; its best checkpoint is kept) or
``failed`` (with an ``error``). Its **phase** says what a running run is doing.

What a valid record is, is :data:`RECORD`: the fields every part of the studio reads,
with the JSON types they need (``run_id``, ``model`` and ``status`` are required; the
others may be absent or null). :func:`record_problems` lists what is wrong with a
record, :func:`parse_record` returns it or raises :class:`RecordError`; the run store
checks every record it reads with it (a damaged run is listed apart, never shown as a
run), and an imported archive's record is checked with it too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from .. import GENRES
from ..errors import CheckpointError


class Status(str, Enum):
    """A run's status; a ``str`` so that records stay plain JSON (``Status.RUNNING == "running"``)."""

    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    FAILED = "failed"
    PRUNED = "pruned"  # a search's trial stopped by its pruner (an end, never a failure)

    def __str__(self) -> str:  # "running", not "Status.RUNNING", in f-strings and JSON keys
        return self.value

    @property
    def active(self) -> bool:
        return self in (Status.QUEUED, Status.RUNNING)


ACTIVE = (Status.QUEUED.value, Status.RUNNING.value)
ENDED = (Status.FINISHED.value, Status.CANCELLED.value, Status.FAILED.value, Status.PRUNED.value)

#: What a run is doing, in order: queued in a job queue; waiting for a GPU slot or for
#: room on a Ray cluster; extracting features (its ``progress`` counts tracks); one
#: pass of a frozen backbone (``progress`` counts inputs); the epochs; the test set;
#: done (whatever the status).
PHASES = ("queued", "waiting for the GPU", "waiting for room on the Ray cluster", "features", "backbone pass",
          "training", "evaluating", "done")


#: The layout of the records this studio writes. 1: records before the job spec (their
#: ``job`` field, on queued runs, held no configuration or owner: :func:`migrate`).
RECORD_VERSION = 2


def migrate(data: dict) -> dict:
    """A record of an earlier layout brought to :data:`RECORD_VERSION` (a new dict; the
    file is not rewritten). Version 1 (no ``record_version``): a queued run's ``job``
    gains the configuration and the owner the record kept beside it."""
    version = data.get("record_version", 1)
    if version >= RECORD_VERSION:
        return data
    data = dict(data)
    job = data.get("job")
    if isinstance(job, dict) and "config" not in job and isinstance(data.get("config"), dict):
        data["job"] = {**job, "config": data["config"], "owner": data.get("owner"),
                       "dataset_label": (data.get("dataset") or {}).get("label")
                       if isinstance(data.get("dataset"), dict) else None}
    data["record_version"] = RECORD_VERSION
    return data


@dataclass(frozen=True)
class Scores:
    """One level of a run's test evaluation (per segment/patch/picture, or per track)."""

    accuracy: float
    macro_f1: float
    n: int
    report: dict  # per class (and the averages): precision, recall, f1-score, support
    confusion: list  # rows: true genre, columns: predicted
    weighted_f1: float | None = None

    def __getitem__(self, key: str):  # (read like the record's own mapping by the report helpers)
        return getattr(self, key)

    def get(self, key: str, default=None):
        return getattr(self, key, default)

    @classmethod
    def of(cls, data: dict | None) -> Scores | None:
        if not data:
            return None
        # (a stored record has every field, checked by RECORD; a record being built may lack the detail)
        return cls(data["accuracy"], data["macro_f1"], int(data.get("n") or 0), data.get("report") or {},
                   data.get("confusion") or [], data.get("weighted_f1"))


@dataclass(frozen=True)
class Evaluation:
    """A run's one look at its test set: per sample (``segment``) and per track."""

    segment: Scores
    track: Scores | None = None
    leaky: bool = False
    selection_on_test: bool = False

    def at(self, level: str) -> Scores:
        """The scores at ``level`` ("segment" or "track"; a run whose unit is the track,
        one picture a track, has the segment level alone)."""
        return (self.track if level == "track" else None) or self.segment


@dataclass(frozen=True)
class ExternalEvaluation:
    """A run's evaluation on a labelled folder outside its training data (``gtzan-studio
    evaluate RUN --data FOLDER``): one per folder (``folder``, the resolved path, is its
    key in the record's ``external_evaluations``; evaluating the same folder again
    replaces it). Each audio file is one clip, predicted as Predict does (the run's
    windows, their probabilities averaged). ``n_files`` counts every file in the label
    folders: ``n_scored`` were predicted and scored, ``n_refused`` could not be read (each
    in ``refused`` with why), ``n_out_of_scope`` carry a label outside GTZAN's ten that no
    ``label_map`` entry maps (``out_of_scope``: label -> files), ``n_dropped`` are tracks
    the run trained or validated on (``dropped``). ``scores``: accuracy, per-class report
    and confusion matrix over the scored clips."""

    folder: str
    name: str
    date: float
    label_map: dict
    n_files: int
    n_scored: int
    n_refused: int
    n_out_of_scope: int
    n_dropped: int
    accuracy: float | None
    scores: Scores | None
    refused: list = field(default_factory=list)  # [{"path", "reason"}]
    out_of_scope: dict = field(default_factory=dict)  # folder label -> number of files
    dropped: list = field(default_factory=list)  # [{"path", "reason"}]
    notes: list = field(default_factory=list)

    def as_dict(self) -> dict:
        from dataclasses import asdict

        out = asdict(self)
        out["scores"] = None if self.scores is None else {k: v for k, v in asdict(self.scores).items()
                                                          if v is not None}
        return out

    @classmethod
    def of(cls, data: dict) -> ExternalEvaluation:
        def count(key: str) -> int:
            return int(data.get(key) or 0)

        return cls(data["folder"], data.get("name") or data["folder"], float(data.get("date") or 0),
                   dict(data.get("label_map") or {}), count("n_files"), count("n_scored"), count("n_refused"),
                   count("n_out_of_scope"), count("n_dropped"), data.get("accuracy"), Scores.of(data.get("scores")),
                   list(data.get("refused") or []), dict(data.get("out_of_scope") or {}),
                   list(data.get("dropped") or []), list(data.get("notes") or []))


@dataclass(frozen=True)
class SplitInfo:
    """How a run's data were split: sizes (in ``unit``s), what the model was chosen on."""

    train: int
    val: int
    test: int
    unit: str = "segment"
    monitor: str = "validation"
    note: str | None = None


@dataclass(frozen=True)
class Progress:
    """What a running run's current phase has done of how much (tracks, inputs)."""

    done: int
    total: int
    message: str = ""


@dataclass(frozen=True)
class PaddedInputs:
    """How many of a run's tracks were shorter than one input and repeat-padded to one."""

    tracks: int
    of: int
    unit: str


@dataclass(frozen=True)
class RunRecord(Mapping):
    """A run's record, typed and read-only: what the run store reads and writes, and
    what every part of the studio is handed (its JSON object, :attr:`data`, is the stored
    form, written by :meth:`to_json`; :meth:`~gtzan_core.runs.RunStore.read` has checked
    its fields' types, and a record of an earlier layout is seen migrated: :func:`migrate`).
    A change is a new record (:meth:`updated`), never an edit of this one. It is also a
    read-only mapping of its JSON object's fields (``record["model"]``, ``{**record}``),
    for the code that handles records whole: an archive, a test."""

    data: dict

    def __post_init__(self):
        data = self.data.data if isinstance(self.data, RunRecord) else self.data  # (a record seen again)
        object.__setattr__(self, "data", migrate(data))

    def updated(self, **fields) -> RunRecord:
        """This record with ``fields`` set (a new record; this one is unchanged)."""
        return RunRecord({**self.data, **fields})

    def to_json(self) -> dict:
        """The stored form: a copy of the record's JSON object."""
        return dict(self.data)

    @property
    def version(self) -> int:
        return int(self.data.get("record_version", 1))

    @property
    def evaluation(self) -> Evaluation | None:
        ev = self.data.get("evaluation")
        if not ev or not ev.get("segment"):
            return None
        segment = Scores.of(ev["segment"])
        assert segment is not None  # ev["segment"] is not empty: checked above
        return Evaluation(segment, Scores.of(ev.get("track")), bool(ev.get("leaky")),
                          bool(ev.get("selection_on_test")))

    @property
    def split(self) -> SplitInfo | None:
        sp = self.data.get("split")
        if not sp:
            return None
        return SplitInfo(int(sp.get("train", 0)), int(sp.get("val", 0)), int(sp.get("test", 0)),
                         sp.get("unit") or "segment", sp.get("monitor") or "validation", sp.get("note"))

    @property
    def progress(self) -> Progress | None:
        pr = self.data.get("progress")
        if not pr:
            return None
        return Progress(int(pr.get("done", 0)), int(pr.get("total", 0)), pr.get("message") or "")

    @classmethod
    def of(cls, record: dict | RunRecord) -> RunRecord:
        """``record`` seen typed (a record already typed is itself)."""
        return record if isinstance(record, RunRecord) else cls(record)

    def get(self, key, default=None):
        return self.data.get(key, default)

    def __getitem__(self, key: str):
        return self.data[key]

    def __contains__(self, key) -> bool:
        return key in self.data

    def __iter__(self):
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    @property
    def protocol(self) -> str | None:
        return self.data.get("protocol")

    @property
    def protocol_label(self) -> str | None:
        return self.data.get("protocol_label")

    @property
    def selection_on_test(self) -> bool:
        """Whether the model was chosen on its test set (the paper's protocol): its numbers flatter it."""
        return bool(self.data.get("selection_on_test"))

    @property
    def epochs_run(self) -> int | None:
        return self.data.get("epochs_run")

    @property
    def best_epoch(self) -> int | None:
        return self.data.get("best_epoch")

    @property
    def train_seconds(self) -> float | None:
        return self.data.get("train_seconds")

    @property
    def device(self) -> str | None:
        return self.data.get("device")

    @property
    def error(self) -> str | None:
        return self.data.get("error")

    @property
    def seed(self) -> int | None:
        return self.config.get("seed")

    @property
    def unit(self) -> str:
        """What one sample of its split is: "segment", "patch", "image"."""
        return self.split.unit if self.split else "segment"

    @property
    def one_sample_per_track(self) -> bool:
        """Whether each track is one sample of its split (a picture): then its sample level
        is its track level, said once. Its input kind knows (``per_track``: many per track)."""
        from ..errors import ConfigError
        from ..inputs import get_kind

        try:
            return not get_kind(self.data.get("input_kind") or "mfcc").per_track
        except ConfigError:  # (a record of an unknown kind is damaged: listed apart, never read here)
            return False

    @property
    def padded_inputs(self) -> PaddedInputs | None:
        p = self.data.get("padded_inputs")
        if not p or not p.get("tracks"):
            return None
        return PaddedInputs(int(p["tracks"]), int(p.get("of") or 0), p.get("unit") or self.unit)

    @property
    def part_of(self) -> dict:
        """Which study made it, when one did (a ``reproduction``, a ``transfer`` study, the
        ``starter``, a search ``study``: its id or label, seed, condition or trial), else {}."""
        for key in ("reproduction", "transfer", "starter", "study"):
            if self.data.get(key):
                return self.data[key]
        return {}

    @property
    def run_id(self) -> str:
        return self.data["run_id"]

    @property
    def status(self) -> Status | None:
        try:
            return Status(self.data.get("status"))
        except ValueError:
            return None

    @property
    def active(self) -> bool:
        """Queued or running (:attr:`Status.active`); a record of no known status is not."""
        return self.status is not None and self.status.active

    @property
    def phase(self) -> str | None:
        return self.data.get("phase")

    @property
    def model(self) -> str | None:
        return self.data.get("model")

    @property
    def title(self) -> str:
        return self.data.get("title") or self.data.get("model") or "?"

    @property
    def owner(self) -> str | None:
        return self.data.get("owner")

    @property
    def config(self) -> dict:
        return self.data.get("config") or {}

    @property
    def dataset(self) -> dict:
        return self.data.get("dataset") or {}

    @property
    def dataset_label(self) -> str | None:
        return self.dataset.get("label")

    @property
    def history(self) -> list[dict]:
        return self.data.get("history") or []

    def metrics(self, level: str = "track") -> dict:
        """The test metrics at ``level`` ("segment": per sample, "track"), or {}."""
        return (self.data.get("evaluation") or {}).get(level) or {}

    @property
    def evaluated(self) -> bool:
        return bool(self.data.get("evaluation"))

    @property
    def started(self) -> bool:
        """Whether it trained at all (an epoch, or an evaluation): a job stopped or failed
        before that is a job, never a run to compare."""
        return bool(self.history or self.evaluated)

    @property
    def split_warnings(self) -> list[str]:
        return self.data.get("split_warnings") or []

    @property
    def external_evaluations(self) -> list[ExternalEvaluation]:
        """The run's evaluations on other folders, newest first (a record without any,
        one written before they existed included: none)."""
        found = [ExternalEvaluation.of(ev) for ev in (self.data.get("external_evaluations") or {}).values()]
        return sorted(found, key=lambda ev: ev.date, reverse=True)


def dataset_of(records) -> str:
    """The dataset a group of runs (a study's) trained on: the first label a run has
    opened, or "pending" while none has."""
    for r in records:
        label = RunRecord.of(r).dataset_label
        if label not in (None, "pending"):
            return label
    return "pending"


# -- what a valid record is -------------------------------------------------------

@dataclass(frozen=True)
class Spec:
    """The JSON type a record field needs: ``type`` is ``text``, ``number`` (a score or a
    loss: NaN and infinities allowed, a diverged run has them), ``count`` (a finite
    number >= 0: epochs, sizes, seconds), ``time`` (seconds since 1970, before the year
    5000), ``flag`` (true/false), ``status`` (a :class:`Status`), ``object``, ``list`` or
    ``matrix`` (square, of ``items``, as many rows as genres at most).
    A count may have a ``least`` and a ``most`` value. An object's known ``fields`` are
    checked (the others are free) or, with ``values``, every value; a list's ``items``.
    Null is accepted for a field that is not ``required`` (never for a list item or a
    value); a required field of an object is needed unless the object is empty (``{}``
    reads as no object at all)."""

    type: str
    required: bool = False
    least: float = 0
    most: float = math.inf
    fields: Mapping[str, Spec] = field(default_factory=dict)
    items: Spec | None = None
    values: Spec | None = None


TEXT, NUMBER, COUNT, TIME, FLAG = Spec("text"), Spec("number"), Spec("count"), Spec("time"), Spec("flag")
_LATEST_TIME = 1e11  # the year 5138: what Python's and pandas' dates still hold
#: A process id (``os.kill`` takes a C int).
PID = Spec("count", most=2 ** 31 - 1)

#: One level of a run's evaluation (segment or track), as the tables, Compare and the reports
#: read it: the scores, the per-class report (every row with its four numbers) and the
#: confusion matrix (square, one row per genre at most).
SCORES = Spec("object", fields={
    "accuracy": Spec("number", required=True), "macro_f1": Spec("number", required=True), "weighted_f1": NUMBER,
    "n": Spec("count", required=True),
    "report": Spec("object", required=True, values=Spec("object", fields=dict.fromkeys(
        ("precision", "recall", "f1-score"), Spec("number", required=True)) | {
        "support": Spec("count", required=True)})),
    "confusion": Spec("matrix", required=True, items=COUNT),
})
#: One epoch of a run's history (the loss chart, the ETA).
EPOCH = Spec("object", fields={**dict.fromkeys(("train_loss", "val_loss", "train_acc", "val_acc"),
                                                Spec("number", required=True)),
                               "epoch": Spec("count", required=True), "seconds": COUNT, "elapsed": COUNT,
                               "best": FLAG})
_PER_GENRE = Spec("object", values=COUNT)
_FILE_REASON = Spec("object", fields={"path": Spec("text", required=True), "reason": Spec("text", required=True)})
#: One evaluation on another folder (:class:`ExternalEvaluation`).
EXTERNAL = Spec("object", fields={
    "folder": Spec("text", required=True), "name": TEXT, "date": TIME, "label_map": Spec("object", values=TEXT),
    **dict.fromkeys(("n_files", "n_scored", "n_refused", "n_out_of_scope", "n_dropped"), COUNT),
    "accuracy": NUMBER, "scores": SCORES, "refused": Spec("list", items=_FILE_REASON),
    "out_of_scope": Spec("object", values=COUNT), "dropped": Spec("list", items=_FILE_REASON),
    "notes": Spec("list", items=TEXT)})

#: Every field of a record that the pages, the CLI, the job queue and the reports read, with
#: the type it needs; a record is valid when each has it (other fields are free).
RECORD: dict[str, Spec] = {
    "run_id": Spec("text", required=True), "model": Spec("text", required=True),
    "status": Spec("status", required=True),
    **dict.fromkeys(("title", "owner", "phase", "protocol", "protocol_label", "recipe", "device", "input_kind",
                     "error", "host", "family", "weights_note"), TEXT),
    **dict.fromkeys(("created", "started", "finished", "heartbeat"), TIME),
    **dict.fromkeys(("epochs_run", "best_epoch", "trainable_params", "total_params", "train_seconds"), COUNT),
    "pid": PID, "record_version": Spec("count", least=1),
    **dict.fromkeys(("leaky", "selection_on_test", "early_stopped", "pretrained"), FLAG),
    "history": Spec("list", items=EPOCH),
    "split_warnings": Spec("list", items=TEXT), "classes": Spec("list", items=TEXT),
    "evaluation": Spec("object", fields={"segment": Spec("object", required=True, fields=SCORES.fields),
                                         "track": SCORES, "leaky": FLAG, "selection_on_test": FLAG}),
    "config": Spec("object", fields={"epochs": Spec("count", least=1), "patience": COUNT, "recipe": TEXT,
                                     "model": TEXT}),
    "dataset": Spec("object", fields={"label": TEXT, "root": TEXT, "fingerprint": TEXT}),
    "split": Spec("object", fields={"train": COUNT, "val": COUNT, "test": COUNT, "unit": TEXT,
                                    "tracks_per_genre": Spec("object", fields=dict.fromkeys(
                                        ("train", "val", "test"), _PER_GENRE)),
                                    "seen_tracks": Spec("list", items=TEXT)}),
    "progress": Spec("object", fields={"done": COUNT, "total": COUNT}),
    "job": Spec("object", fields={"data_path": TEXT}),
    "queue_owner": Spec("object", fields={"host": TEXT, "pid": PID}),
    "reproduction": Spec("object", fields={"id": TEXT, "seed": COUNT, "seeds": COUNT}),
    "study": Spec("object", fields={"name": TEXT, "label": TEXT, "trial": COUNT}),  # a search's trial
    "pruned": TEXT,
    # knowledge distillation (gtzan_core/distillation.py): the teacher run, its weights and the loss's knobs
    "distillation": Spec("object", fields={"teacher": Spec("text", required=True), "teacher_model": TEXT,
                                           "teacher_checkpoint_sha256": TEXT, "temperature": NUMBER,
                                           "alpha": NUMBER, "train_tracks": COUNT, "alignment": TEXT}),
    "transfer": Spec("object", fields={"id": TEXT, "condition": TEXT, "pretrained_on": TEXT, "protocol": TEXT}),
    "starter": Spec("object", fields={"tracks": Spec("count", required=True), "mean": Spec("number", required=True),
                                      "sd": Spec("number", required=True),
                                      "seeds": Spec("list", required=True, items=NUMBER),
                                      "test_tracks": Spec("count", required=True),
                                      "accuracies": Spec("list", items=NUMBER), "data": TEXT, "command": TEXT,
                                      "val_accuracies": Spec("list", items=NUMBER), "val_size": COUNT,
                                      "material": TEXT, "fallback": FLAG}),
    "padded_inputs": Spec("object", fields={"tracks": COUNT, "of": COUNT, "unit": TEXT}),
    "external_evaluations": Spec("object", values=EXTERNAL),  # folder -> its evaluation
    "promoted": Spec("object", fields={"by": TEXT, "at": TIME}),  # by the admin, to the class (gtzan_core.claims)
    **dict.fromkeys(("mfcc_params", "image_params", "musicnn_params", "weights", "recipe_changes", "image_sources",
                     "imported"), Spec("object")),
}

_JSON_NAMES = {dict: "an object", list: "a list", str: "text", bool: "true/false", type(None): "null",
               int: "a number", float: "a number"}
_NEEDS = {"text": "text", "number": "a number", "count": "a number >= 0",
          "time": "a time (seconds since 1970)", "flag": "true/false", "status": "a status",
          "object": "an object", "list": "a list", "matrix": f"a square matrix (a list of n lists of n numbers, "
                                                           f"n from 1 to {len(GENRES)})"}


def _shown(value) -> str:
    """A value as a message shows it: its JSON type, and a short text or number itself."""
    kind = _JSON_NAMES.get(type(value), type(value).__name__)
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return f"{kind} ({str(value)[:40]!r})" if isinstance(value, str) else f"{kind} ({value!r})"
    return kind


_STATUS_VALUES = frozenset(s.value for s in Status)


def _fits(spec: Spec, value) -> bool:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if spec.type == "text":
        return isinstance(value, str)
    if spec.type == "number":
        return number
    if spec.type == "count":
        return number and math.isfinite(value) and spec.least <= value <= spec.most
    if spec.type == "time":
        return number and math.isfinite(value) and 0 <= value < _LATEST_TIME
    if spec.type == "flag":
        return isinstance(value, bool)
    if spec.type == "status":
        return isinstance(value, str) and value in _STATUS_VALUES
    if spec.type == "matrix":
        return (isinstance(value, list) and 0 < len(value) <= len(GENRES)
                and all(isinstance(row, list) and len(row) == len(value) for row in value))
    return isinstance(value, {"object": dict, "list": list}[spec.type])


def _check(spec: Spec, value, where: str, problems: list[str], limit: int) -> None:
    if len(problems) >= limit:
        return
    if not _fits(spec, value):
        if spec.type == "status" and isinstance(value, str):
            problems.append(f"{where} {value[:40]!r} is not a status ({', '.join(s.value for s in Status)})")
        else:
            needs = (_NEEDS[spec.type] if (spec.least, spec.most) == (0, math.inf) else
                     f"a number >= {spec.least:.15g}" if spec.most == math.inf else
                     f"a number from {spec.least:.15g} to {spec.most:.15g}")
            problems.append(f"{where} is {_shown(value)}, not {needs}")
        return
    if spec.type == "object":
        for key, sub in spec.fields.items():
            item = value.get(key)
            if item is None or (sub.required and item == {}):  # (an empty object is as good as none)
                if sub.required and value:
                    problems.append(f"{where} has no {key}")
                continue
            _check(sub, item, f"{where}.{key}", problems, limit)
        if spec.values is not None:
            for key, item in value.items():
                _check(spec.values, item, f"{where}.{key}", problems, limit)
    elif spec.type == "list" and spec.items is not None:
        for k, item in enumerate(value):
            _check(spec.items, item, f"{where}[{k}]", problems, limit)
    elif spec.type == "matrix":
        assert spec.items is not None  # a matrix is always of items (its Spec says which)
        for i, row in enumerate(value):
            for j, item in enumerate(row):
                _check(spec.items, item, f"{where}[{i}][{j}]", problems, limit)


def record_problems(data, run_id: str | None = None, limit: int = 3) -> list[str]:
    """What is wrong with ``data`` as a run record (at most ``limit`` problems; none:
    it is valid). With ``run_id``, its ``run_id`` must be that (its folder's name)."""
    if isinstance(data, RunRecord):
        data = data.data
    if not isinstance(data, dict):
        return [f"it holds {_JSON_NAMES.get(type(data), type(data).__name__)}, not a record (a JSON object)"]
    problems: list[str] = []
    for key, spec in RECORD.items():
        if data.get(key) is None:
            if spec.required:
                problems.append(f"it has no {key}")
            continue
        _check(spec, data[key], key, problems, limit)
    if run_id is not None and isinstance(data.get("run_id"), str) and data["run_id"] != run_id:
        problems.append(f"its run_id {data['run_id'][:60]!r} is not its folder's ({run_id})")
    if isinstance(data.get("input_kind"), str):
        from ..errors import ConfigError
        from ..inputs import get_kind  # (the kinds registered now: a record of an unknown one cannot be read)

        try:
            get_kind(data["input_kind"][:40])
        except ConfigError as exc:
            problems.append(f"its {exc}")
    return problems[:limit]


class RecordError(CheckpointError):
    """A run whose ``record.json`` cannot be used: unreadable, not JSON, or not a valid
    record (:func:`record_problems`). ``problem`` says what is wrong, without the run."""

    def __init__(self, run_id: str, problem: str):
        self.run_id, self.problem = run_id, problem
        super().__init__(f"run {run_id}: {problem}")


class RecordWriteError(ValueError):
    """A write the run store refuses because the record would not be valid with it (a
    field of the wrong type, :func:`field_problems`): nothing is written, and a record on
    disk never holds what its readers would refuse."""


def field_problems(fields: Mapping, limit: int = 3) -> list[str]:
    """What is wrong with ``fields`` as fields of a record (each checked against
    :data:`RECORD`; null clears any field but a required one)."""
    problems: list[str] = []
    for key, value in fields.items():
        spec = RECORD.get(key)
        if spec is None:
            continue
        if value is None:
            if spec.required:
                problems.append(f"{key} cannot be cleared")
            continue
        _check(spec, value, key, problems, limit)
    return problems[:limit]


def parse_record(run_id: str, data) -> dict:
    """``data`` when it is a valid record of run ``run_id``; else :class:`RecordError`
    naming what is wrong (the first step of reading any record)."""
    problems = record_problems(data, run_id)
    if problems:
        raise RecordError(run_id, "record.json is not a valid record: " + "; ".join(problems))
    return data


def record_owner(data) -> str | None:
    """The owner of a record, valid or not, when it can be read (a text ``owner``)."""
    owner = data.get("owner") if isinstance(data, dict) else None
    return owner if isinstance(owner, str) and owner else None
