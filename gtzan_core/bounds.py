"""Every numeric training setting's declared bounds, in one place: a light module (no
PyTorch), so that an import can check a file's numbers before anything heavy loads.
:meth:`gtzan_core.hparams.TrainConfig.validate` checks them, so the CLI, the Train form,
job records, search spaces, recipes files and imported runs all pass the same check; the
Train form's fields take their min and max from here."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import ConfigError


@dataclass(frozen=True)
class Bound:
    """A numeric setting's declared range (both ends included; always finite)."""

    low: float
    high: float
    integer: bool = False

    def problem(self, name: str, value) -> str | None:
        """Why ``value`` is no value of setting ``name`` (None: it is one)."""
        label = name.replace("_", "-")
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return f"{label} must be a number (got {value!r})"
        if self.integer and not isinstance(value, numbers.Integral):
            return f"{label} must be a whole number (got {value!r})"
        if not math.isfinite(value):
            return f"{label} must be a finite number (got {value!r})"
        if not self.low <= value <= self.high:
            return f"{label} must be between {_num(self.low)} and {_num(self.high)} (got {_num(value)})"
        return None


def _num(value: float) -> str:
    return str(value) if isinstance(value, numbers.Integral) else f"{value:g}"


#: Every numeric setting's bounds, declared once: TrainConfig.validate checks them, so the CLI,
#: the Train form, job records, search spaces, recipes files and imported runs all pass the same
#: check; the Train form's fields take their min and max from here. The Transformer's size is
#: bounded (AST-Base is 12 blocks of width 768); what a job's memory may be is the budget's
#: (gtzan_core/training/memory.py, GTZAN_STUDIO_MAX_JOB_MB).
BOUNDS: dict[str, Bound] = {
    "lr": Bound(1e-7, 10.0),
    "batch_size": Bound(1, 4096, integer=True),
    "epochs": Bound(1, 10_000, integer=True),
    "patience": Bound(1, 10_000, integer=True),
    "weight_decay": Bound(0.0, 1.0),
    "warmup_epochs": Bound(0, 10_000, integer=True),
    "time_mask": Bound(0, 1_000, integer=True),
    "freq_mask": Bound(0, 1_000, integer=True),
    "mixup": Bound(0.0, 10.0),
    "kd_temperature": Bound(0.1, 100.0),
    "kd_alpha": Bound(0.0, 1.0),
    "depth": Bound(1, 24, integer=True),
    "width": Bound(4, 768, integer=True),
    "dropout": Bound(0.0, 0.9),
    "seed": Bound(0, 2**32 - 1, integer=True),
}


def knob_problems(values: Mapping, where: str = "") -> list[str]:
    """What is wrong with the numeric settings in ``values`` (those :data:`BOUNDS` declares;
    ``None`` counts as unset), one line each, prefixed by ``where``."""
    problems = []
    for name, bound in BOUNDS.items():
        value = values.get(name)
        if value is not None and (problem := bound.problem(name, value)):
            problems.append(f"{where}{problem}")
    return problems


def check_knobs(values: Mapping, where: str = "") -> None:
    """Raise :class:`ConfigError` naming the first setting of ``values`` outside its bounds."""
    problems = knob_problems(values, where)
    if problems:
        raise ConfigError(problems[0])
