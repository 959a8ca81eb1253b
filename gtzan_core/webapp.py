"""Streamlit glue shared by the pages: process-wide resources, the active
dataset, safe handling of typed paths. Pages stay thin views over this module
and the rest of ``gtzan_core``; nothing outside the pages calls ``st.*`` from a
worker thread."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

import streamlit as st

from .audit import audit
from .cluster.ray_executor import ray_address
from .classroom import (PermissionDenied, Settings, can_modify, check_admin_password, check_modify,
                        load_settings)
from .classroom.attempts import SESSION, AttemptLimiter, address_key
from .classroom.names import MAX_NAME, MAX_PASSCODE, MIN_PASSCODE, NameRegistry, clean_name
from .errors import DatasetError, StudioError
from .jobs import DownloadJob, JobManager
from .paths import runs_dir, studio_home
from .preparation import PreparationJob, demo_preparation
from .runs import RunStore

DEMO_LABEL = "Synthetic demo (generated, not GTZAN)"


@st.cache_resource(show_spinner=False)
def _job_manager(runs_root: str, ray_address: str | None) -> tuple[JobManager, str | None]:
    """One job manager per run store and server process, shared by every session; it
    resumes the jobs a previous server process left queued. With ``GTZAN_STUDIO_RAY_ADDRESS``
    set its jobs run on that Ray cluster; when the cluster cannot be reached (or Ray is not
    installed) the manager holds every job in the queue, the pages say why, and the queue
    is resumed by the next start of the app: nothing is run in the wrong place, nothing lost."""
    if ray_address:
        from .cluster import RayExecutor

        try:
            return JobManager(RunStore(runs_root), resume=True, executor=RayExecutor(ray_address)), None
        except StudioError as exc:
            return JobManager(RunStore(runs_root), slots=0), f"{exc}. Jobs wait in the queue until the app is restarted with a reachable cluster."
    return JobManager(RunStore(runs_root), resume=True), None


@st.cache_resource(show_spinner=False)
def download_job() -> DownloadJob:
    """The server's one background GTZAN download, shared by every session."""
    return DownloadJob()


def job_manager() -> JobManager:
    return _job_manager(str(runs_dir()), ray_address())[0]


def executor_problem() -> str | None:
    """Why the app's jobs cannot run where it was told to (a Ray cluster), or None."""
    return _job_manager(str(runs_dir()), ray_address())[1]


def executor_label() -> str:
    """Where the app's jobs run, in words (the Train page shows it)."""
    address = ray_address()
    return f"the Ray cluster at `{address}`" if address else "this server's process"


def store() -> RunStore:
    return job_manager().store


def allowed_data_roots() -> list[Path]:
    """Folders under which a typed dataset path must lie (``$GTZAN_STUDIO_DATA_ROOTS``,
    separated by ``os.pathsep``; default: home, the working folder and the studio home)."""
    env = os.environ.get("GTZAN_STUDIO_DATA_ROOTS")
    roots = [Path(p) for p in env.split(os.pathsep) if p] if env else [Path.home(), Path.cwd(), studio_home()]
    return [r.expanduser().resolve() for r in roots]


def check_user_path(text: str) -> Path:
    """Resolve a path typed in the UI; refuse anything outside the allowed roots."""
    text = (text or "").strip()
    if not text:
        raise DatasetError("no folder given")
    if "\x00" in text:
        raise DatasetError("the path contains a NUL character")
    path = Path(text).expanduser().resolve()
    roots = allowed_data_roots()
    if not any(path == r or path.is_relative_to(r) for r in roots):
        raise DatasetError(f"{path}: outside the folders this app may read ({', '.join(map(str, roots))})")
    return path


def data_path() -> str | None:
    """The active dataset folder for this session (None = synthetic demo). On a
    classroom instance it is the class's dataset, which only the admin sets."""
    if settings().classroom:
        return class_dataset()
    if "data_path" not in st.session_state:
        st.session_state["data_path"] = os.environ.get("GTZAN_STUDIO_DATA") or None
    return st.session_state["data_path"]


def set_data_path(path: str | None) -> None:
    """Use ``path`` (None: the demo set): for this session, or for the whole class
    when an admin of a classroom instance sets it."""
    if settings().classroom:
        if not is_admin():
            raise PermissionDenied("on this shared instance only the admin chooses the dataset")
        from .runs import atomic_write_json

        atomic_write_json(studio_home() / "classroom.json", {"data_path": path})
    else:
        st.session_state["data_path"] = path


