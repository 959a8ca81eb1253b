"""Repeated recordings in a dataset, found from the tracks' feature vectors.

Sturm (2013, "The GTZAN dataset: its contents, its faults, their effects on evaluation")
listed GTZAN's exact repetitions: the same recording filed twice, under one genre or
under two (then one copy is mislabelled). Two copies of one recording have (nearly) the
same features, so :func:`find_repeats` standardises every feature column (z-scores over
the dataset) and calls two tracks copies when their distance is below ``fraction`` of the
dataset's median nearest-neighbour distance (an ordinary pair of different tracks is
near that median; a copy of a recording is close to zero: identical files give exactly 0,
the same recording cut at another place a few tenths of it). Copies chain into groups
(80~81 and 81~82: one recording filed three times).

A split that puts copies of one recording on both sides of train and test tests a model on
what it trained on (:func:`straddling`); a run's errors may fall on the repeats more, or
less, than chance would put them there (:func:`errors_on_repeats`: a hypergeometric test).
The feature vectors are a feature table's rows (``features_30_sec.csv``) or the studio's
own vector of each audio track (:mod:`gtzan_core.audio_features`, cached like every
feature).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

import numpy as np

#: Default: copies are closer than this share of the median nearest-neighbour distance.
FRACTION = 0.35


@dataclass(frozen=True)
class Repeat:
    """Two tracks that are copies of one recording, and how close their features are
    (``distance`` in z-score units; ``relative``: over the median nearest-neighbour distance)."""

    a: str
    b: str
    genre_a: str
    genre_b: str
    distance: float
    relative: float

    @property
    def across_genres(self) -> bool:
        """Filed under two genres: one of the copies is mislabelled."""
        return self.genre_a != self.genre_b

    @property
    def identical(self) -> bool:
        return self.distance < 1e-6

    def as_dict(self) -> dict:
        return {**asdict(self), "across_genres": self.across_genres, "identical": self.identical}


@dataclass
class Repeats:
    """What :func:`find_repeats` found in a dataset of ``tracks`` tracks."""

    tracks: int
    features: int
    fraction: float
    median_nn: float
    pairs: list[Repeat] = field(default_factory=list)

    @property
    def threshold(self) -> float:
        return self.fraction * self.median_nn

    @property
    def groups(self) -> list[list[str]]:
        """The copies of each recording (connected pairs), each sorted, largest first."""
        parent: dict[str, str] = {}

        def root(x: str) -> str:
            while parent.setdefault(x, x) != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for p in self.pairs:
            parent[root(p.a)] = root(p.b)
        found: dict[str, list[str]] = {}
        for x in list(parent):
            found.setdefault(root(x), []).append(x)
        return sorted((sorted(g) for g in found.values()), key=lambda g: (-len(g), g))

    @property
    def repeated(self) -> set[str]:
        """Every track that has a copy."""
        return {t for p in self.pairs for t in (p.a, p.b)}

    def as_dict(self) -> dict:
        return {"tracks": self.tracks, "features": self.features, "fraction": self.fraction,
                "median_nn": self.median_nn, "threshold": self.threshold,
                "pairs": [p.as_dict() for p in self.pairs], "groups": self.groups}


def find_repeats(track_ids: Iterable[str], genres: Iterable[str], x: np.ndarray,
                 fraction: float = FRACTION) -> Repeats:
    """The pairs of tracks whose standardised feature vectors (rows of ``x``) are closer
    than ``fraction`` of the median nearest-neighbour distance, closest first."""
    from sklearn.metrics import pairwise_distances

    ids, gen = [str(t) for t in track_ids], [str(g) for g in genres]
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) != len(ids) or len(ids) != len(gen):
        raise ValueError("one feature vector, one track id and one genre per track are needed")
    if len(ids) < 3:
        return Repeats(len(ids), x.shape[1] if x.ndim == 2 else 0, fraction, float("nan"))
    sd = x.std(0)
    keep = np.isfinite(sd) & (sd > 0)  # (a constant column says nothing)
    z = (x[:, keep] - x[:, keep].mean(0)) / sd[keep]
    d = pairwise_distances(z)
    np.fill_diagonal(d, np.inf)
    median_nn = float(np.median(d.min(1)))
    limit = fraction * median_nn
    i, j = np.nonzero(np.triu(d <= limit, 1))
    pairs = [Repeat(ids[a], ids[b], gen[a], gen[b], float(d[a, b]),
                    float(d[a, b] / median_nn) if median_nn > 0 else 0.0) for a, b in zip(i, j, strict=True)]
    pairs.sort(key=lambda p: (p.distance, p.a, p.b))
    return Repeats(len(ids), int(keep.sum()), fraction, median_nn, pairs)


def dataset_vectors(path, progress: Callable | None = None) -> tuple[list[str], list[str], np.ndarray]:
    """(track ids, genres, feature vectors) of the dataset at ``path``: a feature table's
    rows, or the studio's feature vector of each audio track (extracted once, cached)."""
    from ..data import open_dataset
    from ..feature_cache import load_features
    from ..inputs.vector import VectorParams

    ds = open_dataset(path)
    fs = load_features(ds, inputs={"vector": VectorParams()}, progress=progress).for_kind("vector")
    x, track = fs.samples("vector")
    tracks = fs.tracks.iloc[track]
    return tracks["track_id"].astype(str).tolist(), tracks["genre"].astype(str).tolist(), np.asarray(x)


