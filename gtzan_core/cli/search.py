"""``search``: a hyperparameter search over the job queue (:mod:`gtzan_core.search`)."""

from __future__ import annotations

import dataclasses
import json
import sys
import threading
import time


def _load_space(path: str, model: str) -> dict:
    """A space file: a mapping of settings to ranges, or a ``search_spaces`` section
    (``{search_spaces: {model: {...}}}``, as in hparams.yaml)."""
    import yaml

    from ..errors import ConfigError
    from ..hparams import yaml_problem

    try:
        data = yaml.safe_load(open(path).read())  # noqa: SIM115 - read at once
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the search space ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({yaml_problem(exc)})") from None
    if isinstance(data, dict) and isinstance(data.get("search_spaces"), dict):
        if model not in data["search_spaces"]:
            raise ConfigError(f"{path}: search_spaces has no entry for {model}")
        data = data["search_spaces"][model]
    return data


def cmd_search(args) -> int:
    from ..data import open_dataset
    from ..hparams import setting_text
    from ..jobs import JobManager, preflight
    from ..jobs.preflight import command_line_check, command_line_gate
    from ..runs import RunStore
    from ..search.study import SearchRequest, existing, probe_spec, run_search

    store = RunStore(args.runs)
    name = args.study or f"{args.model}-{time.strftime('%Y%m%d-%H%M%S')}"
    request = SearchRequest(args.model, name, args.data, args.trials, args.minutes,
                            _load_space(args.space, args.model) if args.space else None,
                            recipe=args.recipe, protocol=args.protocol or "track",
                            seed=args.seed if args.seed is not None else 0, parallel=args.parallel,
                            device=args.device or "auto")
    before = existing(store, request)  # a study of that name resumes with its own settings
    if before is not None:
        request.data_path, request.seed = before.get("data"), int(before.get("seed", 0))
        request.recipe, request.protocol = before.get("recipe"), before.get("protocol", "track")
    spec = probe_spec(request)
    # before the dataset is opened: the protocol, the weights, the memory budget, the storage share (each
    # trial's epochs are checked as it is asked for)
    command_line_gate([dataclasses.replace(spec, config=dataclasses.replace(spec.config, epochs=1))], store)
    ds = open_dataset(request.data_path)
    for line in preflight([spec], dataset=ds, force_weak=args.allow_weak_split,
                          how_to_force="Pass --allow-weak-split to search anyway."):
        print(f"warning: {line}", file=sys.stderr)
    manager = JobManager(store, slots=args.parallel)
    seen: set[int] = set()

    def on_change(summary: dict) -> None:
        if args.json:
            return
        for t in summary["trials"]:
            if t["number"] in seen or t["state"] == "running":
                continue
            seen.add(t["number"])
            values = ", ".join(f"{k}={setting_text(v)}" for k, v in t["params"].items())
            value = f" val acc {t['value']:.3f}" if t["value"] is not None else ""
            print(f"trial {t['number']}: {t['state']}{value} ({values}) run {t['run_id']}", flush=True)

    stop = threading.Event()
    try:
        summary = run_search(request, store, manager, stop=stop, on_change=on_change,
                             check=command_line_check(store))
    except KeyboardInterrupt:
        stop.set()
        for record in store.list():
            if record.study is not None and record.study.label == name and record.active:
                manager.cancel(record.run_id)
        manager.shutdown()
        raise
    manager.shutdown()
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
        return 0
    tested = summary.get("tested")
    print(f"study {summary['study']}: {summary['counted']} trials "
          f"({sum(t['state'] == 'pruned' for t in summary['trials'])} pruned)")
    if tested:
        print(f"best: trial {tested['trial']} (run {tested['run_id']}), validation accuracy {tested['val_acc']:.3f}; "
              f"its one look at the test set: accuracy {tested['test_acc']:.3f}")
    return 0
