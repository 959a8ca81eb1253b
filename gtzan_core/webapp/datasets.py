"""The dataset a session (or, on a classroom instance, the class) works on: the active
folder, typed paths checked against the allowed roots, cached summaries, the split
check before queueing, and the device the studio runs on."""

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


@st.cache_data(ttl=30, show_spinner=False)
def _planned_split_problems(path: str | None, input_kind: str, protocol: str, seed: int, val_frac: float,
                            test_frac: float) -> list[str]:
    from ..data import open_dataset
    from ..splits import planned_split_problems

    ds = open_dataset(path)
    return planned_split_problems(ds.tracks, input_kind, protocol, seed, val_frac, test_frac, ds.is_synthetic)


def check_splits(configs, force: bool, path: str | None = None) -> list[str]:
    """Before queueing: the problems of each config's split on the dataset at ``path``
    (default: this session's). Raises :class:`~gtzan_core.splits.WeakSplitError` naming
    them unless ``force``; then returns them, one line per model."""
    from ..models import get_spec
    from ..splits import WeakSplitError

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


def device_label() -> str:
    """The device jobs on "auto" train on, in words (the trainer's own choice of device)."""
    from ..training.device import device_label as torch_device_label, resolve_device

    device = resolve_device("auto")
    if device.type == "cuda":
        return f"GPU {torch_device_label(device)}"
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return f"CPU ({os.cpu_count()} cores)"
