"""Datasets: discovery of GTZAN folders, the synthetic demo set, the downloader."""

from .discovery import Dataset, discover_dataset, open_dataset

__all__ = ["Dataset", "discover_dataset", "open_dataset"]
