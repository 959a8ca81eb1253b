import streamlit as st

from gtzan_core.webapp import ensure_app_navigation

ensure_app_navigation()  # a bookmarked page URL as a fresh server's first request: run it inside app.py

import time  # noqa: E402

from gtzan_core.data import open_dataset  # noqa: E402
from gtzan_core.distillation import teacher_choices  # noqa: E402
from gtzan_core.errors import StudioError  # noqa: E402
from gtzan_core.hparams import make_config, recipe_label, recipes  # noqa: E402
from gtzan_core.jobs import JobSpec  # noqa: E402
from gtzan_core.models import FAMILY_NOTES, MODELS, check_weights, record_steps  # noqa: E402
from gtzan_core.models.weights import backbone_weights, weights_available  # noqa: E402
from gtzan_core.plots import loss_figure  # noqa: E402
from gtzan_core.reproduction import (  # noqa: E402
    plan_reproduction,
    queue_reproduction,
    reproduction_specs,
    screen_splits,
    skipped_summary,
)
from gtzan_core.reproduction.plan import PAPER_MODELS, honest_protocols  # noqa: E402
from gtzan_core.runs import ACTIVE, RunRecord  # noqa: E402
from gtzan_core.splits import PROTOCOLS  # noqa: E402
from gtzan_core.webapp import (  # noqa: E402
    can_modify_run,
    check_modify_run,
    check_user_path,
    current_user,
    data_path,
    dataset_name,
    dataset_summary,
    empty_jobs_text,
    executor_label,
    executor_problem,
    finished_runs,
    hyperparameter_inputs,
    identity_sidebar,
    is_admin,
    job_manager,
    job_progress,
    md_code,
    md_text,
    plan_estimate,
    preflight_jobs,
    ray_address,
    run_records,
    score_metrics,
    search_trial_text,
    settings,
    show_error,
    split_warning_text,
    status_text,
)

identity_sidebar()


def dataset_choice() -> str | None:
    """The folder these jobs train on: the active dataset (Home), or another folder typed here (an
    images-only GTZAN folder for the image models, a folder of short excerpts for the audio models).
    On a classroom instance the admin's class dataset, unless the admin types another."""
    active = data_path()
    if settings().classroom and not is_admin():
        return active
    with st.expander("Dataset for these jobs"):
        choice = st.radio("Train on", ["the active dataset (chosen on Home)", "another folder"], key="train-data-kind",
                          horizontal=True)
        if choice == "another folder":
            typed = st.text_input("Folder or feature table (.csv)", key="train-data-folder",
                                  placeholder="folder or feature table (.csv), e.g. /data/gtzan/images_original "
                                              "or /data/gtzan/features_30_sec.csv",
                                  help="Any GTZAN layout: Kaggle genres_original/ and images_original/, the original "
                                       "genres/, the ten genre folders; a folder of pictures only trains the image "
                                       "models on every PNG, a folder of 2-3 s excerpts the audio models (short "
                                       "clips are repeat-padded to one 3 s input); a Kaggle-style feature table "
                                       "(a .csv file: filename, label, feature columns) trains the feature-vector "
                                       "models.")
            if typed.strip():
                try:
                    return str(check_user_path(typed))
                except Exception as exc:
                    show_error(exc)
    return active


train_path = dataset_choice()
summary = None
try:
    summary = dataset_summary(train_path)
    st.caption(f"Dataset: **{md_text(summary['dataset'])}** · {summary['tracks']} tracks"
               + (f" · {summary['with_audio']} with audio, {summary['with_images']} pictures"
                  if summary["with_audio"] != summary["tracks"] or summary["with_images"] else "")
               + (f" · {md_code(summary['root'])}" if train_path else ""))
    for w in summary["warnings"]:
        st.caption(f"ℹ️ {md_text(w)}")
except Exception as exc:
    show_error(exc)

all_recipes = recipes()
recipe = st.radio("Recipe (hyperparameters from hparams.yaml)", list(all_recipes), horizontal=True,
                  format_func=lambda r: f"{r} (the paper's code)" if r == "paper" else r,
                  help="\n\n".join(f"**{k}**: {v}" for k, v in all_recipes.items()))
st.caption(all_recipes[recipe])

# outside the form: a change redraws the form with the chosen models' hyperparameters
models = st.multiselect("Models", list(MODELS), default=["cnn"], key="train-models",
                        format_func=lambda m: MODELS[m].title + FAMILY_NOTES.get(MODELS[m].family, ""),
                        help="The paper's seven, two networks pretrained on real data that work offline: "
                             "musicnn (music: the Million Song Dataset) and EfficientNet-Lite0 (photos: ImageNet), "
                             "classic models on a per-track feature vector (the Kaggle table's 57 features), and a "
                             "spectrogram Transformer (AST) trained from scratch.")
