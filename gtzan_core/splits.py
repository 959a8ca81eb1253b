"""Train / validation / test splits.

Three protocols; each returns sample indices (segments for the MFCC models,
tracks for the image models) for train, validation and test:

* ``track`` (default, honest): stratified by genre and split by *track*, so no
  track has segments in two sets; seeded.
* ``filtered``: the artist-filtered ("fault-filtered") split of Kereliuk & Sturm,
  443 / 197 / 290 tracks, shipped in ``gtzan_core/data/fault_filtered``. Real GTZAN
  only.
* ``paper``: the paper's protocol, a random 70:30 split of *segments*; early
  stopping uses the test set (validation = test). Leaky: segments of one track sit
  on both sides, which inflates accuracy. Kept to reproduce the paper's table.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np
import pandas as pd

from .errors import ConfigError, DatasetError

PROTOCOLS = {
    "track": "Split by track, stratified by genre (70/15/15): honest, no track in two sets.",
    "filtered": "Artist-filtered GTZAN split (443/197/290 tracks): the research standard; real GTZAN only.",
    "paper": "The paper's 70:30 random split of segments, early-stopping on test: LEAKY, for reproduction only.",
}
LEAKY = {"paper"}


@dataclass
class Split:
    protocol: str
    unit: str  # "segment" or "track"
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    leaky: bool = False
    note: str = ""

    def sizes(self) -> dict:
        return {"train": int(len(self.train)), "val": int(len(self.val)), "test": int(len(self.test))}


def _stratified_track_split(tracks: pd.DataFrame, val_frac: float, test_frac: float, seed: int):
    rng = np.random.default_rng(seed)
    train, val, test = [], [], []
    for _, grp in tracks.groupby("label", sort=True):
        idx = rng.permutation(grp.index.to_numpy())
        n = len(idx)
        n_test = int(round(n * test_frac))
        n_val = int(round(n * val_frac))
        if n >= 3:
            n_test, n_val = max(1, n_test), max(1, n_val)
        n_test = min(n_test, n)
        n_val = min(n_val, n - n_test)
        test.extend(idx[:n_test])
        val.extend(idx[n_test:n_test + n_val])
        train.extend(idx[n_test + n_val:])
    return (np.sort(np.array(a, dtype=np.int64)) for a in (train, val, test))


def _random_70_30(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The paper's split: a seeded random 70:30 of ``n`` samples -> (train, test)."""
    idx = np.random.default_rng(seed).permutation(n)
    n_test = int(round(0.3 * n))
    return np.sort(idx[n_test:]), np.sort(idx[:n_test])


def fault_filtered_lists() -> dict[str, list[str]]:
    """The fault-filtered split as track ids, e.g. ``{"train": ["blues.00029", ...]}``."""
    base = resources.files("gtzan_core.data") / "fault_filtered"
    out = {}
    for name in ("train", "valid", "test"):
        lines = (base / f"{name}.txt").read_text().split()
        out[name] = [line.rsplit("/", 1)[-1].rsplit(".", 1)[0] for line in lines]
    return out


def track_split(
    tracks: pd.DataFrame,
    protocol: str = "track",
    seed: int = 0,
    val_frac: float = 0.15,
    test_frac: float = 0.15,
    synthetic: bool = False,
) -> Split:
    """Track indices (rows of ``tracks``) for ``track`` and ``filtered``; for
    ``paper`` a 70:30 split of tracks with validation = test (used as is by the
    one-sample-per-track image models)."""
    tracks = tracks.reset_index(drop=True)
    if protocol == "track":
        tr, va, te = _stratified_track_split(tracks, val_frac, test_frac, seed)
        return Split("track", "track", tr, va, te)
    if protocol == "filtered":
        if synthetic:
            raise DatasetError("the fault-filtered split needs real GTZAN track ids; the synthetic demo set has none")
        lists = fault_filtered_lists()
        pos = {tid: i for i, tid in enumerate(tracks["track_id"])}
        parts = [np.array(sorted(pos[t] for t in lists[k] if t in pos), dtype=np.int64) for k in ("train", "valid", "test")]
        listed = sum(len(v) for v in lists.values())
        found = sum(len(p) for p in parts)
        if found == 0:
            raise DatasetError("none of the fault-filtered track ids is in this dataset (is it GTZAN?)")
        note = f"{found} of {listed} listed tracks present" if found < listed else ""
        return Split("filtered", "track", *parts, note=note)
    if protocol == "paper":
        tr, te = _random_70_30(len(tracks), seed)
        return Split("paper", "track", tr, te, te, leaky=True, note="validation set = test set (paper protocol)")
    raise ConfigError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")


def segment_split(
    tracks: pd.DataFrame,
    seg_track: np.ndarray,
    protocol: str = "track",
    seed: int = 0,
    val_frac: float = 0.15,
    test_frac: float = 0.15,
    synthetic: bool = False,
) -> Split:
    """Segment indices for the MFCC models.

    ``track``/``filtered``: every segment follows its track. ``paper``: a random
    70:30 split of all segments, validation = test (leaky).
    """
    if protocol == "paper":
        tr, te = _random_70_30(len(seg_track), seed)
        return Split("paper", "segment", tr, te, te, leaky=True,
                     note="segments of one track on both sides; validation set = test set (paper protocol)")
    ts = track_split(tracks, protocol, seed, val_frac, test_frac, synthetic)
    seg_track = np.asarray(seg_track)

    def segs(track_idx):
        return np.flatnonzero(np.isin(seg_track, track_idx))

    return Split(ts.protocol, "segment", segs(ts.train), segs(ts.val), segs(ts.test), note=ts.note)
