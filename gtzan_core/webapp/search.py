"""The Train page's Search panel: start a study (model, budget, search space), watch it
live (optimisation history, parallel coordinates, parameter importances: Optuna's plotly
figures; each trial's loss curve), stop or resume it, and take its best trial to Compare.

A study's driver (:func:`gtzan_core.search.study.run_search`) runs in a thread of the
server, one per study, submitting its trials to the app's job queue; it never touches
Streamlit. The page reads the study from its journal and the trials' run records.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from dataclasses import dataclass, field

import streamlit as st

from ..errors import StudioError
from .formatting import md_code, md_text

#: The drivers of this server: (owner, study) -> its thread, stop flag and any error.
_DRIVERS: dict[tuple[str | None, str], _Driver] = {}
_LOCK = threading.Lock()


@dataclass
class _Driver:
    thread: threading.Thread
    stop: threading.Event = field(default_factory=threading.Event)
    error: str | None = None


def driving(owner: str | None, name: str) -> bool:
    with _LOCK:
        d = _DRIVERS.get((owner, name))
    return d is not None and d.thread.is_alive()


def driver_error(owner: str | None, name: str) -> str | None:
    with _LOCK:
        d = _DRIVERS.get((owner, name))
    return d.error if d is not None else None


def start_study(request, manager, check=None) -> None:
    """Drive ``request``'s study in a thread of this server (refused while it is driven)."""
    from ..search.study import run_search

    key = (request.owner, request.study)
    with _LOCK:
        if key in _DRIVERS and _DRIVERS[key].thread.is_alive():
            raise StudioError(f"study {request.study!r} is running already")

        def drive(d: _Driver) -> None:
            try:
                run_search(request, manager.store, manager, stop=d.stop, check=check)
            except Exception as exc:  # shown on the panel
                d.error = str(exc) if isinstance(exc, StudioError) else f"{type(exc).__name__}: {exc}"

        d = _Driver(threading.Thread(target=lambda: drive(d), name=f"gtzan-search-{request.study}", daemon=True))
        _DRIVERS[key] = d
    d.thread.start()


def stop_study(owner: str | None, name: str) -> None:
    with _LOCK:
        d = _DRIVERS.get((owner, name))
    if d is not None:
        d.stop.set()


def space_rows(space: dict) -> list[dict]:
    """A space as editable rows (setting, type, low, high, choices): a categorical setting
    has choices and no bounds, the others bounds and no choices (None: the grid draws a dash)."""
    rows = []
    for name, e in space.items():
        choices = e.get("choices")
        rows.append({"setting": name, "type": e["type"], "low": e.get("low"), "high": e.get("high"),
                     "choices": ", ".join(map(str, choices)) if choices else None})
    return rows


def rows_space(rows: list[dict]) -> dict:
    """Edited rows back to a space (checked later against the default's bounds)."""
    space = {}
    for r in rows:
        if r["type"] == "categorical":
            try:
                choices = [int(c) if float(c).is_integer() else float(c)
                           for c in str(r.get("choices") or "").split(",") if c.strip()]
            except ValueError:
                raise StudioError(f"{r['setting']}: the choices are numbers separated by commas") from None
            space[r["setting"]] = {"type": "categorical", "choices": choices}
        else:
            space[r["setting"]] = {"type": r["type"], "low": r.get("low"), "high": r.get("high")}
    return space


def study_figures(study) -> dict:
    """Optuna's plotly figures of ``study``: what can be drawn yet (importances need two
    finished trials that differ)."""
    from optuna import visualization as vis
    from optuna.trial import TrialState

    from ..plots import parallel_on_dark, trial_ticks

    figures = {}
    done = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    if not done:
        return figures
    last = max(t.number for t in study.get_trials(deepcopy=False))
    figures["history"] = vis.plot_optimization_history(study, target_name="validation accuracy")
    figures["history"].update_xaxes(title_text="trial", **trial_ticks(last))  # never half a trial
    figures["parallel"] = parallel_on_dark(vis.plot_parallel_coordinate(study, target_name="validation accuracy"))
    if len(done) >= 2 and len({t.value for t in done}) > 1:
        with contextlib.suppress(ValueError, RuntimeError):  # too few distinct values to rank
            figures["importance"] = vis.plot_param_importances(study, target_name="validation accuracy")
    return figures


def count_text(n: int, noun: str) -> str:
    """"1 trial", "2 trials", "0 trials"."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def study_headline(name: str, s: dict, state: str) -> str:
    """A study in one line, as Markdown (its name and model as text): "**mlp-1207** · mlp ·
    running · 1 trial ended (0 pruned, 1 running)"."""
    pruned = sum(t["state"] == "pruned" for t in s["trials"])
    running = sum(t["state"] == "running" for t in s["trials"])
    return (f"**{md_text(name)}** · {md_text(s['model'])} · {state} · {count_text(s['counted'], 'trial')} ended "
            f"({pruned} pruned, {running} running)")