with st.form("train", enter_to_submit=False):  # Enter in "max epochs" must not queue the jobs
    protocol = st.radio("Protocol", list(PROTOCOLS), format_func=lambda p: f"{p}: {PROTOCOLS[p]}")
    device = st.selectbox("Device", ["auto", "cpu", "cuda"], help="auto = GPU when there is one")
    image_source = st.radio(
        "Spectrograms for VGG19 / ResNeXt / SqueezeNet", ["auto", "render"], horizontal=True,
        format_func=lambda s: {"auto": "the dataset's PNGs when it has them (as the paper)",
                               "render": "always drawn from audio"}[s],
        help="Either way the pictures look like the Kaggle PNGs: tracks without a PNG, uploads and recordings are "
             "drawn from audio in the same style (pixel correlation ≥ 0.99 with the real PNGs).")
    allow_weak = st.checkbox("Train even if the split is too small for some genre",
                             help="A split that leaves a genre with fewer than 3 tracks in its training, validation "
                                  "or test part is refused; ticked, the run goes ahead and its numbers are marked "
                                  "as saying little on every page.")
    # the chosen models' only; the runs that can teach on this dataset offered to those that can learn
    teachers = teacher_choices(finished_runs(), (summary or {}).get("fingerprint"))
    overrides = hyperparameter_inputs(models, recipe, teachers)
    submitted = st.form_submit_button("Start training", type="primary")

missing = [m for m in models if MODELS[m].frozen_backbone and MODELS[m].family == "paper"
           and overrides[m].get("pretrained")
           and not weights_available(backbone_weights(m, overrides[m].get("variant")))]
if missing:
    st.warning(f"Pretrained weights are not on this machine for {', '.join(missing)} (no internet to fetch them): "
               "these runs start from random initialisation and are marked `pretrained: false`.")
for m in models:  # the pretrained family needs its weights: say what is missing and how to get it, queue nothing
    try:
        check_weights(m, bool(overrides[m].get("pretrained")))
    except StudioError as exc:
        st.error(str(exc), icon="📦")
if protocol == "paper":
    st.warning("The paper protocol early-stops and picks the model on the test set; for the MFCC models it is also "
               "leaky (segments of one track on both sides). Its accuracies are inflated and labelled as such.")

if submitted:
    if not models:
        st.error("Pick at least one model.")
    else:
        try:
            specs = [JobSpec(make_config(name, recipe=recipe, protocol=protocol, device=device, **overrides[name]),
                             train_path, image_source, owner=current_user(),
                             dataset_label=(summary or {}).get("dataset")) for name in models]
            for warning in preflight_jobs(specs, force_weak=allow_weak, path=train_path):
                st.warning(f"Weak split: {md_text(warning)}")
            for spec in specs:
                st.toast(f"Queued {MODELS[spec.config.model].title}: {job_manager().submit(spec)}")
        except Exception as exc:
            show_error(exc)


def reproduction_section() -> None:
    """The paper's table reproduced: choose models, protocols and seeds, see how many jobs
    that is and about how long it takes here, then queue them."""
    real = bool(summary) and summary.get("dataset") == "GTZAN"
    protocols = ["paper"] + honest_protocols(real)
    st.markdown("Queues the chosen models under the **paper protocol** with the **paper recipe**, and the same "
                "models under the honest **track** split (plus the artist-filtered split on real GTZAN). The "
                "**Reproduction** page sets the results beside the paper's table.")
    chosen = st.multiselect("Models", PAPER_MODELS, default=PAPER_MODELS, key="repro-models",
                            format_func=lambda m: MODELS[m].title + (" (image model: slow on a CPU)"
                                                                     if MODELS[m].cpu_backbone_per_100 else ""))
    picked = st.pills("Protocols", protocols, default=protocols, selection_mode="multi", key="repro-protocols",
                      format_func=lambda p: {"paper": "paper (its leaky protocol)", "track": "track (honest)",
                                             "filtered": "artist-filtered (honest)"}[p]) or []
    c1, c2 = st.columns(2)
    seeds = c1.number_input("seeds per configuration", min_value=1, max_value=10, value=1, key="repro-seeds",
                            help="several seeds give mean ± sd: does a 2-point gap mean anything?")
    cap = c2.number_input("cap on epochs (0 = the recipe's)", min_value=0, value=0, key="repro-epochs")
    repro_weak = st.checkbox("also run protocols whose split is too small for some genre", key="repro-weak",
                             help="By default such runs are skipped, saying why (a partial GTZAN copy, a small "
                                  "demo set); ticked, they run and their numbers are marked as saying little.")
    plan = plan_reproduction(real_gtzan=real, seeds=int(seeds), epochs=int(cap) or None, device=device,
                             honest=any(p != "paper" for p in picked), models=chosen or PAPER_MODELS)
    plan.configs = [c for c in plan.configs if c.protocol in picked] if chosen else []
    plan.protocols = [p for p in plan.protocols if p in picked]
    n = len(plan.configs)
    if n:
        import torch

        estimate = plan_estimate(plan.configs, run_records(), int((summary or {}).get("tracks") or 0),
                                 on_gpu=device != "cpu" and torch.cuda.is_available())
        st.info(f"**{n} job{'s' if n != 1 else ''}**: {len(chosen)} model{'s' if len(chosen) != 1 else ''} × "
                f"{len(plan.protocols)} protocol{'s' if len(plan.protocols) != 1 else ''} × {int(seeds)} "
                f"seed{'s' if seeds != 1 else ''}, each up to {'its recipe' if not cap else int(cap)} epochs · "
                f"{estimate['text']}", icon="⏱️")
    else:
        st.caption("Choose at least one model and one protocol.")
    if st.button(f"Reproduce the paper ({n} job{'s' if n != 1 else ''})", type="primary", key="reproduce",
                 disabled=not n):
        try:
            screen_splits(plan, open_dataset(train_path), allow_weak=repro_weak)
            for line in skipped_summary(plan):
                st.warning(md_text(line))
            if not plan.configs:
                raise StudioError("every run was skipped: no protocol gives a meaningful split on this dataset")
            specs = reproduction_specs(plan, train_path, image_source, owner=current_user(),
                                       dataset_label=(summary or {}).get("dataset"))
            preflight_jobs(specs, force_weak=True, path=train_path)  # (its splits were screened above)
            queue_reproduction(job_manager(), specs)
            st.session_state["reproduction_id"] = plan.id
            st.success(f"Queued {len(plan.configs)} runs as reproduction `{plan.id}`.")
            st.page_link("pages/reproduction.py", label="Open the Reproduction page", icon="📊")
        except Exception as exc:
            show_error(exc)


