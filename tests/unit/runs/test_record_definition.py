"""The run record is defined once (``gtzan_core/runs/record.py``): each field declared on
:class:`RunRecord` is, from that one line, in the schema check, read by its attribute and
kept in the JSON written. The tests read the definition itself, so a field added to it
is covered here with no edit: it must take a valid value of its type, refuse a value of
another type with a one-line message naming it, read typed, and round-trip through JSON."""

from __future__ import annotations

import dataclasses
import json

import pytest

from gtzan_core.runs import RunStore
from gtzan_core.runs.record import (
    FIELDS,
    MIGRATIONS,
    RECORD,
    RECORD_VERSION,
    DatasetInfo,
    Evaluation,
    ExternalEvaluation,
    PaddedInputs,
    Progress,
    RecordError,
    RecordField,
    RecordWriteError,
    RunRecord,
    Scores,
    Spec,
    SplitInfo,
    Starter,
    Trial,
    field_problems,
    load,
    object_spec,
    parse_record,
    record_problems,
)

BASE = {"run_id": "r1", "model": "cnn", "status": "finished"}
#: A field with a check of its own beyond its type takes a value that check accepts.
ACCEPTED = {"input_kind": "mfcc"}
#: The record's objects read as dataclasses (each field with its JSON type).
OBJECTS = (Scores, Evaluation, ExternalEvaluation, SplitInfo, Progress, PaddedInputs, Starter, Trial, DatasetInfo)


def example(spec: Spec):
    """A valid JSON value of ``spec``'s type, every known field of an object filled in."""
    if spec.type == "text":
        return "x"
    if spec.type == "number":
        return 0.25
    if spec.type == "count":
        return min(spec.least + 3, spec.most)
    if spec.type == "time":
        return 1.7e9
    if spec.type == "flag":
        return True
    if spec.type == "status":
        return "cancelled"
    if spec.type == "matrix":
        return [[example(spec.items)]]
    if spec.type == "list":
        return [example(spec.items)] if spec.items else ["x"]
    if spec.values is not None:
        return {"k": example(spec.values)}
    return {k: example(sub) for k, sub in spec.fields.items()} or {"free": 1}


def wrong(spec: Spec):
    """A JSON value of another type than ``spec``'s."""
    return "x" if spec.type in ("number", "count", "time", "matrix") else 7


def test_the_schema_is_read_off_the_declared_fields():
    declared = [v for v in vars(RunRecord).values() if isinstance(v, RecordField)]
    assert [f.name for f in declared] == list(RECORD) == [f.name for f in FIELDS]
    assert all(RECORD[f.name] is f.spec for f in declared)
    assert {"run_id", "model", "status"} == {k for k, s in RECORD.items() if s.required}


@pytest.mark.parametrize("name", list(RECORD))
def test_each_field_is_checked_read_typed_and_written(name):
    spec = RECORD[name]
    value = ACCEPTED.get(name, example(spec))
    data = {**BASE, name: value}
    assert record_problems(data) == [], name
    record, empty = RunRecord(data), RunRecord(dict(BASE))
    typed = getattr(record, name)
    assert typed is not None and typed != getattr(empty, name), name  # the attribute reads the field
    if getattr(RunRecord, name).read is None:
        assert typed == value
    again = RunRecord(json.loads(json.dumps(record.to_json())))  # the JSON written, read back
    assert again.to_json()[name] == value and getattr(again, name) == typed


@pytest.mark.parametrize("name", list(RECORD))
def test_each_field_refuses_a_value_of_another_type_in_one_line(name):
    bad = wrong(RECORD[name])
    problems = record_problems({**BASE, name: bad})
    assert len(problems) == 1 and problems[0].startswith(f"{name} ") and "\n" not in problems[0], problems
    with pytest.raises(RecordError, match=f"^run r1: record.json is not a valid record: {name} "):
        parse_record("r1", {**BASE, name: bad})
    assert field_problems({name: bad}) == problems


def test_an_ill_typed_value_is_named_with_what_it_should_be():
    assert record_problems({**BASE, "owner": ["a"]}) == ["owner is a list, not text"]
    assert record_problems({**BASE, "status": "sleeping"}) == [
        "status 'sleeping' is not a status (queued, running, finished, cancelled, failed, pruned)"]
    assert record_problems({**BASE, "split": {"monitor": 3}}) == ["split.monitor is a number (3), not text"]
    assert record_problems({**BASE, "input_kind": "chroma"})[0].startswith("its ")  # the field's own check


def test_a_field_the_definition_does_not_declare_is_kept_as_written():
    record = RunRecord({**BASE, "tempo_guess": [1, "two"]})
    assert record_problems(record) == []
    assert json.loads(json.dumps(record.to_json()))["tempo_guess"] == [1, "two"]


def test_a_write_of_an_ill_typed_field_is_refused_and_nothing_written(tmp_path):
    store = RunStore(tmp_path)
    rid = store.new_run(RunRecord({"model": "cnn", "status": "queued"}))
    with pytest.raises(RecordWriteError, match="owner is a number"):
        store.update(rid, owner=3)
    assert store.read(rid).owner is None


@pytest.mark.parametrize("cls", OBJECTS, ids=lambda c: c.__name__)
def test_each_object_is_checked_and_read_by_its_own_fields(cls):
    """A record's object (an evaluation, its scores, the split...) is a dataclass whose
    fields carry their JSON types: its schema is read off it, and it is read field by field."""
    spec = object_spec(cls)
    assert list(spec.fields) == [f.name for f in dataclasses.fields(cls)]
    data = example(spec)
    loaded = load(cls, data)
    for f in dataclasses.fields(cls):
        read = f.metadata["read"]
        assert getattr(loaded, f.name) == (read(data[f.name]) if read else data[f.name]), f.name


def test_an_older_layout_is_migrated_one_step_a_version():
    assert len(MIGRATIONS) + 1 == RECORD_VERSION
    v1 = {**BASE, "status": "queued", "owner": "ann", "config": {"epochs": 2}, "dataset": {"label": "GTZAN"},
          "job": {"data_path": "/d"}}
    record = RunRecord(v1)
    assert record.version == RECORD_VERSION and "record_version" not in v1  # (the dict read is not changed)
    assert record.job == {"data_path": "/d", "config": {"epochs": 2}, "owner": "ann", "dataset_label": "GTZAN"}
    assert record_problems(record) == []
