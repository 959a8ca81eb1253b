"""A job's way from the queue to its finished record enters the run store in three kinds
of write only: the run is created (described, once), it reports progress (phase, facts
learnt on the way, epochs), and it ends (one write of its outcome). Nothing describes
the run a second time."""

import pytest

from gtzan_core.hparams import make_config
from gtzan_core.jobs import JobManager, JobSpec
from gtzan_core.jobs.recorded import describe_job
from gtzan_core.runs import RunStore, Status, lifecycle
from gtzan_core.runs.record import ENDED
from tests.helpers import wait_until

#: The fields only the description writes: what the run is (model, settings, job, owner).
DESCRIPTION = {"model", "title", "input_kind", "citation", "protocol", "recipe", "recipe_changes", "config",
               "family", "licence", "classes", "job", "owner", "record_version", "torch", "python"}


class Recording(RunStore):
    """A run store that keeps, per run, every write: ("create", fields) or ("write", fields)."""

    def __init__(self, root):
        super().__init__(root)
        self.writes: dict[str, list[tuple[str, dict]]] = {}

    def new_run(self, record):
        run_id = super().new_run(record)
        self.writes.setdefault(run_id, []).append(("create", record.to_json()))
        return run_id

    def write_life(self, run_id, change, compact=False):
        seen = {}

        def recording(record):
            fields = change(record)
            if fields is not None:
                seen.update(fields)
            return fields

        record = super().write_life(run_id, recording, compact)
        if seen:
            self.writes.setdefault(run_id, []).append(("write", seen))
        return record

    def merge(self, run_id, field, **values):
        self.writes.setdefault(run_id, []).append(("write", {field: values}))
        return super().merge(run_id, field, **values)


def kinds_of(writes: list[tuple[str, dict]]) -> list[str]:
    """Each write as "create", "progress" or "end"."""
    out = []
    for what, fields in writes:
        if what == "create":
            out.append("create")
        elif fields.get("status") in ENDED:
            out.append("end")
        else:
            out.append("progress")
    return out


@pytest.mark.heavy
def test_a_queued_job_is_described_once_reports_progress_and_ends_once(tmp_path, tiny_features):
    store = Recording(tmp_path / "runs")
    manager = JobManager(store, feature_loader=lambda ds, progress=None: tiny_features)
    try:
        run_id = manager.submit(make_config("mlp", epochs=3, patience=50, device="cpu"))
        wait_until(lambda: store.read(run_id)["status"] == "finished", 120, what="the job to finish")
        assert manager.wait_idle(30)
    finally:
        manager.shutdown()
    writes = store.writes[run_id]
    kinds = kinds_of(writes)
    # create, then progress only, then one end: three kinds of entry, in that order
    assert kinds[0] == "create" and kinds.count("create") == 1
    assert kinds[-1] == "end" and kinds.count("end") == 1
    assert set(kinds[1:-1]) <= {"progress"}
    # described once: no write after the first repeats a field of the description
    for what, fields in writes[1:]:
        assert not DESCRIPTION & set(fields), (what, sorted(DESCRIPTION & set(fields)))
    # the description is the job spec's, and the finished record still holds it as created
    created = writes[0][1]
    final = store.read(run_id)
    assert JobSpec.from_dict(final["job"]).to_dict() == created["job"]
    assert {k: final[k] for k in DESCRIPTION if k in created} == {k: created[k] for k in DESCRIPTION if k in created}
    assert final["status"] == Status.FINISHED.value and final["evaluation"]


def test_the_check_can_fail(tmp_path):
    """A job described twice (a second write of its config) is caught by the same reading."""
    store = Recording(tmp_path / "runs")
    spec = JobSpec(make_config("mlp", epochs=1, device="cpu"))
    run_id = lifecycle.create(store, describe_job(spec))
    store.update(run_id, config=spec.config.as_dict())  # a second description
    assert DESCRIPTION & set(store.writes[run_id][1][1])


def test_the_store_reads_and_writes_typed_records_and_refuses_a_field_of_the_wrong_type(tmp_path):
    from gtzan_core.runs import RunRecord
    from gtzan_core.runs.record import RecordWriteError

    store = RunStore(tmp_path)
    run_id = lifecycle.create(store, describe_job(JobSpec(make_config("mlp", epochs=1, device="cpu"))))
    assert isinstance(store.read(run_id), RunRecord) and all(isinstance(r, RunRecord) for r in store.list())
    before = (tmp_path / run_id / "record.json").read_bytes()
    with pytest.raises(RecordWriteError, match="progress.done is text"):
        store.update(run_id, progress={"done": "three", "total": 10})
    with pytest.raises(RecordWriteError, match="history is an object"):
        lifecycle.start(store, run_id, "features", history={"epoch": 1})
    with pytest.raises(RecordWriteError, match="model cannot be cleared"):
        store.update(run_id, model=None)
    assert (tmp_path / run_id / "record.json").read_bytes() == before  # nothing was written
    assert store.read(run_id).status is Status.QUEUED
    with pytest.raises(TypeError, match="writes RunRecords, not dict"):
        store.write_record(run_id, {"run_id": run_id, "model": "mlp", "status": "queued"})
    with pytest.raises(RecordWriteError, match="it has no model"):
        store.new_run(RunRecord({"status": "queued"}))
    # a record is changed by making a new one: the one read is as it was
    record = store.read(run_id)
    assert record.updated(title="other").title == "other" and record.title == "MLP"
