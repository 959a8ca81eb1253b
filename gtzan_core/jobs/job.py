"""A training job: a queued run and what it needs to start."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from ..hparams import TrainConfig


@dataclass
class Job:
    run_id: str
    config: TrainConfig
    data_path: str | None
    image_source: str = "auto"
    extra: dict = field(default_factory=dict)
    cancel: threading.Event = field(default_factory=threading.Event)
    submitted: float = field(default_factory=time.time)
    owner: str | None = None
