"""What a reproduction runs: every model under the paper protocol with the paper
recipe, and (by default) the same models under the honest protocols, for each seed.

Every run of a reproduction carries ``reproduction: {id, seed, seeds, created}``
in its record, which is how the results are gathered again later (in another
process, after a restart, on the app's Reproduction page).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

from ..hparams import TrainConfig, make_config
from ..models import MODELS

#: The paper's seven models (the pretrained family joins a reproduction when named).
PAPER_MODELS = [name for name, spec in MODELS.items() if spec.family == "paper"]

PAPER_PROTOCOL = "paper"


def honest_protocols(real_gtzan: bool) -> list[str]:
    """The honest protocols for a dataset: ``track``, plus the artist-filtered split on real GTZAN."""
    return ["track", "filtered"] if real_gtzan else ["track"]


@dataclass
class ReproductionPlan:
    id: str
    configs: list[TrainConfig]
    seeds: int
    protocols: list[str]
    created: float = field(default_factory=time.time)
    #: runs left out because their split cannot say anything: "model / protocol" -> the problems
    skipped: dict[str, list[str]] = field(default_factory=dict)

    def record_fields(self, config: TrainConfig) -> dict:
        """The fields a run of this plan adds to its record."""
        return {"reproduction": {"id": self.id, "seed": config.seed, "seeds": self.seeds,
                                 "protocols": self.protocols, "created": self.created}}


def new_reproduction_id() -> str:
    return f"repro-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def plan_reproduction(real_gtzan: bool = False, seeds: int = 1, epochs: int | None = None, device: str = "auto",
                      honest: bool = True, models: list[str] | None = None, recipe: str = "paper") -> ReproductionPlan:
    """The runs of a reproduction: ``models`` (default: the paper's seven) x (the paper protocol,
    then the honest ones unless ``honest`` is False) x seeds 0..seeds-1, all with
    ``recipe`` (default: the paper's), ``epochs`` capping the recipe's maximum."""
    if seeds < 1:
        from ..errors import ConfigError

        raise ConfigError(f"seeds must be at least 1 (got {seeds})")
    protocols = [PAPER_PROTOCOL] + (honest_protocols(real_gtzan) if honest else [])
    configs = [make_config(m, recipe=recipe, protocol=p, epochs=epochs, device=device, seed=s)
               for s in range(seeds) for p in protocols for m in (models or PAPER_MODELS)]
    return ReproductionPlan(new_reproduction_id(), configs, seeds, protocols)


def screen_splits(plan: ReproductionPlan, dataset, allow_weak: bool = False) -> ReproductionPlan:
    """Leave out the runs whose split on ``dataset`` cannot say anything
    (:func:`~gtzan_core.splits.planned_problems_of`), naming why in ``plan.skipped``; with ``allow_weak`` they
    stay (each records its warning)."""
    from ..splits import planned_problems_of

    kept = []
    for config, problems in zip(plan.configs, planned_problems_of(plan.configs, dataset), strict=False):
        if problems and not allow_weak:
            plan.skipped[f"{config.model} / {config.protocol}"] = problems
        else:
            kept.append(config)
    plan.configs = kept
    return plan


def skipped_summary(plan: ReproductionPlan) -> list[str]:
    """One line per skipped protocol and model family: which runs, and why."""
    by_reason: dict[tuple, list[str]] = {}
    for run, problems in plan.skipped.items():
        model, protocol = run.split(" / ")
        by_reason.setdefault((protocol, tuple(problems)), []).append(model)
    return [f"skipped {protocol} protocol for {', '.join(dict.fromkeys(models))}: {'; '.join(problems)}"
            for (protocol, problems), models in by_reason.items()]
