"""The run record (``record.json``), defined once: its statuses and phases, and
:class:`RunRecord`, whose declared fields are at the same time what a valid record is,
the typed attributes every part of the studio reads, and what is written.

A run's **status** says where it is in its life (set only by
:mod:`.lifecycle`): ``queued`` (in a job queue, nothing done yet), ``running``,
then ``finished``, ``cancelled`` (stopped; its best checkpoint is kept) or
``failed`` (with an ``error``). Its **phase** says what a running run is doing.

**The one definition.** Each field of a record is one line in :class:`RunRecord`: a
:class:`RecordField` naming its JSON type (a :class:`Spec`) and, where a reader wants
more than the JSON value, how it is read (an object read as one of the dataclasses
below: :class:`Evaluation`, :class:`Scores`, :class:`SplitInfo`, :class:`Progress`,
:class:`PaddedInputs`, :class:`ExternalEvaluation`, whose own fields carry their JSON
types in the same way, :func:`json_field`). From that line come:

- the **schema check**: :data:`RECORD` (field -> :class:`Spec`) is read off the class;
  :func:`record_problems` lists what is wrong with a record, :func:`parse_record` returns
  it or raises :class:`RecordError`; the run store checks every record it reads with it
  (a damaged run is listed apart, never shown as a run), an imported archive's record is
  checked with it too, and every write is checked field by field (:func:`field_problems`);
- the **typed access**: ``record.owner``, ``record.evaluation.at("track")``...;
- the **JSON written**: a record is a read-only view of its JSON object (:attr:`RunRecord.data`,
  written as it is by :meth:`RunRecord.to_json`; fields it does not declare are kept);
- the **migration** of older layouts: :data:`MIGRATIONS`, one step a version
  (:data:`RECORD_VERSION` is one more than their number), applied when a record is read.

``run_id``, ``model`` and ``status`` are required; the other fields may be absent or null.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Generic, TypeVar, overload

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


# -- JSON types --------------------------------------------------------------------

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
_PER_GENRE = Spec("object", values=COUNT)
_FILE_REASON = Spec("object", fields={"path": Spec("text", required=True), "reason": Spec("text", required=True)})


def json_field(spec: Spec, read: Callable[[Any], Any] | None = None, **kwargs) -> Any:
    """A field of one of the record's dataclasses with its JSON type ``spec`` (and, for an
    object read as a dataclass, ``read``); ``kwargs`` are :func:`dataclasses.field`'s."""
    return field(metadata={"spec": spec, "read": read}, **kwargs)


def object_spec(cls: type, required: bool = False) -> Spec:
    """The JSON type of an object read as the dataclass ``cls``: its fields' own types."""
    return Spec("object", required=required,
                fields={f.name: f.metadata["spec"] for f in dataclasses.fields(cls)})


_Loaded = TypeVar("_Loaded")


def load(cls: type[_Loaded], data: Mapping) -> _Loaded:
    """``data`` (a JSON object of ``cls``'s type, :func:`object_spec`) read as ``cls``: a
    field absent, null or empty text takes its default (a field without one is needed: a
    ``KeyError`` otherwise), a count is an int, a time a float, an object or a list a copy."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        raw = data.get(f.name)
        has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        if (raw is None or raw == "") and has_default:
            continue
        if raw is None:
            raw = data[f.name]  # (absent and needed: the KeyError names it)
        spec, read = f.metadata["spec"], f.metadata["read"]
        values[f.name] = (read(raw) if read is not None else int(raw) if spec.type == "count"
                          else float(raw) if spec.type == "time" else dict(raw) if isinstance(raw, dict)
                          else list(raw) if isinstance(raw, list) else raw)
    return cls(**values)


# -- the record's objects, each a dataclass whose fields carry their JSON types ------

_REPORT = Spec("object", required=True, values=Spec("object", fields=dict.fromkeys(
    ("precision", "recall", "f1-score"), Spec("number", required=True)) | {"support": Spec("count", required=True)}))


@dataclass(frozen=True)
class Scores:
    """One level of a run's test evaluation (per segment/patch/picture, or per track)."""

    accuracy: float = json_field(Spec("number", required=True))
    macro_f1: float = json_field(Spec("number", required=True))
    n: int = json_field(Spec("count", required=True), default=0)
    # per class (and the averages): precision, recall, f1-score, support
    report: dict = json_field(_REPORT, default_factory=dict)
    # rows: true genre, columns: predicted
    confusion: list = json_field(Spec("matrix", required=True, items=COUNT), default_factory=list)
    weighted_f1: float | None = json_field(NUMBER, default=None)

    def __getitem__(self, key: str):  # (read like the record's own mapping by the report helpers)
        return getattr(self, key)

    def get(self, key: str, default=None):
        return getattr(self, key, default)

    @classmethod
    def of(cls, data: Mapping | None) -> Scores | None:
        """``data`` read as scores (none when it is empty; a stored record has every field,
        checked by :data:`RECORD`; a record being built may lack the detail)."""
        return load(cls, data) if data else None


