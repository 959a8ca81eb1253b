"""Datasets: discovery of GTZAN folders, the synthetic demo set, the downloader."""

from __future__ import annotations

from pathlib import Path

from .discovery import Dataset, discover_dataset


def open_dataset(path: str | Path | None = None, progress=None) -> Dataset:
    """The dataset at ``path``, or the synthetic demo set (generated on first use)."""
    if path is None or str(path).strip() == "":
        from .synth import ensure_demo_dataset

        path = ensure_demo_dataset(progress=progress)
    return discover_dataset(path)


__all__ = ["Dataset", "discover_dataset", "open_dataset"]