def class_dataset() -> str | None:
    """The classroom's dataset: the admin's choice, else ``$GTZAN_STUDIO_DATA``, else the demo set."""
    import json

    try:
        return json.loads((studio_home() / "classroom.json").read_text()).get("data_path")
    except (OSError, ValueError):
        return os.environ.get("GTZAN_STUDIO_DATA") or None


# -- who is here -----------------------------------------------------------------

def _secrets() -> dict:
    try:
        return dict(st.secrets)
    except Exception:  # no secrets.toml: nothing configured
        return {}


def settings() -> Settings:
    """The instance's settings (``GTZAN_STUDIO_MODE`` and limits; see ``gtzan_core.classroom``)."""
    return load_settings(os.environ, _secrets())


def auth_configured() -> bool:
    """Whether the deployment configured an OIDC provider (``[auth]`` in secrets.toml)."""
    return "auth" in _secrets()


def names_claimed() -> bool:
    """Whether visitors sign in with a claimed name and passcode: a classroom instance
    without a sign-in provider (with OIDC, identity is ``st.user``; in personal mode a
    typed name is enough)."""
    return settings().classroom and not auth_configured()


@st.cache_resource(show_spinner=False)
def attempt_limiter() -> AttemptLimiter:
    """The server's one record of wrong passcodes and admin passwords, counted against
    the guesser (its session and client address), never against the name guessed."""
    return AttemptLimiter()


def name_registry() -> NameRegistry:
    return NameRegistry()


def session_key() -> tuple:
    """This browser session's key for the attempt limiter: a random token kept in the
    session's server-side state (the visitor cannot choose it; a reload is a new session)."""
    token = st.session_state.setdefault("attempts-session", secrets.token_hex(16))
    return SESSION, token


def guesser_keys() -> tuple:
    """Who is guessing, for the attempt limiter: the session, and the client's address
    where Streamlit knows it (``st.context.ip_address``; None on localhost)."""
    address = address_key(st.context.ip_address)
    return (session_key(),) + ((address,) if address else ())


def current_user() -> str | None:
    """Who this session is: the signed-in user (OIDC, ``st.user``) when the deployment
    configures a provider; on a classroom instance without one, the name this session
    signed in as with its passcode (``?who=`` only pre-fills the name); in personal
    mode the display name the visitor typed (kept in the session and ``?who=``)."""
    if auth_configured():
        user = st.user
        if not user.is_logged_in:
            return None
        return str(user.get("email") or user.get("name") or user.get("sub"))
    if names_claimed():
        return st.session_state.get("signed-in-as")
    name = st.session_state.get("visitor")
    if name is None:
        name = clean_name(st.query_params.get("who", ""))
        st.session_state["visitor"] = name
    return name or None


def is_admin() -> bool:
    return bool(st.session_state.get("is_admin"))


def can_modify_run(record: dict) -> bool:
    return can_modify(settings(), current_user(), is_admin(), record)


def check_modify_run(record: dict, action: str) -> None:
    check_modify(settings(), current_user(), is_admin(), record, action)


def ensure_app_navigation() -> None:
    """Called first by every page: make sure the page runs inside ``app.py``'s navigation.

    A fresh server whose first request is a page URL (a bookmark such as
    ``/train?who=alice``) runs that page alone, in Streamlit's legacy ``pages/``
    mode: its list of file names in the sidebar, the narrow layout, and ``app.py``
    never ran. Streamlit decides this per process from a class flag that
    ``st.navigation`` clears (it is set at start-up because the project keeps its
    ``pages/`` folder, a fixed part of its layout). When a page finds the flag still
    set, it runs ``app.py`` itself, in this same script run, and stops: ``app.py``'s
    ``st.navigation`` resolves the URL to this page and runs it inside the app's
    navigation, with the six pages and the wide layout, the visitor's widget actions
    intact (a rerun would drop a click). This is what Streamlit's legacy mode does
    for the root URL (``app.py`` nested in it), and every later request of the
    server runs ``app.py`` first anyway."""
    import runpy

    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if not PagesManager.uses_pages_directory or ctx is None:
        return
    PagesManager.uses_pages_directory = False
    runpy.run_path(str(ctx.pages_manager.main_script_path), run_name="__main__")
    st.stop()


