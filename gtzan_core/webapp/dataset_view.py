"""What the Dataset page reads: the session's dataset's tracks, the part of a split each
is in, its repeated recordings, and a track's bytes (only a file of that dataset, inside
the folders the app may read: :func:`gtzan_core.insight.media.read_media`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from ..errors import DatasetError


@st.cache_resource(ttl=60, show_spinner=False)
def _dataset(path: str | None):
    from ..data import open_dataset

    return open_dataset(path)


def dataset_tracks(path: str | None) -> tuple[pd.DataFrame, str]:
    """The dataset's tracks (id, genre, audio and picture paths) and its root."""
    ds = _dataset(path)
    return ds.tracks, str(ds.root)


@st.cache_data(ttl=300, show_spinner=False)
def split_parts(path: str | None, protocol: str) -> dict[str, str]:
    """Track -> its part ("train", "val", "test") under ``protocol`` (one sample a track)."""
    from ..insight.repeats import protocol_parts

    ds = _dataset(path)
    return protocol_parts(ds.tracks["track_id"].astype(str).tolist(), ds.tracks["genre"].astype(str).tolist(),
                          protocol, synthetic=ds.is_synthetic)


@st.cache_data(ttl=600, show_spinner=False, max_entries=8)
def repeats_of(path: str | None) -> dict:
    from ..insight.repeats import dataset_vectors, find_repeats

    ds = _dataset(path)
    ids, genres, x = dataset_vectors(ds.root)
    return find_repeats(ids, genres, x).as_dict()


def media_bytes(file: str, root: str) -> bytes:
    """The bytes of ``file``, a file the dataset at ``root`` lists; refused outside it or
    outside the folders the app may read."""
    from .. import paths
    from ..insight.media import read_media
    from .datasets import allowed_data_roots

    roots = [*allowed_data_roots(), paths.studio_home().resolve()]
    if not any(Path(root).resolve() == r or Path(root).resolve().is_relative_to(r) for r in roots):
        raise DatasetError(f"{root}: outside the folders this app may read")
    return read_media(Path(file), root, roots)