#: One level of a run's evaluation (segment or track), as the tables, Compare and the reports
#: read it: the scores, the per-class report (every row with its four numbers) and the
#: confusion matrix (square, one row per genre at most).
SCORES = object_spec(Scores)


@dataclass(frozen=True)
class Evaluation:
    """A run's one look at its test set: per sample (``segment``) and per track."""

    segment: Scores = json_field(object_spec(Scores, required=True), read=Scores.of)
    track: Scores | None = json_field(SCORES, read=Scores.of, default=None)
    leaky: bool = json_field(FLAG, default=False)
    selection_on_test: bool = json_field(FLAG, default=False)

    def at(self, level: str) -> Scores:
        """The scores at ``level`` ("segment" or "track"; a run whose unit is the track,
        one picture a track, has the segment level alone)."""
        return (self.track if level == "track" else None) or self.segment

    @classmethod
    def of(cls, data: Mapping | None) -> Evaluation | None:
        """A record's ``evaluation`` read (none without its segment level)."""
        return load(cls, data) if data and data.get("segment") else None


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

    folder: str = json_field(Spec("text", required=True))
    name: str = json_field(TEXT, default="")  # (read: the folder when it has none)
    date: float = json_field(TIME, default=0.0)
    label_map: dict = json_field(Spec("object", values=TEXT), default_factory=dict)
    n_files: int = json_field(COUNT, default=0)
    n_scored: int = json_field(COUNT, default=0)
    n_refused: int = json_field(COUNT, default=0)
    n_out_of_scope: int = json_field(COUNT, default=0)
    n_dropped: int = json_field(COUNT, default=0)
    accuracy: float | None = json_field(NUMBER, default=None)
    scores: Scores | None = json_field(SCORES, read=Scores.of, default=None)
    refused: list = json_field(Spec("list", items=_FILE_REASON), default_factory=list)  # [{"path", "reason"}]
    out_of_scope: dict = json_field(Spec("object", values=COUNT), default_factory=dict)  # label -> files
    dropped: list = json_field(Spec("list", items=_FILE_REASON), default_factory=list)  # [{"path", "reason"}]
    notes: list = json_field(Spec("list", items=TEXT), default_factory=list)

    def as_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["scores"] = None if self.scores is None else {k: v for k, v in dataclasses.asdict(self.scores).items()
                                                          if v is not None}
        return out

    @classmethod
    def of(cls, data: Mapping) -> ExternalEvaluation:
        ev = load(cls, data)
        return ev if ev.name else dataclasses.replace(ev, name=ev.folder)


#: One evaluation on another folder (:class:`ExternalEvaluation`).
EXTERNAL = object_spec(ExternalEvaluation)


@dataclass(frozen=True)
class SplitInfo:
    """How a run's data were split: sizes (in ``unit``s), what the model was chosen on,
    each part's tracks per genre and the tracks the run saw (trained or validated on)."""

    train: int = json_field(COUNT, default=0)
    val: int = json_field(COUNT, default=0)
    test: int = json_field(COUNT, default=0)
    unit: str = json_field(TEXT, default="segment")
    monitor: str = json_field(TEXT, default="validation")
    note: str | None = json_field(TEXT, default=None)
    tracks_per_genre: dict = json_field(Spec("object", fields=dict.fromkeys(("train", "val", "test"), _PER_GENRE)),
                                        default_factory=dict)
    seen_tracks: list = json_field(Spec("list", items=TEXT), default_factory=list)