def trial_table(summary: dict):
    import pandas as pd

    rows = [{"trial": t["number"], "state": t["state"], "validation accuracy": t["value"], "epochs": t["epochs"],
             **{k: v for k, v in t["params"].items()}, "run": t["run_id"]} for t in summary["trials"]]
    return pd.DataFrame(rows)


def best_to_compare(run_id: str) -> None:
    st.session_state["compare_ids"] = [run_id]
    st.switch_page("pages/compare.py")


def tested_bests(store, owner: str | None) -> list[tuple[str, dict]]:
    """``owner``'s studies whose best trial has been tested: (study, its test)."""
    from ..runs.studies import study_names
    from ..search.study import open_study

    out = []
    try:
        names = study_names(store.root, owner)
    except StudioError:  # a damaged journal: the Search panel says so, with its repair
        return []
    for name in names:
        try:
            tested = open_study(store, owner, name).user_attrs.get("tested")
        except StudioError:
            continue
        if tested:
            out.append((name, tested))
    return out


def best_trial_links(store, owner: str | None, where: str) -> None:
    """One button per study of ``owner`` with a tested best trial: it opens that run in
    Compare (the Leaderboard's and Compare's way to a study's best). On a shared instance
    the owner-less studies (made from the CLI or by the admin) are the admin's: a visitor
    who has not signed in sees none of their links."""
    from .identity import is_admin, settings

    if owner is None and settings().classroom and not is_admin():
        return
    bests = tested_bests(store, owner)
    if not bests:
        return
    st.caption("Best trials of your searches (each tested once, after its study):")
    cols = st.columns(min(4, len(bests)))
    for i, (name, tested) in enumerate(bests):
        if cols[i % len(cols)].button(f"🔎 {md_text(name)}: test {tested['test_acc']:.3f}", key=f"{where}-best-{name}",
                                      help=f"run {tested['run_id']}, trial {tested['trial']}; open it in Compare"):
            best_to_compare(tested["run_id"])


