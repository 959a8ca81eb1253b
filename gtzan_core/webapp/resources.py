"""The server's shared resources, one per process and shared by every session: the job
manager (and its run store), the GTZAN download, the demo-set build, the fetch of
musicnn's weights."""

from __future__ import annotations

import time

import streamlit as st

from ..cluster.ray_executor import ray_address
from ..errors import StudioError
from ..jobs import (
    BackgroundJob,
    JobManager,
    demo_preparation,
    download_job as _new_download_job,
    numba_preparation,
    weights_preparation,
)
from ..paths import runs_dir
from ..runs import RunRecord, RunStore


@st.cache_resource(show_spinner=False)
def _job_manager(runs_root: str, ray_address: str | None) -> tuple[JobManager, str | None]:
    """One job manager per run store and server process, shared by every session; it
    resumes the jobs a previous server process left queued. With ``GTZAN_STUDIO_RAY_ADDRESS``
    set its jobs run on that Ray cluster; when the cluster cannot be reached (or Ray is not
    installed) the manager holds every job in the queue, the pages say why, and the queue
    is resumed by the next start of the app: nothing is run in the wrong place, nothing lost."""
    if ray_address:
        from ..cluster import RayExecutor

        try:
            return JobManager(RunStore(runs_root), resume=True, executor=RayExecutor(ray_address)), None
        except StudioError as exc:
            return JobManager(RunStore(runs_root), slots=0), (f"{exc}. Jobs wait in the queue until the app is "
                                                              "restarted with a reachable cluster.")
    return JobManager(RunStore(runs_root), resume=True), None


@st.cache_resource(show_spinner=False)
def download_job() -> BackgroundJob:
    """The server's one background GTZAN download, shared by every session."""
    return _new_download_job()


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


def run_records() -> list[RunRecord]:
    """Every run of the store, newest first: the store's listing, shared by every session
    and re-read only when the store changed (runs whose process died are marked failed by
    the job manager's own timer, :data:`gtzan_core.jobs.queue.REAP_EVERY`). The records
    are the listing's own, shared by every session: read them, never change them."""
    return store().list(shared=True)


def finished_runs() -> list[RunRecord]:
    """Runs with an evaluation (finished, or stopped after at least one epoch): the runs a
    page may compare, select or predict with."""
    return [r for r in run_records() if r.evaluated]


@st.cache_resource(show_spinner=False)
def _demo_job(demo_path: str) -> BackgroundJob:
    """The server's one demo-set build, shared by every session (keyed by its folder)."""
    return demo_preparation()


def demo_job() -> BackgroundJob:
    from ..data.synth import demo_dir

    return _demo_job(str(demo_dir()))


def ensure_demo() -> None:
    """Make sure the synthetic demo set exists, showing the shared build's progress.

    The build runs in the server's background (one per machine): leaving the page
    or closing the tab while it runs only stops *watching* it."""
    from ..data.synth import demo_ready

    if demo_ready():
        return
    job = demo_job()
    state = job.start()
    bar = st.progress(0.0, text="Synthesising the demo set (first start only, shared by every visitor)…")
    while state["status"] == "running":
        if state.get("total"):
            bar.progress(state["done"] / state["total"],
                         text=f"Synthesising the demo set (first start only, "
                              f"shared by every visitor): {state['done']}/{state['total']} tracks")
        time.sleep(0.25)
        state = job.state()
    bar.empty()
    if state["status"] == "failed":
        from .formatting import md_text

        st.error(md_text(f"Could not build the demo set: {state['error']}"))
        st.stop()


@st.cache_resource(show_spinner=False)
def numba_job() -> BackgroundJob:
    """The server's one check (and, on a fresh machine, warm-up) of librosa's numba cache."""
    return numba_preparation()


def start_numba_warmup() -> None:
    """Start the numba cache's check in the server's background (once per server process):
    a fresh machine compiles librosa's functions while the visitor looks around."""
    numba_job().start()


@st.cache_resource(show_spinner=False)
def _weights_job(weights_folder: str) -> BackgroundJob:
    """The server's one fetch of musicnn's weights, shared by every session (keyed by the folder)."""
    return weights_preparation()


def weights_job() -> BackgroundJob:
    from ..models.weights import weights_dir

    return _weights_job(str(weights_dir()))


def start_weights_fetch() -> dict:
    """The first start fetches musicnn's weights in the server's background (once per
    machine; a no-op when they are here, offline, or the index failed recently); the
    fetch's state."""
    from ..models.autofetch import fetch_needed

    job = weights_job()
    if job.state()["status"] == "idle" and fetch_needed():
        job.start()
    return job.state()


def weights_status() -> None:
    """One status line about musicnn's weights: the fetch's progress while it runs, else
    which starter answers and why."""
    from ..models.autofetch import weights_note
    from .formatting import md_text

    state = start_weights_fetch()
    if state["status"] == "running":
        total = state.get("total") or 0
        count = f" ({state.get('done', 0)}/{total})" if total else ""
        st.caption(f"⏳ Fetching musicnn's weights (first start, once per machine): {md_text(state.get('message', ''))}"
                   f"{count}. Until they are here the EfficientNet-Lite0 starter answers.")
        return
    kind, line = weights_note()
    icon = {"ready": "✅", "offline": "📴", "failed": "⚠️"}.get(kind, "ℹ️")
    st.caption(f"{icon} {md_text(line[0].upper() + line[1:])}.")