@dataclass(frozen=True)
class Progress:
    """What a running run's current phase has done of how much (tracks, inputs)."""

    done: int = json_field(COUNT, default=0)
    total: int = json_field(COUNT, default=0)
    message: str = json_field(TEXT, default="")


@dataclass(frozen=True)
class PaddedInputs:
    """How many of a run's tracks were shorter than one input and repeat-padded to one."""

    tracks: int = json_field(COUNT)
    of: int = json_field(COUNT, default=0)
    unit: str = json_field(TEXT, default="")  # (read: the run's split unit when it has none)


@dataclass(frozen=True)
class Starter:
    """What a starter run (:mod:`gtzan_core.starter`) says about how it was measured: its
    ``tracks``, its test accuracy over seeds (``mean`` ± ``sd``, each seed's in
    ``accuracies``, on ``test_tracks`` unseen tracks each), what it trained on
    (``material``: "audio" excerpts or spectrogram pictures; ``data``) and the command."""

    tracks: int = json_field(Spec("count", required=True))
    mean: float = json_field(Spec("number", required=True))
    sd: float = json_field(Spec("number", required=True))
    seeds: list = json_field(Spec("list", required=True, items=NUMBER))
    test_tracks: int = json_field(Spec("count", required=True))
    accuracies: list = json_field(Spec("list", items=NUMBER), default_factory=list)
    data: str | None = json_field(TEXT, default=None)
    command: str | None = json_field(TEXT, default=None)
    val_accuracies: list = json_field(Spec("list", items=NUMBER), default_factory=list)
    val_size: int | None = json_field(COUNT, default=None)
    material: str | None = json_field(TEXT, default=None)
    fallback: bool = json_field(FLAG, default=False)


@dataclass(frozen=True)
class DatasetInfo:
    """What a run trained on: the dataset's ``label`` ("GTZAN", the demo set's, "pending"
    until it is opened), its folder (``root``) and its content's ``fingerprint``."""

    label: str | None = json_field(TEXT, default=None)
    root: str | None = json_field(TEXT, default=None)
    fingerprint: str | None = json_field(TEXT, default=None)


@dataclass(frozen=True)
class Trial:
    """Which search made a run (a trial of study ``name``, shown as ``label``, number ``trial``)."""

    name: str | None = json_field(TEXT, default=None)
    label: str | None = json_field(TEXT, default=None)
    trial: int | None = json_field(COUNT, default=None)


#: One epoch of a run's history (the loss chart, the ETA).
EPOCH = Spec("object", fields={**dict.fromkeys(("train_loss", "val_loss", "train_acc", "val_acc"),
                                                Spec("number", required=True)),
                               "epoch": Spec("count", required=True), "seconds": COUNT, "elapsed": COUNT,
                               "best": FLAG})


# -- older layouts -------------------------------------------------------------------

def _job_carries_its_configuration(data: dict) -> dict:
    """Version 1 -> 2 (records before the job spec): a queued run's ``job`` gains the
    configuration and the owner the record kept beside it."""
    job = data.get("job")
    if isinstance(job, dict) and "config" not in job and isinstance(data.get("config"), dict):
        data["job"] = {**job, "config": data["config"], "owner": data.get("owner"),
                       "dataset_label": (data.get("dataset") or {}).get("label")
                       if isinstance(data.get("dataset"), dict) else None}
    return data


#: The steps that bring a record of an earlier layout to this one: step ``k`` (from 0)
#: takes a record of version ``k + 1`` to ``k + 2`` (a record without ``record_version``
#: is version 1). A new layout is one step here.
MIGRATIONS: tuple[Callable[[dict], dict], ...] = (_job_carries_its_configuration,)
#: The layout of the records this studio writes.
RECORD_VERSION = len(MIGRATIONS) + 1