def search_panel(models: list[str], data_path: str | None, owner: str | None, manager, settings, admin: bool,
                 store) -> None:
    """The Search panel: a form to start a study, then the chosen study live. Every trial
    (at the start, later, after a resume) passes the one gate (:func:`visitor_gate`). On a
    shared instance a visitor who has not signed in sees no studies: the owner-less ones
    (made from the CLI or by the admin) are the admin's."""
    from ..plots import loss_figure
    from ..runs.studies import DamagedJournal, repair_journal, study_names
    from ..search.space import default_space, space_text
    from ..search.study import SearchRequest, open_study, probe_spec, summary

    if settings.classroom and not admin and not owner:
        st.info("Sign in with your name in the sidebar to search: on a shared instance every study has an owner.")
        return

    model = st.selectbox("Model", models, key="search-model")
    try:
        default = default_space(model)
    except StudioError as exc:
        st.error(md_text(str(exc)))
        return
    st.caption("Default search space (hparams.yaml): " + md_text("; ".join(space_text(default))) +
               ". Edit within these bounds; every other setting is the recipe's. The objective is validation "
               "accuracy; the test set is read once, by the best trial, when the study ends.")
    import pandas as pd

    edited = st.data_editor(pd.DataFrame(space_rows(default)), key=f"search-space-{model}", num_rows="fixed",
                            disabled=["setting", "type"], width="stretch", hide_index=True, placeholder="—")
    rows = edited.to_dict("records")
    c1, c2, c3 = st.columns(3)
    budget = c1.radio("Budget", ["trials", "minutes"], key="search-budget", horizontal=True)
    amount = c2.number_input("How many", min_value=1, value=20 if budget == "trials" else 10, key="search-amount")
    name = c3.text_input("Study name", value=f"{model}-{time.strftime('%m%d-%H%M')}", key="search-name")
    if st.button("Start the search", key="search-start", type="primary"):
        try:
            request = SearchRequest(model, name.strip(), data_path,
                                    trials=int(amount) if budget == "trials" else 10_000,
                                    minutes=float(amount) if budget == "minutes" else None,
                                    space=rows_space(rows), owner=owner)
            check = visitor_gate(manager, settings, admin)
            probe = probe_spec(request)  # sign-in, jobs at once, storage, weights: refused here, before any thread
            check(dataclasses.replace(probe, config=dataclasses.replace(probe.config, epochs=1)))  # (the epochs:
            # the driver clips the space to the instance's limit, or refuses naming the bound)
            start_study(request, manager, check)
            st.session_state["search-study"] = request.study
        except StudioError as exc:
            st.error(md_text(str(exc)))

    try:
        names = study_names(store.root, owner)
    except DamagedJournal as exc:  # the rest of the page goes on; the owner may mend it here
        st.error(md_text(str(exc)))
        if st.button("Repair the study journal (keeps a backup)", key="search-repair"):
            backup = repair_journal(store.root, owner)
            st.success(md_text(f"Repaired; the damaged file is kept as {backup.name}." if backup
                               else "Nothing to repair any more."))
        return
    if not names:
        st.info("No study yet: start one above.")
        return
    chosen = st.session_state.get("search-study")
    index = names.index(chosen) if chosen in names else len(names) - 1
    name = st.selectbox("Study", names, index=index, key="search-shown")
    live = driving(owner, name)

    @st.fragment(run_every=1.0 if live else None)
    def show():
        try:
            study = open_study(store, owner, name)
        except StudioError as exc:
            st.error(md_text(str(exc)))
            return
        s = summary(store, study)
        running = driving(owner, name)
        state = "running" if running else ("done" if s["state"] == "done" else "stopped")
        st.markdown(study_headline(name, s, state), help="trials that ended: finished or pruned; a failed trial "
                                                          "does not count")
        if err := driver_error(owner, name) or s.get("error"):
            st.error(md_text(err))
        elif running and s.get("waiting"):  # the owner's jobs at once: the next trial waits for one to end
            st.info(md_text(f"Waiting: {s['waiting']}"))
        b1, b2 = st.columns(2)
        if running:
            b1.button("Stop the search", key=f"search-stop-{name}", on_click=stop_study, args=(owner, name))
        elif s["state"] != "done":
            b1.button("Resume", key=f"search-resume-{name}", on_click=_resume,
                      args=(s, name, owner, manager, settings, admin))
        if s.get("tested"):
            t = s["tested"]
            st.success(f"Best: trial {t['trial']} (validation {t['val_acc']:.3f}); its one look at the test set: "
                       f"accuracy {t['test_acc']:.3f}")
            if b2.button("Open the best trial in Compare", key=f"search-compare-{name}"):
                best_to_compare(t["run_id"])
        figures = study_figures(study)
        if figures:
            tabs = st.tabs(["Optimisation history", "Parallel coordinates", "Parameter importances"])
            for tab, key in zip(tabs, ("history", "parallel", "importance"), strict=True):
                with tab:
                    if key in figures:
                        st.plotly_chart(figures[key], key=f"search-{key}-{name}", width="stretch")
                    else:
                        st.caption("Needs two finished trials with different results.")
        if s["trials"]:
            st.dataframe(trial_table(s), hide_index=True, key=f"search-table-{name}")
            with_runs = [t for t in s["trials"] if t["run_id"]]
            if with_runs:
                pick = st.selectbox("Loss curve of trial", [t["number"] for t in with_runs],
                                    index=len(with_runs) - 1, key=f"search-curve-{name}")
                run_id = next(t["run_id"] for t in with_runs if t["number"] == pick)
                from ..search.study import trial_record

                trial = trial_record(store, run_id)  # (None: a trial's run may be in the trash)
                history = trial.history if trial else None
                if history:
                    st.plotly_chart(loss_figure(history), key=f"search-loss-{name}", width="stretch")
                st.caption(f"run {md_code(run_id)}")

    if err := st.session_state.pop("search-resume-error", None):
        st.error(md_text(err))
    show()


def visitor_gate(manager, settings, admin: bool):
    """The gate of this visitor's trials: :func:`~gtzan_core.jobs.preflight.job_gate` with
    the instance's settings, their jobs at once in ``manager`` and whether they are the admin."""
    from ..jobs.preflight import job_gate

    return job_gate(manager.store, manager.active_count, admin=admin, settings=settings)


def _resume(s: dict, name: str, owner: str | None, manager, settings, admin: bool) -> None:
    """Resume a study: refused to a visitor for an owner-less study (the admin's), and every
    trial through the visitor's gate, as at the start."""
    from ..classroom.rules import PermissionDenied
    from ..search.study import SearchRequest, probe_spec

    try:
        if settings.classroom and not admin and not owner:
            raise PermissionDenied("a study without an owner is the admin's: sign in to search your own")
        budget = s.get("budget") or {}
        request = SearchRequest(s["model"], name, s["data"], trials=int(budget.get("trials") or 20),
                                minutes=budget.get("minutes"), owner=owner)
        check = visitor_gate(manager, settings, admin)
        probe = probe_spec(request)  # jobs at once, storage, weights: refused at the click, as a start is
        check(dataclasses.replace(probe, config=dataclasses.replace(probe.config, epochs=1)))
        start_study(request, manager, check)  # (its space clipped to the instance's epochs first, then every
        # trial through the gate: a refusal is the driver's error, shown)
    except StudioError as exc:
        st.session_state["search-resume-error"] = str(exc)
