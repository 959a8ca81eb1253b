"""A study's driver: Optuna asks, the studio's queue trains.

Each trial is an ordinary job (:class:`~gtzan_core.jobs.JobSpec` submitted to a
:class:`~gtzan_core.jobs.JobManager`), so GPU slots, K jobs per GPU, the Ray executor,
owners, the fair order, quotas and Stop apply to it as to any job; its run record names
its study and trial (``study``). The sampler is TPE told about the trials still running
(``constant_liar``), so K trials at once do not all try the same corner; the pruner
(:func:`~gtzan_core.runs.studies.make_pruner`) judges each epoch's validation accuracy. A trial
never reads the test set (``evaluate_test`` False): its value is the validation
accuracy of the model it keeps (the best epoch by validation loss). Once the study's
budget is spent, the best trial's model is evaluated on its test split, once
(:func:`test_best`), and that is the study's result.

A study persists in its owner's journal (:mod:`gtzan_core.runs.studies`); driving it again (same name)
resumes it where it was: a trial whose run was still queued or running in a live queue
is waited for, one whose server died is marked failed in the study and tried again with
the same values (once), and the sampler carries on from every trial that ended.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..classroom.rules import TooManyJobs
from ..errors import ConfigError, StudioError
from ..hparams import default_recipe, make_config
from ..jobs.preflight import check_protocol
from ..runs import RunRecord, RunStore, Status, lifecycle
from ..runs.studies import NotYourStudy, full_name, make_pruner, open_storage, owner_key
from .space import clip_epochs, default_space, distributions, narrow

PRUNER = {"n_startup_trials": 3, "n_warmup_steps": 2}
#: A study stops when this many trials in a row fail (a bad table, a setting that cannot train), naming the first.
MAX_FAILURES = 5


class SearchFailed(StudioError):
    """A study stopped because its trials kept failing."""


@dataclass
class SearchRequest:
    """A study to start (or resume: the same ``study`` name and owner). ``trials``: the
    budget of trials that end (finished or pruned); ``minutes``: stop asking for new
    trials after this long (this invocation); ``space``: None for the model's default
    (``hparams.yaml``), else a narrowed copy of it; ``parallel``: trials at once
    (default: the queue's worker slots)."""

    model: str
    study: str
    data_path: str | None = None
    trials: int = 20
    minutes: float | None = None
    space: dict | None = None
    owner: str | None = None
    recipe: str | None = None
    protocol: str = "track"
    seed: int = 0
    image_source: str = "auto"
    parallel: int | None = None
    device: str = "auto"
    pruner: dict = field(default_factory=lambda: dict(PRUNER))
    max_failures: int = MAX_FAILURES

    def __post_init__(self) -> None:
        """The budget checked once, here, for the CLI, the Train page and the API alike."""
        import math

        def whole(name: str, value, least: int = 1) -> None:
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ConfigError(f"search: {name} must be a whole number of at least {least} (got {value!r})")

        whole("trials", self.trials)
        whole("max_failures", self.max_failures)
        if self.parallel is not None:
            whole("parallel", self.parallel)
        if self.minutes is not None and (isinstance(self.minutes, bool) or not isinstance(self.minutes, int | float)
                                         or not math.isfinite(self.minutes) or self.minutes <= 0):
            raise ConfigError(f"search: minutes must be a positive number (got {self.minutes!r})")


def open_study(store: RunStore, owner: str | None, name: str):
    """``owner``'s study ``name`` as stored (ConfigError when there is none; only its
    owner's journal is opened, and a study naming another owner is refused)."""
    import optuna

    try:
        study = optuna.load_study(study_name=full_name(owner, name), storage=open_storage(store.root, owner))
    except KeyError:
        raise ConfigError(f"there is no study {name!r} of {owner_key(owner)}") from None
    if study.user_attrs.get("owner") != owner:
        raise NotYourStudy(f"study {name!r} is not yours")
    return study


def existing(store: RunStore, request: SearchRequest) -> dict | None:
    """The recorded settings of ``request``'s study when its owner has one of that name
    (None: it would be new); a study that has read its test set, or searches another
    model, is refused."""
    try:
        settings = open_study(store, request.owner, request.study).user_attrs
    except NotYourStudy:
        raise
    except ConfigError:
        return None
    if settings.get("model") != request.model:
        raise ConfigError(f"study {request.study!r} searches {settings.get('model')}, not {request.model}")
    if settings.get("tested"):
        raise ConfigError(f"study {request.study!r} has ended and its best trial has read the test set; "
                          "start a new study to search again")
    return settings


def _settings_of(request: SearchRequest) -> dict:
    check_protocol(request.protocol)
    base = default_space(request.model)
    space = base if request.space is None else narrow(base, request.space)
    recipe = request.recipe or default_recipe()
    make_config(request.model, recipe, protocol=request.protocol, seed=request.seed, evaluate_test=False)
    return {"model": request.model, "data": request.data_path, "space": space, "recipe": recipe,
            "protocol": request.protocol, "seed": request.seed, "image_source": request.image_source,
            "device": request.device, "owner": request.owner, "pruner": dict(request.pruner), "created": time.time()}


def create_or_resume(store: RunStore, request: SearchRequest, epochs_limit: int | None = None):
    """The study of ``request``: created with its settings recorded, or, when its owner
    has one of that name, resumed (its recorded settings win; its model must match).
    ``epochs_limit``: the instance's epochs per job; the space is clipped to it (noted as
    the study's ``clipped``), or refused naming the bound (:func:`~.space.clip_epochs`)."""
    import optuna

    storage = open_storage(store.root, request.owner)
    name = full_name(request.owner, request.study)
    try:
        existing = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        existing = None
    if existing is None:
        settings = _settings_of(request)
        settings["space"], clipped = clip_epochs(settings["space"], epochs_limit, _recipe_epochs(settings))
        study = optuna.create_study(study_name=name, storage=storage, direction="maximize")
        for k, v in {**settings, "clipped": clipped}.items():
            study.set_user_attr(k, v)
        study.set_user_attr("state", "running")
    else:
        settings = existing.user_attrs
        if settings.get("owner") != request.owner:
            raise NotYourStudy(f"study {request.study!r} is not yours")
        if settings.get("model") != request.model:
            raise ConfigError(f"study {request.study!r} searches {settings.get('model')}, not {request.model}")
        if settings.get("tested"):
            raise ConfigError(f"study {request.study!r} has ended and its best trial has read the test set; "
                              "start a new study to search again")
        check_protocol(settings.get("protocol", "track"))
        space, clipped = clip_epochs(settings["space"], epochs_limit, _recipe_epochs(settings))
        if clipped:  # the instance's limit is lower than when the study began
            existing.set_user_attr("space", space)
            existing.set_user_attr("clipped", clipped)
    n_done = len(existing.trials) if existing is not None else 0
    sampler = optuna.samplers.TPESampler(seed=int(settings["seed"]) + n_done, constant_liar=True,
                                         n_startup_trials=min(10, max(2, request.trials // 3)))
    study = optuna.load_study(study_name=name, storage=storage, sampler=sampler,
                              pruner=make_pruner(settings.get("pruner") or PRUNER))
    return study


def _recipe_epochs(settings: dict) -> int:
    return make_config(settings["model"], settings["recipe"], protocol=settings.get("protocol", "track"),
                       evaluate_test=False).epochs


def probe_spec(request: SearchRequest):
    """A job as the study's trials will be (the recipe's values): what the checks before a
    study (the weights, the split) look at."""
    from ..jobs import JobSpec

    config = make_config(request.model, request.recipe or default_recipe(), protocol=request.protocol,
                         seed=request.seed, evaluate_test=False, device=request.device)
    return JobSpec(config, request.data_path, request.image_source, {"study": {"name": request.study}},
                   request.owner)


def quota_probe(study, owner: str | None):
    """The largest job a trial of ``study`` may be (its epochs cap at the space's top): what
    the owner's quotas are checked against before a trial is asked for."""
    from ..jobs import JobSpec

    a = study.user_attrs
    epochs = (a["space"].get("epochs") or {}).get("high")
    config = make_config(a["model"], a["recipe"], protocol=a["protocol"], seed=int(a["seed"]), evaluate_test=False,
                         device=a.get("device") or "auto", epochs=epochs)
    return JobSpec(config, a.get("data"), a.get("image_source") or "auto", {"study": {"name": study.study_name}},
                   owner)


def trial_spec(study, trial, owner: str | None):
    """The job of ``trial``: the study's recipe with the trial's values, never reading
    its test set, its record naming the study and trial."""
    from ..jobs import JobSpec

    a = study.user_attrs
    config = make_config(a["model"], a["recipe"], protocol=a["protocol"], seed=int(a["seed"]), evaluate_test=False,
                         device=a.get("device") or "auto", **trial.params)
    label = study.study_name.split("/", 1)[1]
    extra = {"study": {"name": study.study_name, "label": label, "owner": owner, "trial": trial.number,
                       "trial_id": trial._trial_id, "pruner": a.get("pruner") or PRUNER}}
    return JobSpec(config, a.get("data"), a.get("image_source") or "auto", extra, owner)


def objective(record: dict) -> float | None:
    """A finished trial's value: the validation accuracy of the model it kept (its best
    epoch by validation loss)."""
    history, best = record.get("history") or [], record.get("best_epoch")
    if not history or not best:
        return None
    return float(history[int(best) - 1]["val_acc"])


def counted(study) -> int:
    """Trials that spent the budget: finished or pruned."""
    from optuna.trial import TrialState

    return sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in study.get_trials(deepcopy=False))


def run_search(request: SearchRequest, store: RunStore, manager, stop: threading.Event | None = None,
               check: Callable | None = None, on_change: Callable[[dict], None] | None = None,
               poll: float = 0.2, feature_loader: Callable | None = None) -> dict:
    """Drive ``request``'s study through ``manager``'s queue until ``request.trials``
    trials have ended (finished or pruned), ``request.minutes`` pass or ``stop`` is set
    (then its queued and running trials are stopped); at the budget's end the best trial
    reads the test set once. ``check(spec)``: the gate every trial passes before it is
    queued (default :func:`~gtzan_core.jobs.preflight.job_gate`: the instance's settings,
    the request's owner, an owner-less study being the admin's); while the owner has too
    many jobs (:class:`~gtzan_core.classroom.rules.TooManyJobs`) the next trial waits, any
    other refusal ends the study. The space is clipped to the instance's epochs per job
    first (or refused naming the bound). Two searches of one study are refused (its lock);
    ``request.max_failures`` trials failing in a row stop the study
    (:class:`SearchFailed`, naming the first failure). ``feature_loader(dataset)``: the
    features the best trial's test is read from (default: the dataset's, as its jobs
    loaded them). Returns :func:`summary`."""
    import optuna

    from ..jobs.preflight import job_gate
    from ..locks import try_file_lock
    from ..runs.studies import lock_path

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    held = try_file_lock(lock_path(store.root, request.owner, request.study))
    if held is None:
        raise ConfigError(f"study {request.study!r} is being searched already (another search holds its lock): "
                          "wait for it to end, or choose another name")
    try:
        if check is None:  # every trial passes the one gate, whoever drives the study
            check = job_gate(store, getattr(manager, "active_count", None))
        return _drive(request, store, manager, stop or threading.Event(), check, on_change, poll, feature_loader)
    finally:
        held.release()


def _epochs_limit(owner: str | None) -> int | None:
    """The instance's epochs per job for ``owner``'s trials (None: no limit, or the admin's
    owner-less study)."""
    from ..classroom import load_settings

    conf = load_settings()
    return conf.max_epochs if conf.classroom and owner is not None else None


def _drive(request: SearchRequest, store: RunStore, manager, stop: threading.Event, check: Callable,
           on_change: Callable[[dict], None] | None, poll: float, feature_loader: Callable | None) -> dict:
    from optuna.trial import TrialState

    study = create_or_resume(store, request, _epochs_limit(request.owner))
    study.set_user_attr("state", "running")
    study.set_user_attr("error", None)
    study.set_user_attr("budget", {"trials": request.trials, "minutes": request.minutes})
    parallel = max(1, request.parallel or len(getattr(manager, "_workers", [])) or 1)
    dists = distributions(study.user_attrs["space"])
    pending = _reconcile(study, store, manager)
    deadline = time.time() + request.minutes * 60 if request.minutes else None
    blocked = ""
    failures: list[str] = []  # the trials that failed in a row, each with why

    def notify():
        if on_change is not None:
            on_change(summary(store, study))

    def give_up(why: str) -> None:
        study.set_user_attr("state", "stopped")
        study.set_user_attr("error", why)
        notify()
        raise SearchFailed(why)

    notify()
    stopped: set[str] = set()
    while True:
        if stop.is_set():
            for run_id in set(pending.values()) - stopped:
                stopped.add(run_id)
                with contextlib.suppress(StudioError):  # a run another server holds ends there
                    manager.cancel(run_id, request.owner)
        can_ask = not stop.is_set() and (deadline is None or time.time() < deadline)
        while can_ask and len(pending) < parallel and counted(study) + len(pending) < request.trials:
            try:  # the owner's quotas, before a trial is asked for
                check(quota_probe(study, request.owner))
            except TooManyJobs as exc:  # the owner's jobs at once: wait for one to end
                blocked = str(exc)
                break
            except StudioError as exc:  # a limit waiting cannot lift (epochs, storage, sign-in)
                if pending:
                    break
                give_up(str(exc))
            try:
                trial = study.ask(dists)
                spec = trial_spec(study, trial, request.owner)
                try:
                    check(spec)  # the trial itself, through the same gate as any job
                except StudioError:
                    study.tell(trial.number, state=TrialState.FAIL)  # (asked, never queued)
                    raise
            except StudioError as exc:
                if not pending:
                    study.set_user_attr("state", "stopped")
                    study.set_user_attr("error", str(exc))
                    raise
                break
            run_id = manager.submit(spec)
            trial.set_user_attr("run_id", run_id)
            pending[trial.number] = run_id
        if blocked != study.user_attrs.get("waiting"):
            study.set_user_attr("waiting", blocked)
        if not pending and blocked and not stop.is_set():
            stop.wait(poll)  # nothing of the study's runs, and its owner may not queue more yet
            blocked = ""
            continue
        blocked = ""
        if not pending:
            break
        ended = _wait_any(store, pending, stop, poll)
        for number in ended:
            run_id = pending.pop(number)
            record = trial_record(store, run_id) or {"status": "failed", "error": f"its run {run_id} was deleted"}
            _tell(study, number, record, retry=False)
            if record.get("status") == Status.FAILED.value:
                failures.append(f"trial {number} (run {run_id}): {record.get('error') or 'failed'}")
            elif record.get("status") != Status.CANCELLED.value:
                failures.clear()
        notify()
        if len(failures) >= request.max_failures and not stop.is_set():
            stop.set()  # its queued and running trials are stopped on the way out
            for run_id in pending.values():
                with contextlib.suppress(StudioError):
                    manager.cancel(run_id, request.owner)
            give_up(f"{len(failures)} trials in a row failed, so the search stopped; the first: {failures[0]}")
    if stop.is_set():
        study.set_user_attr("state", "stopped")
    else:
        test_best(store, study, feature_loader)
        study.set_user_attr("state", "done")
    notify()
    return summary(store, study)


def trial_record(store: RunStore, run_id: str):
    """A trial's run record, or None when the run is gone (deleted, in the trash)."""
    from ..errors import CheckpointError

    try:
        return store.read(run_id)
    except CheckpointError:
        return None


def _wait_any(store: RunStore, pending: dict, stop: threading.Event, poll: float) -> list[int]:
    """Block until one of the ``pending`` trials' runs has ended (or ``stop`` is set and
    every one has); the trial numbers that ended."""
    while True:
        ended = [n for n, run_id in pending.items() if not ((rec := trial_record(store, run_id)) and rec.active)]
        if ended:
            return ended
        stop.wait(poll) if not stop.is_set() else time.sleep(poll)


def _tell(study, number: int, record: dict, retry: bool) -> None:
    """Tell the study how trial ``number``'s run ended; a failed trial (its server died,
    when ``retry``) is enqueued again with the same values, once."""
    from optuna.trial import TrialState

    status = record.get("status")
    if status == Status.FINISHED.value and objective(record) is not None:
        study.tell(number, objective(record))
    elif status == Status.PRUNED.value:
        study.tell(number, state=TrialState.PRUNED)
    else:
        trial = study.trials[number]
        study.tell(number, state=TrialState.FAIL)
        if retry and not trial.user_attrs.get("retry_of") and trial.params:
            study.enqueue_trial(trial.params, user_attrs={"retry_of": number})


def _reconcile(study, store: RunStore, manager) -> dict[int, str]:
    """A resumed study's trials that were running when its driver stopped: the ones whose
    run is queued or running in a live queue are waited for (returned: number -> run id);
    every other is told how its run ended, and a run that died is failed and retried."""
    from optuna.trial import TrialState

    from ..errors import CheckpointError

    pending: dict[int, str] = {}
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        run_id = t.user_attrs.get("run_id")
        try:
            record = lifecycle.reap(store, store.read(run_id)) if run_id else None
        except CheckpointError:  # the run was deleted
            record = None
        if record is None:
            _tell(study, t.number, {"status": "failed"}, retry=True)
            continue
        if record.get("status") == Status.QUEUED.value and manager.queue_position(run_id) is None \
                and not store.queue_owner_alive(record):
            record = lifecycle.fail(store, run_id, "its search's server stopped before it started; retried")
        if RunRecord.of(record).active:
            pending[t.number] = run_id
        else:
            _tell(study, t.number, record, retry=True)
    return pending


def test_best(store: RunStore, study, feature_loader: Callable | None = None) -> dict | None:
    """The study's best trial evaluated on its test split, once (recorded on its run as
    its ``evaluation`` and on the study as ``tested``); None when no trial finished. A
    trial whose run was deleted (in the trash, or purged) is passed over for the best
    of those still here."""
    from ..data import open_dataset
    from ..feature_cache import feature_request, load_features
    from ..inference import load_run_model
    from ..jobs import JobSpec
    from ..training import trainer

    if study.user_attrs.get("tested"):
        return study.user_attrs["tested"]
    from optuna.trial import TrialState

    here = [(t, r) for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if t.value is not None and (r := trial_record(store, t.user_attrs.get("run_id") or "")) is not None]
    if not here:
        return None
    best, record = max(here, key=lambda tr: tr[0].value)
    run_id = best.user_attrs["run_id"]
    spec = JobSpec.from_record(record)
    ds = open_dataset(spec.data_path)
    fs = (feature_loader(ds) if feature_loader is not None
          else load_features(ds, **feature_request(spec.config.model, spec.image_source)))
    model, _ = load_run_model(store, run_id)
    evaluation, predictions = trainer.test_evaluation(spec.config, fs, model)
    store.save_predictions(run_id, test=predictions)
    store.update(run_id, evaluation=evaluation, test_evaluated=True, study_best=True)
    level = evaluation.get("track") or evaluation["segment"]
    tested = {"run_id": run_id, "trial": best.number, "val_acc": best.value, "test_acc": level["accuracy"],
              "test_segment_acc": evaluation["segment"]["accuracy"], "when": time.time()}
    study.set_user_attr("tested", tested)
    return tested


def summary(store: RunStore, study) -> dict:
    """The study as plain data: its settings, each trial (number, state, value, values,
    run), the best and its one test."""
    trials = []
    for t in study.get_trials(deepcopy=False):
        trials.append({"number": t.number, "state": t.state.name.lower(), "value": t.value, "params": t.params,
                       "run_id": t.user_attrs.get("run_id"), "retry_of": t.user_attrs.get("retry_of"),
                       "epochs": len(t.intermediate_values)})
    complete = [t for t in trials if t["state"] == "complete" and t["value"] is not None]
    best = max(complete, key=lambda t: t["value"]) if complete else None
    a = study.user_attrs
    return {"study": study.study_name.split("/", 1)[1], "owner": a.get("owner"), "model": a.get("model"),
            "data": a.get("data"), "recipe": a.get("recipe"), "seed": a.get("seed"), "space": a.get("space"),
            "state": a.get("state"), "counted": counted(study), "trials": trials, "best": best,
            "tested": a.get("tested"), "error": a.get("error"), "waiting": a.get("waiting") or None,
            "budget": a.get("budget")}