def migrate(data: dict) -> dict:
    """A record of an earlier layout brought to :data:`RECORD_VERSION` (a new dict; the
    file is not rewritten): each step of :data:`MIGRATIONS` from its version on."""
    version = data.get("record_version", 1)
    if version >= RECORD_VERSION:
        return data
    data = dict(data)
    for step in MIGRATIONS[max(int(version), 1) - 1:]:
        data = step(data)
    data["record_version"] = RECORD_VERSION
    return data


# -- the record --------------------------------------------------------------------

_T = TypeVar("_T")


class RecordField(Generic[_T]):
    """One field of :class:`RunRecord`, declared once: its JSON type (``spec``), how it is
    read (``read(value, record)``, given null too, when the JSON value is not what its
    readers want; else the value itself, or ``empty()`` when it is absent or null) and an
    extra ``check`` of a valid value (a problem in words, or None)."""

    def __init__(self, spec: Spec, read: Callable[[Any, RunRecord], _T] | None = None,
                 empty: Callable[[], Any] | None = None, check: Callable[[Any], str | None] | None = None):
        self.spec, self.read, self.empty, self.check = spec, read, empty, check
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, record: None, owner: type | None = None) -> RecordField[_T]: ...

    @overload
    def __get__(self, record: RunRecord, owner: type | None = None) -> _T: ...

    def __get__(self, record, owner=None):
        if record is None:
            return self
        raw = record.data.get(self.name)
        if self.read is not None:
            return self.read(raw, record)
        if raw is None:
            return None if self.empty is None else self.empty()
        return raw


def _status(value, record) -> Status | None:
    try:
        return Status(value)
    except ValueError:
        return None


def _known_kind(value: str) -> str | None:
    from ..errors import ConfigError
    from ..inputs import get_kind  # (the kinds registered now: a record of an unknown one cannot be read)

    try:
        get_kind(value[:40])
    except ConfigError as exc:
        return f"its {exc}"
    return None


def _split(value, record) -> SplitInfo | None:
    return load(SplitInfo, value) if value else None


def _progress(value, record) -> Progress | None:
    return load(Progress, value) if value else None


def _padded(value, record) -> PaddedInputs | None:
    if not value or not value.get("tracks"):
        return None
    padded = load(PaddedInputs, value)
    return padded if padded.unit else dataclasses.replace(padded, unit=record.unit)


def _external(value, record) -> list[ExternalEvaluation]:
    found = [ExternalEvaluation.of(ev) for ev in (value or {}).values()]
    return sorted(found, key=lambda ev: ev.date, reverse=True)


def _obj(spec: Spec | None = None) -> RecordField[dict]:
    """An object field read as its JSON object ({} when absent)."""
    return RecordField(spec or Spec("object"), empty=dict)


