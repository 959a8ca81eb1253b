"""The dataset a session (or, on a classroom instance, the class) works on: the active
folder, typed paths checked against the allowed roots, cached summaries, the checks
before queueing, and the device the studio runs on."""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from .. import paths, settings as studio_settings
from ..classroom import PermissionDenied
from ..classroom.dataset import ClassDataset
from .identity import is_admin, settings
from .resources import ensure_demo

DEMO_LABEL = "Synthetic demo (generated, not GTZAN)"


def allowed_data_roots() -> list[Path]:
    """Folders under which a typed dataset path must lie (``$GTZAN_STUDIO_DATA_ROOTS``,
    separated by ``os.pathsep``; default: home, the working folder and the studio home)."""
    return paths.data_roots(studio_settings.get("GTZAN_STUDIO_DATA_ROOTS"))


def check_user_path(text: str) -> Path:
    """Resolve a path typed in the UI; refuse anything outside the allowed roots."""
    return paths.check_user_path(text, allowed_data_roots())


def default_data_path() -> str | None:
    """The deployment's dataset (``$GTZAN_STUDIO_DATA``), None for the demo set."""
    return studio_settings.get("GTZAN_STUDIO_DATA") or None


def data_path() -> str | None:
    """The active dataset folder for this session (None = synthetic demo). On a
    classroom instance it is the class's dataset, which only the admin sets."""
    if settings().classroom:
        return class_dataset()
    if "data_path" not in st.session_state:
        st.session_state["data_path"] = default_data_path()
    return st.session_state["data_path"]


def set_data_path(path: str | None) -> None:
    """Use ``path`` (None: the demo set): for this session, or for the whole class
    when an admin of a classroom instance sets it."""
    if settings().classroom:
        if not is_admin():
            raise PermissionDenied("on this shared instance only the admin chooses the dataset")
        ClassDataset().set(path)
    else:
        st.session_state["data_path"] = path


def class_dataset() -> str | None:
    """The classroom's dataset: the admin's choice, else ``$GTZAN_STUDIO_DATA``, else the demo set."""
    return ClassDataset().get(default_data_path())


def dataset_summary(path: str | None) -> dict:
    """Summary of the dataset at ``path`` (None: the demo set, generated first if needed)."""
    if path is None:
        ensure_demo()
    return _dataset_summary(path)


@st.cache_data(ttl=30, show_spinner="Scanning dataset…")
def _dataset_summary(path: str | None) -> dict:
    from ..data import open_dataset

    return open_dataset(path).summary()


@st.cache_resource(ttl=30, show_spinner=False)
def _open_dataset(path: str | None):
    """The dataset at ``path``, opened once a half-minute per server (its track list is
    only read)."""
    from ..data import open_dataset

    return open_dataset(path)


def preflight_jobs(specs, force_weak: bool, path: str | None = None) -> list[str]:
    """Before queueing: :func:`gtzan_core.jobs.preflight` for this visitor (their limits
    on a shared instance, the weights, the split on the dataset at ``path``, default this
    session's). Raises naming the first problem; returns the warnings of a weak split
    that ``force_weak`` lets through, one line per model."""
    from ..jobs import preflight
    from .identity import current_user
    from .resources import job_manager, store

    user = current_user()
    dataset = _open_dataset(data_path() if path is None else path)
    return preflight(specs, dataset=dataset, force_weak=force_weak, settings=settings(), store=store(),
                     admin=is_admin(), active=job_manager().active_count(user),
                     how_to_force="Tick “train even if the split is too small” to run anyway; its numbers will be "
                                  "marked as saying little.")


def device_label() -> str:
    """The device jobs on "auto" train on, in words (the trainer's own choice of device)."""
    from ..training.device import device_label as torch_device_label, resolve_device

    device = resolve_device("auto")
    if device.type == "cuda":
        return f"GPU {torch_device_label(device)}"
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return f"CPU ({os.cpu_count()} cores)"