def identity_sidebar() -> None:
    """The sidebar block every page shows: who you are, and on a classroom instance
    its rules and the admin sign-in."""
    conf = settings()
    with st.sidebar:
        if auth_configured():
            if st.user.is_logged_in:
                st.caption(f"Signed in as **{current_user()}**")
                st.button("Log out", on_click=st.logout, key="logout")
            else:
                st.button("Log in", on_click=st.login, key="login", type="primary")
        elif names_claimed():
            claimed_name_sign_in()
        else:
            def remember():
                name = clean_name(st.session_state.get("visitor-input", ""))
                st.session_state["visitor"] = name
                if name:
                    st.query_params["who"] = name
                elif "who" in st.query_params:
                    del st.query_params["who"]

            st.text_input("Your name", value=current_user() or "", key="visitor-input", on_change=remember,
                          placeholder="shown on your runs", max_chars=40,
                          help="Kept for this session and in the page address (?who=): bookmark it.")
        if conf.classroom:
            epochs = f", at most {conf.max_epochs} epochs each" if conf.max_epochs else ""
            st.caption(f"Shared classroom instance: you can stop and delete only your own runs; "
                       f"{conf.max_jobs} job(s) at a time{epochs}; the queue takes turns between people.")
            if is_admin():
                st.caption("🔑 signed in as admin")
                if names_claimed():
                    admin_name_reset()
            elif conf.admin_password:
                with st.expander("Admin"):
                    attempt = st.text_input("Admin password", type="password", key="admin-password")
                    if st.button("Sign in as admin", key="admin-sign-in"):
                        try:  # audited first: a sign-in the log cannot hold (a full disk) does not happen
                            ok = attempt_limiter().attempt("admin password", guesser_keys(),
                                                           lambda: check_admin_password(conf, attempt))
                            audit(store().root, current_user(), "admin sign-in" if ok else "admin sign-in refused")
                        except StudioError as exc:
                            st.error(str(exc))
                        else:
                            if ok:
                                st.session_state["is_admin"] = True
                                st.rerun()
                            st.error("wrong password")


def claimed_name_sign_in() -> None:
    """A classroom instance without a sign-in provider: sign in as a name with its
    passcode, or claim a new name by choosing one. ``?who=`` only pre-fills the name."""
    me = st.session_state.get("signed-in-as")
    if me:
        st.caption(f"Signed in as **{me}**")
        if st.button("Sign out", key="sign-out"):
            for k in ("signed-in-as", "is_admin"):
                st.session_state.pop(k, None)
            st.rerun()
        return
    typed = st.text_input("Your name", value=clean_name(st.query_params.get("who", "")), key="name-input",
                          max_chars=MAX_NAME, placeholder="shown on your runs",
                          help="Claim a name with a passcode the first time; give the passcode to act as it later, "
                               "from any browser.")
    name = clean_name(typed)
    if not name:
        st.caption("Enter your name to start jobs and manage your runs.")
        return
    registry = name_registry()
    try:
        claimed = registry.is_claimed(name)
    except StudioError as exc:
        st.error(str(exc))
        return
    label = "Passcode" if claimed else "Choose a passcode to claim this name"
    passcode = st.text_input(label, type="password", key="passcode-input", max_chars=MAX_PASSCODE + 1,
                             help=None if claimed else f"{MIN_PASSCODE}-{MAX_PASSCODE} characters; you will need "
                                                       "it to act as this name in another session")
    if st.button("Sign in" if claimed else "Claim name", key="name-sign-in", type="primary"):
        try:
            if claimed:
                limiter = attempt_limiter()
                if not limiter.attempt("passcode", guesser_keys(), lambda: registry.verify(name, passcode)):
                    n, free = limiter.failures(session_key()), limiter.free_tries
                    raise PermissionDenied(f"wrong passcode for {name!r} (wrong try {n}; after {free}, every try "
                                           "waits longer)")
            else:
                name = registry.claim(name, passcode)
                audit(store().root, name, "claim name")
            st.session_state["signed-in-as"] = name
            st.query_params["who"] = name
            st.rerun()
        except StudioError as exc:
            st.error(str(exc))


def admin_name_reset() -> None:
    """The admin resets a claimed name: its passcode is forgotten, the next visitor claims it."""
    with st.expander("Reset a name's passcode"):
        try:
            names = name_registry().claimed()
        except StudioError as exc:
            st.error(str(exc))
            return
        name = st.selectbox("Name", names, index=None, key="reset-name", placeholder="choose a claimed name")
        if st.button("Reset passcode", key="reset-passcode", disabled=name is None):
            try:
                name_registry().reset(name)
                audit(store().root, current_user(), "reset passcode", name=name)
            except StudioError as exc:  # a full disk, say
                st.error(str(exc))
            else:
                st.success(f"{name} may be claimed again with a new passcode.")