class RunRecord(Mapping):
    """A run's record, typed and read-only, defined once: each :class:`RecordField` below
    is a field of the stored JSON object, its type (:data:`RECORD`, checked on every read
    and write) and the attribute its readers read (``record.owner``). What the run store
    reads and writes, and what every part of the studio is handed (its JSON object,
    :attr:`data`, is the stored form, written by :meth:`to_json`; fields not declared here
    are kept as they are; a record of an earlier layout is seen migrated: :func:`migrate`).
    A change is a new record (:meth:`updated`), never an edit of this one.

    It is also a read-only mapping of its JSON object's fields (``{**record}``), for the
    code that handles records whole (an archive, the job queue, a test) and, as a
    transition, for library modules not yet moved to the attributes; the pages, the web
    layer and the CLI read attributes (``tests/project/test_structure.py`` checks the pages)."""

    __hash__ = None  # type: ignore[assignment]  # (a view of a dict)

    run_id: RecordField[str] = RecordField(Spec("text", required=True))
    model: RecordField[str | None] = RecordField(Spec("text", required=True))
    status: RecordField[Status | None] = RecordField(Spec("status", required=True), read=_status)
    title: RecordField[str] = RecordField(TEXT, read=lambda v, r: v or r.data.get("model") or "?")
    owner: RecordField[str | None] = RecordField(TEXT)
    phase: RecordField[str | None] = RecordField(TEXT)
    protocol: RecordField[str | None] = RecordField(TEXT)
    protocol_label: RecordField[str | None] = RecordField(TEXT)
    recipe: RecordField[str | None] = RecordField(TEXT)
    device: RecordField[str | None] = RecordField(TEXT)
    input_kind: RecordField[str | None] = RecordField(TEXT, check=_known_kind)
    error: RecordField[str | None] = RecordField(TEXT)
    host: RecordField[str | None] = RecordField(TEXT)
    family: RecordField[str | None] = RecordField(TEXT)
    weights_note: RecordField[str | None] = RecordField(TEXT)
    created: RecordField[float | None] = RecordField(TIME)
    started: RecordField[float | None] = RecordField(TIME)
    finished: RecordField[float | None] = RecordField(TIME)
    heartbeat: RecordField[float | None] = RecordField(TIME)
    epochs_run: RecordField[int | None] = RecordField(COUNT)
    best_epoch: RecordField[int | None] = RecordField(COUNT)
    trainable_params: RecordField[int | None] = RecordField(COUNT)
    total_params: RecordField[int | None] = RecordField(COUNT)
    train_seconds: RecordField[float | None] = RecordField(COUNT)
    pid: RecordField[int | None] = RecordField(PID)
    record_version: RecordField[int] = RecordField(Spec("count", least=1), empty=lambda: 1)
    leaky: RecordField[bool | None] = RecordField(FLAG)
    #: Whether the model was chosen on its test set (the paper's protocol): its numbers flatter it.
    selection_on_test: RecordField[bool] = RecordField(FLAG, read=lambda v, r: bool(v))
    early_stopped: RecordField[bool | None] = RecordField(FLAG)
    pretrained: RecordField[bool | None] = RecordField(FLAG)  # (None: the record does not say)
    history: RecordField[list[dict]] = RecordField(Spec("list", items=EPOCH), empty=list)
    split_warnings: RecordField[list[str]] = RecordField(Spec("list", items=TEXT), empty=list)
    classes: RecordField[list[str]] = RecordField(Spec("list", items=TEXT), empty=list)
    evaluation: RecordField[Evaluation | None] = RecordField(object_spec(Evaluation),
                                                             read=lambda v, r: Evaluation.of(v))
    config: RecordField[dict] = _obj(Spec("object", fields={"epochs": Spec("count", least=1), "patience": COUNT,
                                                            "recipe": TEXT, "model": TEXT}))
    dataset: RecordField[DatasetInfo] = RecordField(object_spec(DatasetInfo),
                                                    read=lambda v, r: load(DatasetInfo, v or {}))
    split: RecordField[SplitInfo | None] = RecordField(object_spec(SplitInfo), read=_split)
    progress: RecordField[Progress | None] = RecordField(object_spec(Progress), read=_progress)
    job: RecordField[dict] = _obj(Spec("object", fields={"data_path": TEXT}))
    queue_owner: RecordField[dict] = _obj(Spec("object", fields={"host": TEXT, "pid": PID}))
    reproduction: RecordField[dict] = _obj(Spec("object", fields={"id": TEXT, "seed": COUNT, "seeds": COUNT}))
    study: RecordField[Trial | None] = RecordField(object_spec(Trial), read=lambda v, r: load(Trial, v) if v else None)
    pruned: RecordField[str | None] = RecordField(TEXT)
    #: knowledge distillation (gtzan_core/distillation.py): the teacher run, its weights and the loss's knobs
    distillation: RecordField[dict] = _obj(Spec("object", fields={
        "teacher": Spec("text", required=True), "teacher_model": TEXT, "teacher_checkpoint_sha256": TEXT,
        "temperature": NUMBER, "alpha": NUMBER, "train_tracks": COUNT, "alignment": TEXT}))
    transfer: RecordField[dict] = _obj(Spec("object", fields={"id": TEXT, "condition": TEXT, "pretrained_on": TEXT,
                                                              "protocol": TEXT}))
    starter: RecordField[Starter | None] = RecordField(object_spec(Starter),
                                                       read=lambda v, r: load(Starter, v) if v else None)
    padded_inputs: RecordField[PaddedInputs | None] = RecordField(object_spec(PaddedInputs), read=_padded)
    #: The run's evaluations on other folders (folder -> its evaluation), read newest
    #: first (a record without any, one written before they existed included: none).
    external_evaluations: RecordField[list[ExternalEvaluation]] = RecordField(
        Spec("object", values=EXTERNAL), read=_external)
    promoted: RecordField[dict] = _obj(Spec("object", fields={"by": TEXT, "at": TIME}))  # to the class (claims)
    mfcc_params: RecordField[dict] = _obj()
    image_params: RecordField[dict] = _obj()
    musicnn_params: RecordField[dict] = _obj()
    weights: RecordField[dict] = _obj()
    recipe_changes: RecordField[dict] = _obj()
    image_sources: RecordField[dict] = _obj()
    imported: RecordField[dict] = _obj()
    #: When a stop was asked for (the job queue), until the run stops.
    stop_requested: RecordField[float | None] = RecordField(TIME)

    def __init__(self, data: Mapping):
        data = data.data if isinstance(data, RunRecord) else data  # (a record seen again)
        object.__setattr__(self, "data", migrate(data))  # type: ignore[arg-type]

    data: dict

    def __setattr__(self, name, value):
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __reduce__(self):
        return RunRecord, (self.data,)

    def __eq__(self, other) -> bool:
        return self.data == other.data if isinstance(other, RunRecord) else NotImplemented

    def __repr__(self) -> str:
        return f"RunRecord(data={self.data!r})"

    def updated(self, **fields) -> RunRecord:
        """This record with ``fields`` set (a new record; this one is unchanged)."""
        return RunRecord({**self.data, **fields})

    def to_json(self) -> dict:
        """The stored form: a copy of the record's JSON object."""
        return dict(self.data)

    @classmethod
    def of(cls, record: Mapping) -> RunRecord:
        """``record`` seen typed (a record already typed is itself)."""
        return record if isinstance(record, RunRecord) else cls(record)

    # (the read-only mapping of its JSON object)
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

    # -- what is read from its fields ---------------------------------------------

    @property
    def version(self) -> int:
        return int(self.record_version)

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
            return not get_kind(self.input_kind or "mfcc").per_track
        except ConfigError:  # (a record of an unknown kind is damaged: listed apart, never read here)
            return False

    @property
    def part_of(self) -> dict:
        """Which study made it, when one did (a ``reproduction``, a ``transfer`` study, the
        ``starter``, a search ``study``: its id or label, seed, condition or trial), else {}."""
        for key in ("reproduction", "transfer", "starter", "study"):
            if self.data.get(key):
                return self.data[key]
        return {}

    @property
    def active(self) -> bool:
        """Queued or running (:attr:`Status.active`); a record of no known status is not."""
        return self.status is not None and self.status.active

    @property
    def dataset_label(self) -> str | None:
        return self.dataset.label

    def metrics(self, level: str = "track") -> dict:
        """The test metrics at ``level`` ("segment": per sample, "track"), or {}, as JSON."""
        return (self.data.get("evaluation") or {}).get(level) or {}

    @property
    def evaluated(self) -> bool:
        return bool(self.data.get("evaluation"))

    @property
    def trained(self) -> bool:
        """Whether it trained at all (an epoch, or an evaluation): a job stopped or failed
        before that is a job, never a run to compare."""
        return bool(self.history or self.evaluated)


#: Every field of a record, in the order it is declared and checked.
FIELDS: tuple[RecordField[Any], ...] = tuple(v for v in vars(RunRecord).values() if isinstance(v, RecordField))
#: What a valid record is, read off :class:`RunRecord`: each field the pages, the CLI, the
#: job queue and the reports read, with the type it needs; a record is valid when each has
#: it (other fields are free).
RECORD: dict[str, Spec] = {f.name: f.spec for f in FIELDS}


def dataset_of(records) -> str:
    """The dataset a group of runs (a study's) trained on: the first label a run has
    opened, or "pending" while none has."""
    for r in records:
        label = RunRecord.of(r).dataset_label
        if label not in (None, "pending"):
            return label
    return "pending"


# -- what a valid record is -------------------------------------------------------

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
    for f in FIELDS:  # (a field's own check, on a value of its type)
        value = data.get(f.name)
        if f.check is not None and value is not None and _fits(f.spec, value):
            problem = f.check(value)
            if problem:
                problems.append(problem)
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
