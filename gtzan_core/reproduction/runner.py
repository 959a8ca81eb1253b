"""Running a reproduction plan in this process, one run after another.

Features are extracted (or read from the cache) once per image size; frozen
backbones run once per model and are cached, so the honest protocols and further
seeds reuse the paper protocol's backbone pass.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from ..data.discovery import Dataset
from ..feature_cache import feature_request, load_features, request_key
from ..jobs.job import JobSpec
from ..runs import RunStore
from .plan import ReproductionPlan


def run_reproduction(plan: ReproductionPlan, dataset: Dataset, store: RunStore, image_source: str = "auto",
                     on_run: Callable[[int, int, dict], None] | None = None,
                     progress: Callable | None = None, cancel: threading.Event | None = None) -> list[dict]:
    """Train every run of ``plan`` on ``dataset``; returns the final records.
    ``on_run(k, n, record)`` is called after each run. A run that fails is
    recorded as failed and the reproduction goes on with the next."""
    from ..errors import StudioError
    from ..jobs.recorded import describe_job, train
    from ..runs import lifecycle

    features: dict = {}
    records = []
    for k, config in enumerate(plan.configs, 1):
        if cancel is not None and cancel.is_set():
            break
        request = feature_request(config.model, image_source)
        key = request_key(request)
        if key not in features:
            features[key] = load_features(dataset, progress=progress, **request)
        info = dataset.run_info()
        run_id = lifecycle.create(store, describe_job(JobSpec(config, extra=plan.record_fields(config)), info))
        try:
            record = train(config, features[key], store, run_id=run_id, cancel=cancel, progress=progress,
                           dataset_info=info)
        except StudioError:  # recorded as failed, with its error; the next run goes on
            record = store.read(run_id)
        records.append(record)
        if on_run:
            on_run(k, len(plan.configs), record)
    return records


def reproduction_specs(plan: ReproductionPlan, data_path: str | None = None, image_source: str = "auto",
                       owner: str | None = None, dataset_label: str | None = None) -> list[JobSpec]:
    """The jobs of ``plan``, one per run: each carries the plan's id, so the Reproduction
    view gathers them however long they wait in the queue."""
    return [JobSpec(config, data_path, image_source, plan.record_fields(config), owner, dataset_label)
            for config in plan.configs]


def queue_reproduction(manager, specs: list[JobSpec]) -> list[str]:
    """Queue the jobs of a reproduction (:func:`reproduction_specs`, checked by
    :func:`~gtzan_core.jobs.preflight`) on a :class:`~gtzan_core.jobs.JobManager` (the
    app); returns the run ids."""
    return [manager.submit(spec) for spec in specs]
