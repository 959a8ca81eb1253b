"""Train / validation / test splits.

Three protocols; each returns sample indices (segments for the MFCC models,
tracks for the image models) for train, validation and test:

* ``track`` (default, honest): stratified by genre and split by *track*, so no
  track has segments in two sets; seeded.
* ``filtered``: the artist-filtered ("fault-filtered") split of Kereliuk & Sturm,
  443 / 197 / 290 tracks, shipped in ``gtzan_core/data/fault_filtered``. Real GTZAN
  only.
* ``paper``: the paper's code's protocol, per model family, with early stopping
  and model choice on the test set (validation = test), as that code did:

  - MFCC models: ``train_test_split(test_size=0.3)`` over *segments*. **Leaky**:
    segments of one track sit on both sides, which inflates accuracy.
  - image models: ``train_test_split(test_size=0.2, random_state=42)`` over
    *images*, one per track, so split by track (not leaky by track), but
    **early-stopped on test**.

  Kept, labelled, to reproduce the paper's table.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np
import pandas as pd

from .errors import ConfigError, DatasetError
from .inputs import get_kind
from .words import plural

PROTOCOLS = {
    "track": "Split by track, stratified by genre (70/15/15): honest, no track in two sets.",
    "filtered": "Artist-filtered GTZAN split (443/197/290 tracks): the research standard; real GTZAN only.",
    "paper": "The paper's code: MFCC models 70:30 over segments (LEAKY), image models 80:20 over images "
             "(seed 42); both early-stopped on test. For reproduction only.",
}
#: The paper's image split: ``train_test_split(test_size=0.2, random_state=42)``.
PAPER_IMAGE_SEED = 42
#: The paper's test fractions: 70:30 over the samples of the many-per-track kinds (its MFCC
#: segments), 80:20 over the pictures (one per track).
PAPER_TEST_FRACTION = {"samples": 0.3, "tracks": 0.2}


def protocol_info(protocol: str, input_kind: str) -> dict:
    """How a protocol treats a model family, for run records and tables:
    ``leaky`` (segments of one track on both sides), ``selection_on_test`` (early
    stopping and model choice on the test set), ``protocol_label`` (a short label)
    and ``protocol_note`` (a sentence). A kind of many samples per track
    (``InputKind.per_track``: MFCC segments, musicnn's 3 s patches) is treated as the
    paper treated its MFCC models, a kind of one picture per track as its image models."""
    if protocol == "paper":
        kind = get_kind(input_kind)
        if kind.per_track:
            unit, units = kind.unit, plural(kind.unit)
            return {"leaky": True, "selection_on_test": True,
                    "protocol_label": f"paper · leaky 70:30 {unit} split, early-stopped on test",
                    "protocol_note": f"The paper's 70:30 random split of {units}: {units} of one track on both "
                                     "sides (leaky), and the test set drives early stopping and model choice."}
        return {"leaky": False, "selection_on_test": True,
                "protocol_label": "paper · 80:20 image split, early-stopped on test",
                "protocol_note": "The paper's 80:20 split of images (one per track, random_state 42): no track on "
                                 "both sides, but the test set drives early stopping and model choice."}
    return {"leaky": False, "selection_on_test": False, "protocol_label": protocol,
            "protocol_note": PROTOCOLS.get(protocol, "")}


def train_share(protocol: str, input_kind: str, val_frac: float = 0.15, test_frac: float = 0.15) -> float:
    """About what share of a dataset's tracks a model trains on under ``protocol``: the
    paper's 70:30 or 80:20 (as its input kind is split), else what validation and test
    leave (the artist-filtered split is taken as the same)."""
    if protocol == "paper":
        return 1 - PAPER_TEST_FRACTION["samples" if get_kind(input_kind).per_track else "tracks"]
    return 1 - val_frac - test_frac


@dataclass
class Split:
    protocol: str
    unit: str  # "segment" or "track"
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    leaky: bool = False
    note: str = ""
    selection_on_test: bool = False  # validation set = test set (the paper protocol)

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


def paper_train_test(n: int, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The paper's split: scikit-learn's ``train_test_split(range(n), test_size,
    random_state=seed, shuffle=True)`` -> (train, test) indices, each sorted."""
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(np.arange(n), test_size=test_size, random_state=seed, shuffle=True)
    return np.sort(train), np.sort(test)


def fault_filtered_lists() -> dict[str, list[str]]:
    """The fault-filtered split as track ids, e.g. ``{"train": ["blues.00029", ...]}``."""
    base = resources.files("gtzan_core.data") / "fault_filtered"
    out = {}
    for name in ("train", "valid", "test"):
        lines = (base / f"{name}.txt").read_text().split()
        out[name] = [line.rsplit("/", 1)[-1].rsplit(".", 1)[0] for line in lines]
    return out


def no_audio_message(tracks) -> str:
    """Why a model that reads audio cannot train on a dataset of ``tracks`` none of which has
    audio: it holds pictures only, or it is a feature table (its rows are the vectors)."""
    if "image_path" in tracks and tracks["image_path"].notna().any():
        return "this dataset has no audio (pictures only): only the image models can train on it"
    return ("this dataset has no audio (a feature table: one feature vector per track): only the feature-vector "
            "models can train on it")


def track_split(
    tracks: pd.DataFrame,
    protocol: str = "track",
    seed: int = 0,
    val_frac: float = 0.15,
    test_frac: float = 0.15,
    synthetic: bool = False,
    unit: str = "track",
) -> Split:
    """Track indices (rows of ``tracks``) for ``track`` and ``filtered``; for
    ``paper`` the paper's 80:20 split of images (one per track, ``random_state``
    42 whatever ``seed`` is) with validation = test. ``unit`` names the samples
    ("image" for the image models)."""
    tracks = tracks.reset_index(drop=True)
    if protocol == "track":
        tr, va, te = _stratified_track_split(tracks, val_frac, test_frac, seed)
        return Split("track", unit, tr, va, te)
    if protocol == "filtered":
        if synthetic:
            raise DatasetError("the fault-filtered split needs real GTZAN track ids; the synthetic demo set has none")
        lists = fault_filtered_lists()
        pos = {tid: i for i, tid in enumerate(tracks["track_id"])}
        parts = [np.array(sorted(pos[t] for t in lists[k] if t in pos), dtype=np.int64)
                 for k in ("train", "valid", "test")]
        listed = sum(len(v) for v in lists.values())
        found = sum(len(p) for p in parts)
        if found == 0:
            raise DatasetError("none of the fault-filtered track ids is in this dataset (is it GTZAN?)")
        note = f"{found} of {listed} listed tracks present" if found < listed else ""
        return Split("filtered", unit, *parts, note=note)
    if protocol == "paper":
        tr, te = paper_train_test(len(tracks), PAPER_TEST_FRACTION["tracks"], PAPER_IMAGE_SEED)
        return Split("paper", unit, tr, te, te, selection_on_test=True,
                     note="80:20 split of images (random_state 42); validation set = test set (paper protocol)")
    raise ConfigError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")


def segment_split(
    tracks: pd.DataFrame,
    seg_track: np.ndarray,
    protocol: str = "track",
    seed: int = 0,
    val_frac: float = 0.15,
    test_frac: float = 0.15,
    synthetic: bool = False,
    unit: str = "segment",
) -> Split:
    """Sample indices for the models that read many samples per track (MFCC
    segments, musicnn patches: ``unit``).

    ``track``/``filtered``: every sample follows its track. ``paper``: the paper's
    random 70:30 split of all samples (``random_state`` = ``seed``), validation =
    test (leaky).
    """
    if protocol == "paper":
        tr, te = paper_train_test(len(seg_track), PAPER_TEST_FRACTION["samples"], seed)
        return Split("paper", unit, tr, te, te, leaky=True, selection_on_test=True,
                     note=f"{plural(unit)} of one track on both sides; validation set = test set (paper protocol)")
    ts = track_split(tracks, protocol, seed, val_frac, test_frac, synthetic)
    seg_track = np.asarray(seg_track)

    def segs(track_idx):
        return np.flatnonzero(np.isin(seg_track, track_idx))

    return Split(ts.protocol, unit, segs(ts.train), segs(ts.val), segs(ts.test), note=ts.note)


# ---------------------------------------------------------------------------
# Splits that cannot say anything
# ---------------------------------------------------------------------------

#: A part of a split with fewer tracks of a genre than this says nothing about that
#: genre (one or two tracks: an accuracy of 0, 50 or 100 %).
MIN_TRACKS_PER_GENRE = 3
PART_NAMES = {"train": "training", "val": "validation", "test": "test"}


def split_for(tracks: pd.DataFrame, seg_track: np.ndarray | None, input_kind: str, protocol: str, seed: int,
              val_frac: float = 0.15, test_frac: float = 0.15, synthetic: bool = False) -> Split:
    """The split a model family trains on: segments or patches (the audio models; ``seg_track``
    is each sample's track) or tracks (image models), as its input kind says."""
    kind = get_kind(input_kind)
    if kind.per_track:
        return segment_split(tracks, seg_track, protocol, seed, val_frac, test_frac, synthetic, unit=kind.unit)
    return track_split(tracks, protocol, seed, val_frac, test_frac, synthetic, unit=kind.unit)


def genre_coverage(split: Split, tracks: pd.DataFrame, seg_track: np.ndarray | None = None) -> dict:
    """Tracks of each genre in each part: ``{"train": {"blues": 14, ...}, "val": ..., "test": ...}``
    (a track counts in a part when any of its samples is there; ``seg_track``: each
    sample's track, None when the split's indices are tracks)."""
    from . import GENRES

    tracks = tracks.reset_index(drop=True)
    out = {}
    for part in ("train", "val", "test"):
        idx = getattr(split, part)
        rows = np.unique(np.asarray(seg_track)[idx]) if seg_track is not None else np.asarray(idx)
        counts = tracks.loc[rows, "genre"].value_counts() if len(rows) else pd.Series(dtype=int)
        out[part] = {g: int(counts.get(g, 0)) for g in GENRES}
    return out


def split_problems(coverage: dict, minimum: int = MIN_TRACKS_PER_GENRE) -> list[str]:
    """What makes a split's numbers meaningless, one sentence per part, genres and counts
    named; empty when every part holds at least ``minimum`` tracks of every genre."""
    problems = []
    for part, counts in coverage.items():
        if part == "val" and coverage.get("val") == coverage.get("test"):
            continue  # the paper protocol: validation is the test set, said once
        missing = [g for g, n in counts.items() if n == 0]
        few = [f"{g} {n}" for g, n in counts.items() if 0 < n < minimum]
        said = []
        if missing:
            said.append(f"no {', '.join(missing)} track{'s' if len(missing) > 1 else ''}")
        if few:
            said.append(f"fewer than {minimum} tracks of {', '.join(few)}")
        if said:
            problems.append(f"{PART_NAMES[part]} part: {'; '.join(said)}")
    return problems


def planned_split_problems(tracks: pd.DataFrame, input_kind: str, protocol: str, seed: int = 0,
                           val_frac: float = 0.15, test_frac: float = 0.15, synthetic: bool = False,
                           n_segments: int = 10, segment_seconds: float = 3.0,
                           min_seconds: float | None = None) -> list[str]:
    """:func:`split_problems` of the split a run would get, from a dataset's track list
    alone, before any feature is extracted: the audio models read only tracks with
    audio, and a track has as many segments (or musicnn patches, about as long) as its
    ``duration`` holds (``segment_seconds`` each, at most ``n_segments``; one, padded,
    for a clip of at least ``min_seconds``; all of them when the duration is unknown).
    Raises :class:`DatasetError` where the protocol cannot apply at all."""
    from .features import MIN_CLIP_SECONDS

    min_seconds = MIN_CLIP_SECONDS if min_seconds is None else min_seconds
    tracks = tracks.reset_index(drop=True)
    seg_track = None
    kind = get_kind(input_kind)
    if kind.needs_audio:
        all_tracks = tracks
        if "audio_path" in tracks:
            tracks = tracks[tracks["audio_path"].notna()].reset_index(drop=True)
        if tracks.empty:
            raise DatasetError(no_audio_message(all_tracks))
    elif kind.reads_pictures and not any(c in tracks and tracks[c].notna().any() for c in ("audio_path",
                                                                                            "image_path")):
        raise DatasetError("this dataset has no audio and no pictures (a feature table: one feature vector per "
                           "track): only the feature-vector models can train on it")
    if kind.per_track:
        per_track = np.full(len(tracks), n_segments)
        if "duration" in tracks:
            seconds = pd.to_numeric(tracks["duration"], errors="coerce").to_numpy()
            held = np.floor(seconds / segment_seconds)
            held = np.where((held < 1) & (seconds >= min_seconds), 1, held)  # a short clip is padded to one
            per_track = np.where(np.isfinite(held), np.clip(held, 0, n_segments), n_segments).astype(int)
        seg_track = np.repeat(np.arange(len(tracks)), per_track)
    split = split_for(tracks, seg_track, input_kind, protocol, seed, val_frac, test_frac, synthetic)
    return split_problems(genre_coverage(split, tracks, seg_track))


def planned_problems_of(configs, dataset, unusable_is_problem: bool = True) -> list[list[str]]:
    """For each of ``configs`` (:class:`~gtzan_core.hparams.TrainConfig`), what its split on
    ``dataset`` cannot say (a part lacking a genre, or holding fewer than a handful of
    tracks of one: a partial GTZAN copy); [] where nothing. Each split (input kind,
    protocol, seed, fractions) is planned once. A protocol that cannot apply at all (the
    artist-filtered split without GTZAN's track ids) is one more problem, or with
    ``unusable_is_problem=False`` its :class:`DatasetError`."""
    from .models import get_spec

    seen: dict[tuple, list[str]] = {}
    out = []
    for c in configs:
        key = (get_spec(c.model).input_kind, c.protocol, c.seed, c.val_frac, c.test_frac)
        if key not in seen:
            try:
                seen[key] = planned_split_problems(dataset.tracks, *key, dataset.is_synthetic)
            except DatasetError as exc:
                if not unusable_is_problem:
                    raise
                seen[key] = [str(exc)]
        out.append(seen[key])
    return out


class WeakSplitError(ConfigError):
    """A split whose parts lack genres or hold too few tracks of one (see :func:`split_problems`)."""

    def __init__(self, protocol: str, problems: list[str], how_to_force: str):
        self.problems = problems
        super().__init__(f"the {protocol} split of this dataset cannot give meaningful numbers: "
                         + "; ".join(problems) + f". {how_to_force}")


def check_planned_split(dataset, config, force: bool = False, how_to_force: str = "") -> list[str]:
    """Before a run starts: the problems of the split ``config`` would get on ``dataset``
    (a :class:`~gtzan_core.data.Dataset`). Raises :class:`WeakSplitError` naming them,
    unless ``force``; then returns them (the run records them too)."""
    from .models import get_spec

    problems = planned_split_problems(dataset.tracks, get_spec(config.model).input_kind, config.protocol,
                                      config.seed, config.val_frac, config.test_frac, dataset.is_synthetic)
    if problems and not force:
        raise WeakSplitError(config.protocol, problems, how_to_force)
    return problems
