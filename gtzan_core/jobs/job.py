"""A training job: :class:`JobSpec`, everything a job needs, described once and
serialised in one place; :class:`Job`, a queued run holding one.

A spec travels as ``spec.to_dict()`` (the run record's ``job`` field, and the
argument of a Ray task) and comes back with :meth:`JobSpec.from_dict`, which checks
it: nothing else writes or parses a job.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, fields as dataclass_fields
from typing import TYPE_CHECKING, Any

from .. import DEMO_DATASET
from ..errors import ConfigError
from ..hparams import TrainConfig

if TYPE_CHECKING:  # (the record is the run store's: read at run time only)
    from ..runs.record import RunRecord


@dataclass(frozen=True)
class JobSpec:
    """Everything a training job needs: the model's configuration, the dataset (None:
    the synthetic demo set), where image models take their pictures from, more fields
    for the run record (a reproduction's or a study's), who asked, and how the dataset is
    named until the job opens it."""

    config: TrainConfig
    data_path: str | None = None
    image_source: str = "auto"
    extra: dict = field(default_factory=dict)
    owner: str | None = None
    dataset_label: str | None = None

    def __post_init__(self):
        if not isinstance(self.config, TrainConfig):
            raise ConfigError(f"a job's config must be a TrainConfig, not {type(self.config).__name__}")
        if self.data_path is not None and not isinstance(self.data_path, str):
            raise ConfigError(f"a job's data path must be text, not {type(self.data_path).__name__}")
        if not isinstance(self.extra, dict):
            raise ConfigError(f"a job's extra fields must be a mapping, not {type(self.extra).__name__}")
        if self.owner is not None and not isinstance(self.owner, str):
            raise ConfigError(f"a job's owner must be text, not {type(self.owner).__name__}")
        from ..features import ImageParams

        try:
            ImageParams(source=self.image_source)
        except ValueError as exc:  # it names the sources there are
            raise ConfigError(str(exc)) from None

    @property
    def label(self) -> str:
        """How the dataset is named until the job opens it."""
        return self.dataset_label or (DEMO_DATASET if self.data_path is None else "pending")

    def to_dict(self) -> dict:
        """The job as plain JSON data (the one serialisation of a job)."""
        return {"config": self.config.as_dict(), "data_path": self.data_path, "image_source": self.image_source,
                "extra": dict(self.extra), "owner": self.owner, "dataset_label": self.dataset_label}

    @classmethod
    def from_dict(cls, data: Any, config: dict | None = None) -> JobSpec:
        """The job ``data`` describes (the one parser of a job), checked: a
        :class:`ConfigError` names what is wrong. ``config``: the configuration, for the
        records of studios before 0.2, whose ``job`` field held everything but it (they
        kept it in the record's ``config``)."""
        if data is None:
            raise ConfigError("the record holds no job (its job field is null)")
        if not isinstance(data, dict):
            raise ConfigError(f"a job must be a mapping, not {type(data).__name__}")
        known = {f.name for f in dataclass_fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"a job has unknown fields: {', '.join(map(str, unknown))}")
        raw = data.get("config", config)
        if not isinstance(raw, dict):
            raise ConfigError("a job needs its model configuration (a mapping)")
        try:
            cfg = TrainConfig(**raw).validate()
        except TypeError as exc:
            raise ConfigError(f"a job's configuration is not one this studio knows ({exc})") from None
        extra = data.get("extra")
        return cls(cfg, data.get("data_path"), data.get("image_source") or "auto",
                   {} if extra is None else dict(extra) if isinstance(extra, dict) else extra,
                   data.get("owner"), data.get("dataset_label"))

    @classmethod
    def from_record(cls, record: RunRecord | dict) -> JobSpec:
        """The job of a queued run's record, of any layout this studio reads (an older
        record is seen migrated: :func:`gtzan_core.runs.record.migrate`)."""
        from ..runs.record import RunRecord

        return cls.from_dict(RunRecord.of(record).get("job"))


@dataclass
class Job:
    """A queued (or running) run and the spec it runs."""

    run_id: str
    spec: JobSpec
    cancel: threading.Event = field(default_factory=threading.Event)
    submitted: float = field(default_factory=time.time)

    @property
    def config(self) -> TrainConfig:
        return self.spec.config

    @property
    def data_path(self) -> str | None:
        return self.spec.data_path

    @property
    def image_source(self) -> str:
        return self.spec.image_source

    @property
    def extra(self) -> dict:
        return self.spec.extra

    @property
    def owner(self) -> str | None:
        return self.spec.owner