with st.expander("🔁 Reproduce the paper: its models under its protocol and recipe, beside honest runs",
                 key="repro-open"):  # keyed: it stays open while its choices rerun the page
    reproduction_section()


with st.expander("🔎 Search hyperparameters (Optuna: TPE, pruned on validation; every trial a job below)",
                 key="search-open"):
    from gtzan_core.webapp.search import search_panel

    search_panel(list(MODELS), train_path, current_user(), job_manager(), settings(), is_admin(),
                 job_manager().store)


FEATURES_NOTE = ("Features are computed once for the whole dataset (every track, before any training), then cached: "
                 "the first point of the chart comes after this step; later jobs on this dataset skip it.")


def visible_jobs(whose: str) -> list[RunRecord]:
    """The run records the panel shows: queued and running jobs, and those that ended in the last hour."""
    records = run_records()
    if whose == "mine":
        records = [r for r in records if r.owner and r.owner == current_user()]
    return [r for r in records if r.active or time.time() - (r.finished or 0) < 3600][:12]


def stop_job(r: RunRecord, manager) -> None:
    st.session_state[f"stop-done-{r.run_id}"] = True  # acted on: the button's return value need not
    try:
        check_modify_run(r, "stop")  # the rule itself, not only the hidden button
        manager.cancel(r.run_id, who=current_user())
        st.session_state[f"stopping-{r.run_id}"] = True  # the card says "stopping…" from the next draw on
    except Exception as exc:  # shown on the job's card
        st.session_state[f"stop-error-{r.run_id}"] = exc