def straddling(found: Repeats, part_of: dict[str, str]) -> list[dict]:
    """The groups of copies that a split puts in more than one part (``part_of``: track ->
    "train", "val" or "test"; tracks it does not name are left out): each
    ``{"tracks": {track: part}, "test_and_seen": bool}`` (``test_and_seen``: a copy is
    tested and another trained or chosen on)."""
    out = []
    for g in found.groups:
        parts = {t: part_of[t] for t in g if t in part_of}
        if len(set(parts.values())) > 1:
            out.append({"tracks": parts, "test_and_seen": "test" in parts.values()
                        and bool({"train", "val"} & set(parts.values()))})
    return out


def protocol_parts(track_ids: list[str], genres: list[str], protocol: str, seed: int = 0,
                   input_kind: str = "image", synthetic: bool = False) -> dict[str, str]:
    """Track -> part ("train", "val", "test") under ``protocol`` (one sample a track: the
    image models' split; the paper's 80:20 of pictures, the track split, the artist-filtered
    lists)."""
    import pandas as pd

    from .. import GENRES
    from ..splits import split_for

    tracks = pd.DataFrame({"track_id": track_ids, "genre": genres,
                           "label": [GENRES.index(g) if g in GENRES else -1 for g in genres]})
    split = split_for(tracks, None, input_kind, protocol, seed, synthetic=synthetic)
    out: dict[str, str] = {}
    for part in ("train", "val", "test"):  # (the paper's validation is its test: "test" wins)
        for k in getattr(split, part):
            out[track_ids[int(k)]] = part
    return out


def errors_on_repeats(found: Repeats, predictions: dict) -> dict:
    """How many of a run's test errors (track level) fall on tracks that have a copy, and
    how many chance would put there: ``{"test", "errors", "test_repeated",
    "errors_repeated", "expected", "p_more"}`` (``p_more``: the chance of at least that
    many, were errors spread at random over the test tracks: hypergeometric)."""
    from scipy.stats import hypergeom

    repeated = found.repeated
    tracks = predictions["tracks"]
    wrong = [t for t in tracks if t["true"] != t["pred"]]
    on = sum(1 for t in tracks if t["track"] in repeated)
    wrong_on = sum(1 for t in wrong if t["track"] in repeated)
    n, k = len(tracks), len(wrong)
    expected = k * on / n if n else 0.0
    p_more = float(hypergeom.sf(wrong_on - 1, n, on, k)) if n else 1.0
    return {"test": n, "errors": k, "test_repeated": on, "errors_repeated": wrong_on,
            "expected": round(expected, 3), "p_more": round(p_more, 4)}