@st.cache_resource(show_spinner=False)
def _demo_job(demo_path: str) -> PreparationJob:
    """The server's one demo-set build, shared by every session (keyed by its folder)."""
    return demo_preparation()


def demo_job() -> PreparationJob:
    from .data.synth import demo_dir

    return _demo_job(str(demo_dir()))


def ensure_demo() -> None:
    """Make sure the synthetic demo set exists, showing the shared build's progress.

    The build runs in the server's background (one per machine): leaving the page
    or closing the tab while it runs only stops *watching* it."""
    from .data.synth import demo_ready

    if demo_ready():
        return
    job = demo_job()
    state = job.start()
    bar = st.progress(0.0, text="Synthesising the demo set (first start only, shared by every visitor)…")
    while state["status"] == "running":
        if state.get("total"):
            bar.progress(state["done"] / state["total"], text=f"Synthesising the demo set (first start only, "
                                                             f"shared by every visitor): {state['done']}/{state['total']} tracks")
        time.sleep(0.25)
        state = job.state()
    bar.empty()
    if state["status"] == "failed":
        st.error(f"Could not build the demo set: {state['error']}")
        st.stop()


def dataset_summary(path: str | None) -> dict:
    """Summary of the dataset at ``path`` (None: the demo set, generated first if needed)."""
    if path is None:
        ensure_demo()
    return _dataset_summary(path)


@st.cache_data(ttl=30, show_spinner="Scanning dataset…")
def _dataset_summary(path: str | None) -> dict:
    from .data import open_dataset

    return open_dataset(path).summary()


@st.cache_data(ttl=30, show_spinner=False)
def _planned_split_problems(path: str | None, input_kind: str, protocol: str, seed: int, val_frac: float,
                            test_frac: float) -> list[str]:
    from .data import open_dataset
    from .splits import planned_split_problems

    ds = open_dataset(path)
    return planned_split_problems(ds.tracks, input_kind, protocol, seed, val_frac, test_frac, ds.is_synthetic)


def check_splits(configs, force: bool, path: str | None = None) -> list[str]:
    """Before queueing: the problems of each config's split on the dataset at ``path``
    (default: this session's). Raises :class:`~gtzan_core.splits.WeakSplitError` naming
    them unless ``force``; then returns them, one line per model."""
    from .models import get_spec
    from .splits import WeakSplitError

    path = data_path() if path is None else path
    found = []
    for c in configs:
        problems = _planned_split_problems(path, get_spec(c.model).input_kind, c.protocol, c.seed,
                                           c.val_frac, c.test_frac)
        if problems and not force:
            raise WeakSplitError(c.protocol, problems, "Tick “train even if the split is too small” to run anyway; "
                                 "its numbers will be marked as saying little.")
        found += [f"{get_spec(c.model).title}: {p}" for p in problems]
    return found


def split_warning_text(record: dict) -> str | None:
    """The warning shown beside a run's numbers when its split could not say much."""
    warnings = record.get("split_warnings")
    if not warnings:
        return None
    return "Weak split, these numbers say little: " + "; ".join(warnings)


def device_label() -> str:
    import torch

    if torch.cuda.is_available():
        return f"GPU: {torch.cuda.get_device_name(0)}"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "Apple GPU (MPS)"
    return f"CPU ({os.cpu_count()} cores)"


def finished_runs() -> list[dict]:
    """Runs with an evaluation (finished, or stopped after at least one epoch)."""
    return [r for r in store().list() if r.get("evaluation")]


def run_label(record: dict) -> str:
    ev = (record.get("evaluation") or {}).get("track") or {}
    acc = f" · track acc {ev['accuracy']:.2f}" if ev else ""
    data = (record.get("dataset") or {}).get("label", "?")
    leak = " · LEAKY" if record.get("leaky") else ""
    weak = " · WEAK SPLIT" if record.get("split_warnings") else ""
    return (f"{record.get('title', record.get('model'))} · {record['protocol']} · {data}{acc}{leak}{weak} · "
            f"{record['run_id']}")


def show_error(exc: Exception) -> None:
    """One clear line for user errors; the traceback only for bugs."""
    if isinstance(exc, StudioError):
        st.error(str(exc))
    else:
        st.error(f"Unexpected error: {type(exc).__name__}: {exc}")
        st.exception(exc)