def job_card(r: RunRecord, manager) -> None:
    rid, status = r.run_id, (r.status.value if r.status else None)
    prog = job_progress(r)
    stopping = status in ACTIVE and (prog["stopping"] or st.session_state.get(f"stopping-{rid}", False))
    with st.container(border=True, key=f"job-{rid}"):
        head, btn = st.columns([5, 1])
        badge = {"queued": "🕒", "running": "🏃", "finished": "✅", "cancelled": "⏹️", "failed": "❌",
                 "pruned": "✂️"}.get(status, "")
        owner = f" · by **{md_text(r.owner)}**" if r.owner else ""  # every visitor's string as text
        trial = f" · {md_text(trial)}" if (trial := search_trial_text(r)) else ""  # a search's trial says whose
        state = "stopping…" if stopping else md_text(status_text(status))  # "stopped by hand", never "cancelled"
        head.markdown(f"**{md_text(r.title)}** · "
                      f"{md_text(r.protocol_label or r.protocol)} · "
                      f"recipe {md_text(recipe_label(r))}{trial} · {md_text(dataset_name(r))}{owner} · "
                      f"{md_code(rid)} — "
                      f"{badge} {state}")
        if status in ACTIVE and can_modify_run(r) and not stopping:
            # a callback acts on the click before the panel's next run, so a refresh racing it cannot drop it;
            # the return value covers a click whose callback Streamlit dropped (drawn by an interrupted refresh)
            if btn.button("Stop", key=f"stop-{rid}", on_click=stop_job, args=(r, manager)) and \
                    not st.session_state.pop(f"stop-done-{rid}", False):
                stop_job(r, manager)
            st.session_state.pop(f"stop-done-{rid}", None)
        if error := st.session_state.pop(f"stop-error-{rid}", None):
            show_error(error)
        if status == "queued":
            pos = manager.queue_position(rid)
            st.caption(f"Waiting in the queue{f' (position {pos})' if pos else ''}: jobs start as room frees up "
                       f"on {executor_label()}, taking turns between people.")
        if stopping:
            st.caption("⏹️ Stopping… the job ends after its current batch and keeps its best checkpoint.")
        if status == "running" and prog["phase_fraction"] is not None:
            st.progress(prog["phase_fraction"], text=md_text(prog["phase"]))
            if r.phase == "features":
                st.caption(FEATURES_NOTE)
        elif status == "running":
            text = prog["phase"] + (f" · {prog['epoch']} done" if prog["epoch"] else "")
            st.progress(prog["fraction"], text=md_text(text + (f" · {prog['eta_text']}" if prog["eta_text"] else "")))
            if r.phase == "features":
                st.caption(FEATURES_NOTE)
        elif status in ("finished", "cancelled") and prog["epoch"]:
            # the bar shows epochs done: full for a run that ended by itself, 7 % for one stopped at epoch 7 of 100
            st.progress(1.0 if status == "finished" else prog["fraction"], text=md_text(prog["summary"]))
        if r.history:
            st.plotly_chart(loss_figure(r.history, steps=record_steps(r)), key=f"chart-{rid}", width="stretch")
        if status == "failed":
            st.error(md_text(r.error or "failed"))
        elif status == "pruned":  # a search's trial its pruner stopped: an end of its own, not a failure
            st.caption(f"✂️ {md_text(r.pruned or 'pruned')} (search {md_text((r.study and r.study.label) or '')}, "
                       f"trial {r.study and r.study.trial})")
        elif status == "cancelled" and not prog["epoch"]:
            st.caption(md_text(r.error or "stopped before its first epoch: no results"))
        if metrics := score_metrics(r):  # the levels the run has (a feature vector's: the track alone)
            for (label, value), col in zip(metrics, st.columns(3)[:len(metrics)], strict=True):
                col.metric(label, value)
        if weak := split_warning_text(r):
            st.warning(md_text(weak), icon="⚠️")
        spec = MODELS.get(r.model or "")
        if r.pretrained is False and spec is not None and spec.frozen_backbone and (r.family or "paper") == "paper":
            st.caption(f"⚠️ {md_text(r.weights_note or 'random initialisation')}")


def jobs_panel(whose: str) -> None:
    """Live cards for queued and running jobs (refreshed every second), the others drawn once.

    On a shared server every visitor on this page costs a refresh per second: redrawing only the
    jobs that change keeps that cost to the live ones (bench/README.md, "Idle visitors"). When the
    set of live jobs changes (one starts or ends, here or in another visitor's session) the whole
    page reruns, so a finished job moves to the static part; with nothing live the check runs
    every 5 s."""
    recent = visible_jobs(whose)
    if not recent:
        st.info(empty_jobs_text(run_records(), current_user(), whose))
    live_ids = [r.run_id for r in recent if r.active]
    manager = job_manager()

    @st.fragment(run_every=1.0 if live_ids else 5.0)
    def live_jobs():
        now = visible_jobs(whose)
        if [r.run_id for r in now if r.active] != live_ids:
            st.rerun()  # a job started or ended: redraw the page
        for r in now:
            if r.run_id in live_ids:
                job_card(r, manager)

    # The fragment draws into a container of its own and the static cards into another: an element path
    # is then always drawn by the fragment or never. When a job ended and the page reran, its static card
    # used to take the path where the fragment had drawn it, and the browser sometimes kept the fragment's
    # old blocks there and then cleared them with the fragment's stale nodes: the card lost its border and
    # its header (the status line and Stop), the rest stayed (seen in the classroom browser test).
    with st.container():
        live_jobs()
    with st.container():
        for r in recent:
            if r.run_id not in live_ids:
                job_card(r, manager)


st.subheader("Jobs")
if problem := executor_problem():
    st.error(problem, icon="🛑")
elif ray_address():
    st.caption(f"Jobs run on {executor_label()}; the run store is shared with its nodes (deploy/README.md).")
whose = st.segmented_control("Show", ["everyone's", "mine"], default="everyone's", key="jobs-whose",
                             help="your jobs are those started under the name in the sidebar") or "everyone's"
if whose == "mine" and not current_user():
    st.caption("Enter your name in the sidebar to see your own jobs.")
jobs_panel(whose)
