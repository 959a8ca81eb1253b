"""Extract the model inputs of a whole dataset once, in parallel, and cache them.

Three inputs, each extracted only when a model needs it (:func:`feature_request`):
MFCC segments (always, they are cheap), spectrogram pictures (the image models;
the dataset's PNG, or drawn from the audio) and musicnn's log-mel patches. Each
file is decoded once at its own sample rate and resampled to each input's rate.
A clip shorter than one segment or patch (but at least
:data:`~gtzan_core.features.MIN_CLIP_SECONDS`) is repeat-padded to one and counted
(``tracks.padded``); a track with a PNG and no audio serves the image models only.
A kind that owns its extraction (``InputKind.params``/``extract``) gets its rows in
``FeatureSet.inputs[name]``, extracted, keyed and checked here without this module
knowing what they are.

The cache lives in ``$GTZAN_STUDIO_HOME/features/<origin>-<key>/`` (origin: ``gtzan``
or ``synthetic``) where ``key`` hashes the dataset fingerprint (paths, sizes, mtimes),
the MFCC, image and musicnn parameters and the extractor version: changing any of
them selects a new entry.
An entry is built in a temporary folder and renamed into place in one step, and
``meta.json`` records a checksum of every array, so a torn or corrupt entry is
detected and rebuilt rather than trusted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .audio import decode_audio
from .data.discovery import Dataset
from .errors import AudioError, ConfigError, DatasetError
from .features import MIN_CLIP_SECONDS, ImageParams, MFCCParams, is_padded, mfcc_segments
from .inputs import get_kind
from .inputs.image import track_picture
from .inputs.vector import SHORT_SECONDS, VectorParams
from .locks import file_lock
from .mel_patches import MusicnnParams, mel_patches
from .paths import feature_cache_dir
from .progress import report
from .spectrogram.kaggle import WHOLE_CLIP_SLACK

log = logging.getLogger(__name__)

EXTRACTOR_VERSION = 3  # 2: pictures span the whole clip, picture style; 3: short clips padded, PNG-only tracks, musicnn
ARRAYS = ("mfcc", "seg_track", "seg_index", "images", "patches", "patch_track")
#: the feature vectors' own version (1: gtzan_core.audio_features as first written); in an entry only when asked for
VECTOR_VERSION = 1


@dataclass
class KindInput:
    """One input kind's own rows for a dataset (a kind with ``InputKind.params``): ``x[i]``
    belongs to track ``track[i]``; extracted by the kind (``InputKind.extract``), stored and
    checked here without the feature cache knowing what they are."""

    params: object  # the kind's parameters (a frozen dataclass with ``as_dict()``)
    x: np.ndarray
    track: np.ndarray  # int32, one per row

    def keep(self, keep: np.ndarray, new_index: np.ndarray) -> KindInput:
        rows = keep[self.track]
        return KindInput(self.params, self.x[rows], new_index[self.track[rows]].astype(np.int32))


@dataclass
class FeatureSet:
    """Everything the trainers need, as arrays.

    ``tracks``: one row per extracted track (track_id, genre, label, n_segments,
    n_patches, image_source, padded). ``mfcc[i]`` belongs to track ``seg_track[i]``,
    segment ``seg_index[i]``; ``images[j]`` to track ``j``; ``patches[k]`` (musicnn's
    log-mel patches, when extracted) to track ``patch_track[k]``. :meth:`for_kind`
    keeps the tracks one input kind can use (the audio models skip PNG-only tracks);
    which arrays a kind reads, and which tracks have them, is the kind's
    (:mod:`gtzan_core.inputs`).
    """

    dataset_label: str
    fingerprint: str
    mfcc_params: MFCCParams
    image_params: ImageParams
    tracks: pd.DataFrame
    mfcc: np.ndarray
    seg_track: np.ndarray
    seg_index: np.ndarray
    images: np.ndarray
    patches: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0), np.float32))
    patch_track: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    musicnn_params: MusicnnParams | None = None
    #: one feature vector per track (tracks x columns; :mod:`gtzan_core.inputs.vector`), when asked for
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    vector_params: VectorParams | None = None
    vector_names: list[str] = field(default_factory=list)
    vector_source: str | None = None  # "audio" (the studio's extraction) or "table" (a feature table's rows)
    #: the kinds with their own extraction (``InputKind.params``): kind name -> its rows
    inputs: dict[str, KindInput] = field(default_factory=dict)
    failed: list[tuple[str, str]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)  # (track_id, what happened), e.g. an unreadable PNG
    path: Path | None = None
    cache_hit: bool = False
    seconds: float = 0.0

    @property
    def track_labels(self) -> np.ndarray:
        return self.tracks["label"].to_numpy(np.int64)

    @property
    def seg_labels(self) -> np.ndarray:
        return self.track_labels[self.seg_track]

    def samples(self, kind: str) -> tuple[np.ndarray, np.ndarray]:
        """The samples of input ``kind`` and the track of each: MFCC segments,
        pictures (one per track) or musicnn patches."""
        return get_kind(kind).samples(self)

    def has(self, kind: str) -> np.ndarray:
        """Per track: whether it has input of ``kind``."""
        return get_kind(kind).has(self)

    def padded_count(self, kind: str) -> int:
        """Tracks whose one ``kind`` input is a repeat-padded short clip."""
        return get_kind(kind).padded_count(self)

    def for_kind(self, kind: str) -> FeatureSet:
        """The tracks that have input of ``kind``, re-indexed (itself when all have)."""
        keep = self.has(kind)
        if keep.all():
            return self
        if not keep.any():
            reads = get_kind(kind)
            held = ("it is a feature table, so only the feature-vector models can train on it"
                    if self.vector_source == "table" else "it holds pictures only, so only the image models can "
                                                          "train on it")
            raise ConfigError(f"this dataset ({self.dataset_label}) has no {reads.missing_what}"
                              + (f": {held}" if reads.needs_audio else ""))
        new_index = np.cumsum(keep) - 1
        seg_keep, patch_keep = keep[self.seg_track], keep[self.patch_track]
        return dataclasses.replace(
            self, tracks=self.tracks[keep].reset_index(drop=True),
            mfcc=self.mfcc[seg_keep], seg_track=new_index[self.seg_track[seg_keep]].astype(np.int32),
            seg_index=self.seg_index[seg_keep],
            images=self.images[keep] if len(self.images) == len(keep) else self.images,
            patches=self.patches[patch_keep], patch_track=new_index[self.patch_track[patch_keep]].astype(np.int32),
            vectors=self.vectors[keep] if len(self.vectors) == len(keep) else self.vectors,
            inputs={name: own.keep(keep, new_index) for name, own in self.inputs.items()})


def image_params_for(model: str | None, source: str = "auto") -> ImageParams:
    """The image parameters a model trains and predicts on: its own input size
    (224² VGG19 and EfficientNet-Lite0, 256² ResNeXt and SqueezeNet, as in the paper's
    code). MFCC models share VGG19's entry, so one extraction serves them all; musicnn
    needs no pictures (its input kind says: ``InputKind.image_params``)."""
    return feature_request(model, source)["image"]


def feature_request(model: str | None, image_source: str = "auto") -> dict:
    """What ``load_features`` must extract for ``model`` (its input kind says):
    ``{"image": ImageParams, "musicnn": MusicnnParams | None}`` (MFCCs always)."""
    from .models import get_spec

    if not model:
        return {"image": ImageParams(source=image_source), "musicnn": None}
    spec = get_spec(model)
    return spec.kind.feature_request(spec, image_source)


def cache_key(dataset: Dataset, mfcc: MFCCParams, image: ImageParams, musicnn: MusicnnParams | None = None,
              vectors: VectorParams | None = None, inputs: dict | None = None) -> str:
    what = {"fingerprint": dataset.fingerprint, "mfcc": mfcc.as_dict(), "image": image.as_dict(),
            "musicnn": musicnn.as_dict() if musicnn else None, "version": EXTRACTOR_VERSION}
    if vectors is not None:  # (only then: the entries of the other kinds keep their keys)
        what["vectors"] = {**vectors.as_dict(), "version": VECTOR_VERSION}
    if inputs:  # the kinds with their own extraction: their parameters and extractor versions
        what["inputs"] = {name: {**params.as_dict(), "version": get_kind(name).version}
                          for name, params in sorted(inputs.items())}
    blob = json.dumps(what, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


def patches_per_track(mfcc: MFCCParams, musicnn: MusicnnParams) -> int:
    """musicnn patches kept per track: as many as fit in ``track_seconds`` (10 in 30 s),
    the same span the MFCC segments cover."""
    return max(1, int(mfcc.track_seconds * musicnn.sr / musicnn.hop_length) // musicnn.patch_frames)


@dataclass
class TrackInputs:
    """What :func:`extract_track` made of one track (``error`` set: nothing usable)."""

    index: int
    mfcc: np.ndarray | None = None
    image: np.ndarray | None = None
    image_source: str | None = None
    patches: np.ndarray | None = None
    padded: bool = False  # its one MFCC segment is a repeat-padded short clip
    padded_patch: bool = False  # its one musicnn patch is
    vector: np.ndarray | None = None  # its feature vector, when asked for
    own: dict[str, tuple[np.ndarray, bool]] = field(default_factory=dict)  # kind -> (rows, padded), when asked for
    error: str | None = None
    notes: list[str] = field(default_factory=list)


def _present(path) -> str | None:
    """A path from the track table, or None (pandas holds a missing path as NaN)."""
    return str(path) if isinstance(path, (str, os.PathLike)) and str(path) else None


def extract_track(job: tuple) -> TrackInputs:
    """Worker: (index, audio path, image path, mfcc params, image params, musicnn params
    or None, device[, vector params or None]) -> :class:`TrackInputs`.

    Under the ``auto`` source a track without a PNG, or with an unreadable one, gets a
    picture drawn from its audio in the same style (source ``render``; a note says why
    when a PNG was there but unreadable); a track with a PNG and no audio has its
    picture only. A track fails only when nothing usable can be made of it."""
    i, audio_path, image_path, mp, ip, musp, device = job[:7]
    vp = job[7] if len(job) > 7 else None
    own = job[8] if len(job) > 8 else {}
    audio_path, image_path = _present(audio_path), _present(image_path)
    out = TrackInputs(i)
    name = Path(audio_path or image_path or "?").name
    try:
        if audio_path is not None:
            # Decode a little past track_seconds: the MFCCs use the first n_segments
            # segments, the picture spans the whole GTZAN clip as the Kaggle PNGs do.
            decoded = decode_audio(audio_path, max_seconds=mp.track_seconds * WHOLE_CLIP_SLACK)
            out.notes += decoded.warnings
            y = decoded.at(mp.sr)
            out.mfcc = mfcc_segments(y, mp.sr, mp, max_segments=mp.n_segments, device=device)
            out.padded = is_padded(len(y), mp)
            if musp is not None:
                patches, out.padded_patch = mel_patches(decoded.at(musp.sr), musp, MIN_CLIP_SECONDS)
                out.patches = patches[:patches_per_track(mp, musp)]
            if vp is not None:
                from .audio_features import vector

                out.vector = vector(decoded.at(vp.sr), vp.sr, vp.groups)
            for kind_name, params in own.items():  # each kind with its own extraction derives its rows
                out.own[kind_name] = get_kind(kind_name).extract(decoded, params)
        else:
            y = None
        out.image, out.image_source = track_picture(y, image_path, mp, ip, name, out.notes,
                                                    "musicnn and " if musp else "")
        return out
    except AudioError as exc:
        return TrackInputs(i, error=str(exc), notes=out.notes)
    except Exception as exc:  # a broken file must not stop a 1000-track run
        return TrackInputs(i, error=f"{name}: {type(exc).__name__}: {exc}", notes=out.notes)


def _run_jobs(jobs: list[tuple], workers: int, progress):
    """Run :func:`extract_track` over ``jobs`` on ``workers`` threads, yielding in order.

    Threads, not processes: decoding (libsndfile) and the torch/numpy/OpenCV
    kernels release the GIL, so threads keep both cores busy without the seconds
    of start-up (re-importing torch) that worker processes cost.
    """
    total = len(jobs)
    if workers <= 1 or total < 2:
        for k, job in enumerate(jobs):
            yield extract_track(job)
            report(progress, k + 1, total, "extracting features")
        return
    with ThreadPoolExecutor(max_workers=workers) as ex:
        for k, result in enumerate(ex.map(extract_track, jobs)):
            yield result
            report(progress, k + 1, total, "extracting features")


def _sha(arr: np.ndarray) -> str:
    """Checksum of an array's shape, dtype and contents (hashed in place, no copy)."""
    h = hashlib.blake2b(f"{arr.shape}|{arr.dtype.str}|".encode(), digest_size=16)
    h.update(np.ascontiguousarray(arr).reshape(-1).view(np.uint8))
    return h.hexdigest()


def _save(entry: Path, fs: FeatureSet) -> None:
    """Write an entry atomically: build a temp folder, then rename it into place."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}-", dir=entry.parent))
    try:
        sums = {}
        for name in ARRAYS:
            arr = getattr(fs, name)
            with open(tmp / f"{name}.npy", "wb") as f:  # streamed: no in-memory copy of the array
                np.save(f, arr)
            sums[name] = _sha(arr)
        if fs.vector_params is not None:
            np.save(tmp / "vectors.npy", fs.vectors)
            sums["vectors"] = _sha(fs.vectors)
        for name, own in fs.inputs.items():
            for suffix, arr in (("", own.x), ("-track", own.track)):
                np.save(tmp / f"input-{name}{suffix}.npy", arr)
                sums[f"input-{name}{suffix}"] = _sha(arr)
        meta = {
            "version": EXTRACTOR_VERSION,
            "dataset": fs.dataset_label,
            "fingerprint": fs.fingerprint,
            "mfcc_params": fs.mfcc_params.as_dict(),
            "image_params": fs.image_params.as_dict(),
            "musicnn_params": fs.musicnn_params.as_dict() if fs.musicnn_params else None,
            "vector_params": fs.vector_params.as_dict() if fs.vector_params else None,
            "vector_names": fs.vector_names,
            "vector_source": fs.vector_source,
            "inputs": {name: own.params.as_dict() for name, own in fs.inputs.items()},  # type: ignore[attr-defined]
            "tracks": fs.tracks.to_dict(orient="records"),
            "failed": fs.failed,
            "notes": fs.notes,
            "checksums": sums,
            "seconds": fs.seconds,
            "created": time.time(),
        }
        (tmp / "meta.json").write_text(json.dumps(meta))
        if entry.exists():
            shutil.rmtree(entry, ignore_errors=True)
        try:
            os.replace(tmp, entry)
        except OSError:  # another process published the same entry first
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _load(entry: Path, mfcc: MFCCParams, image: ImageParams, musicnn: MusicnnParams | None,
          vectors: VectorParams | None = None, inputs: dict | None = None) -> FeatureSet | None:
    """Load a cache entry, or ``None`` when it is missing, torn or corrupt."""
    inputs = inputs or {}
    try:
        meta = json.loads((entry / "meta.json").read_text())
        arrays = {}
        own = [f"input-{n}{suffix}" for n in inputs for suffix in ("", "-track")]
        for name in ARRAYS + (("vectors",) if vectors is not None else ()) + tuple(own):
            arr = np.load(entry / f"{name}.npy", allow_pickle=False)
            if _sha(arr) != meta["checksums"][name]:
                raise ValueError(f"checksum mismatch in {name}.npy")
            arrays[name] = arr
        tracks = pd.DataFrame(meta["tracks"])
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
        if entry.exists():
            log.warning("feature cache %s is unusable (%s); rebuilding", entry, exc)
        return None
    return FeatureSet(
        dataset_label=meta["dataset"], fingerprint=meta["fingerprint"], mfcc_params=mfcc, image_params=image,
        musicnn_params=musicnn, tracks=tracks, failed=[tuple(f) for f in meta["failed"]],
        notes=[tuple(n) for n in meta.get("notes", [])],
        path=entry, cache_hit=True, seconds=meta.get("seconds", 0.0),
        vector_params=vectors, vector_names=list(meta.get("vector_names") or []),
        vector_source=meta.get("vector_source"),
        inputs={n: KindInput(p, arrays.pop(f"input-{n}"), arrays.pop(f"input-{n}-track")) for n, p in inputs.items()},
        **arrays,
    )


def load_features(
    dataset: Dataset,
    mfcc: MFCCParams | None = None,
    image: ImageParams | None = None,
    workers: int | None = None,
    progress=None,
    cache_dir: str | Path | None = None,
    rebuild: bool = False,
    device: str = "cpu",
    musicnn: MusicnnParams | None = None,
    vectors: VectorParams | None = None,
    inputs: dict | None = None,
) -> FeatureSet:
    """MFCC segments, spectrogram images, (with ``musicnn``) musicnn's log-mel
    patches, (with ``vectors``) a feature vector and (with ``inputs``, kind name ->
    its parameters) each named kind's own rows (``InputKind.extract``) of every track of
    ``dataset``.
    A feature table (``dataset.table``) is read as it is: its rows are the vectors.

    Served from the cache when an intact entry exists; otherwise extracted (MFCCs on
    ``device``, e.g. ``cuda``) with ``workers`` threads (default: the CPU cores, at
    most 4) and cached. Tracks that fail to decode are listed in ``failed`` with the
    reason and left out. Without pictures (image source ``none``) the tracks that
    have only a PNG are left out too.
    """
    mfcc = mfcc or MFCCParams()
    image = image or ImageParams()
    if dataset.table is not None:
        return _from_table(dataset, mfcc, image, vectors)
    inputs = dict(inputs or {})
    key = cache_key(dataset, mfcc, image, musicnn, vectors, inputs)
    entry = Path(cache_dir or feature_cache_dir()) / f"{dataset.origin}-{key}"
    if not rebuild:
        cached = _load(entry, mfcc, image, musicnn, vectors, inputs)
        if cached is not None:
            return cached
    # One builder per entry across processes: a second process waits, then reads
    # what the first one wrote instead of extracting everything again.
    with file_lock(entry.parent / f".{entry.name}.lock"):
        if not rebuild:
            cached = _load(entry, mfcc, image, musicnn, vectors, inputs)
            if cached is not None:
                return cached
        return _extract(dataset, mfcc, image, musicnn, entry, workers, progress, device, vectors, inputs)


def table_vector_params(columns: list[str]) -> tuple[VectorParams, list[str]]:
    """The feature groups a table's columns are (in :func:`~gtzan_core.audio_features.feature_names`
    order), so a model trained on it can predict on audio; groups ``()`` when its columns are
    no union of the studio's groups (such a model predicts on tables only)."""
    from .audio_features import GROUPS, feature_names

    have = set(columns)
    groups = tuple(g for g, cols in GROUPS.items() if set(cols) <= have)
    if groups and set(feature_names(groups)) == have:
        return VectorParams(groups=groups), feature_names(groups)
    return VectorParams(groups=()), list(columns)


def _from_table(dataset: Dataset, mfcc: MFCCParams, image: ImageParams, vectors: VectorParams | None) -> FeatureSet:
    """A feature table's FeatureSet: its rows are the vectors (no audio, no pictures, no cache)."""
    table = dataset.table
    params, names = table_vector_params(list(table.columns))
    tracks = dataset.tracks[["track_id", "genre", "label"]].reset_index(drop=True).copy()
    for col in ("n_segments", "n_patches"):
        tracks[col] = 0
    tracks["image_source"] = None
    tracks["padded"] = tracks["padded_patch"] = False
    tracks["n_vectors"] = 1
    tracks["padded_vector"] = pd.to_numeric(dataset.tracks["duration"], errors="coerce").to_numpy() < SHORT_SECONDS
    return FeatureSet(
        dataset_label=dataset.label, fingerprint=dataset.fingerprint, mfcc_params=mfcc, image_params=image,
        tracks=tracks, mfcc=np.zeros((0, mfcc.frames_per_segment, mfcc.n_mfcc), np.float32),
        seg_track=np.zeros(0, np.int32), seg_index=np.zeros(0, np.int16), images=np.zeros((0, 0, 0, 3), np.uint8),
        vectors=np.ascontiguousarray(table[names].to_numpy(np.float32)), vector_params=params, vector_names=names,
        vector_source="table", path=None, cache_hit=True)


def _gathered(params, per_track: list) -> KindInput:
    """One kind's rows of every kept track (None: the track has none), with each row's track."""
    have = [(t, rows) for t, rows in enumerate(per_track) if rows is not None and len(rows)]
    if not have:
        return KindInput(params, np.zeros((0,), np.float32), np.zeros(0, np.int32))
    return KindInput(params, np.concatenate([rows for _, rows in have]),
                     np.concatenate([np.full(len(rows), t, np.int32) for t, rows in have]))


def _extract(dataset, mfcc, image, musicnn, entry, workers, progress, device, vectors=None, inputs=None) -> FeatureSet:
    t0 = time.perf_counter()
    rows = dataset.tracks if image.wanted else dataset.tracks_for(needs_audio=True)
    rows = rows.reset_index(drop=True)
    if rows.empty:
        raise DatasetError(f"{dataset.root}: no track has audio (pictures only): only the image models can "
                           "train on this folder")
    inputs = inputs or {}
    jobs = [(i, r.audio_path, r.image_path, mfcc, image, musicnn, device, vectors, inputs)
            for i, r in enumerate(rows.itertuples())]
    workers = workers or min(4, os.cpu_count() or 1)
    # Outputs are allocated once, up front, and each track is copied in as it
    # arrives: the per-track temporaries die young and memory stays flat. (musicnn's
    # patches, when asked for, are gathered per track: their count is known only
    # once a clip is decoded.)
    n = len(jobs)
    mfcc_out = np.empty((n, mfcc.n_segments, mfcc.frames_per_segment, mfcc.n_mfcc), np.float32)
    img_shape = (image.size, image.size, 3) if image.wanted else (0, 0, 3)
    image_out = np.zeros((n, *img_shape), np.uint8)
    n_segs, n_patches = np.zeros(n, np.int64), np.zeros(n, np.int64)
    padded, padded_patch, usable = np.zeros(n, bool), np.zeros(n, bool), np.zeros(n, bool)
    patches: list[np.ndarray | None] = [None] * n
    vector_names = vectors.names() if vectors is not None else []
    vector_out = np.zeros((n, len(vector_names)), np.float32)
    n_vectors = np.zeros(n, np.int64)
    sources: list[str | None] = [None] * n
    own_rows: dict[str, list] = {name: [None] * n for name in inputs}
    own_padded = {name: np.zeros(n, bool) for name in inputs}
    failed: list[tuple[str, str]] = []
    notes: list[tuple[str, str]] = []
    for got in _run_jobs(jobs, workers, progress):
        i, track = got.index, rows.at[got.index, "track_id"]
        for note in got.notes:
            notes.append((track, note))
            log.warning("%s: %s", track, note)
        if got.error:
            failed.append((track, got.error))
            log.warning("skipped %s: %s", track, got.error)
            continue
        usable[i] = True
        if got.mfcc is not None:
            n_segs[i] = len(got.mfcc)
            mfcc_out[i, : len(got.mfcc)] = got.mfcc
        if got.patches is not None:
            n_patches[i], patches[i] = len(got.patches), got.patches
        if got.vector is not None:
            n_vectors[i], vector_out[i] = 1, got.vector
        for name, (rows_of_kind, was_padded) in got.own.items():
            own_rows[name][i], own_padded[name][i] = rows_of_kind, was_padded
        image_out[i] = got.image
        sources[i], padded[i], padded_patch[i] = got.image_source, got.padded, got.padded_patch
    ok = np.flatnonzero(usable)
    if len(ok) == 0:
        raise DatasetError(f"{dataset.root}: none of the {len(jobs)} tracks could be decoded")
    tracks = rows.loc[ok, ["track_id", "genre", "label"]].reset_index(drop=True)
    tracks["n_segments"] = n_segs[ok]
    tracks["n_patches"] = n_patches[ok]
    tracks["image_source"] = [sources[i] for i in ok]
    tracks["padded"] = padded[ok]
    tracks["padded_patch"] = padded_patch[ok]
    if vectors is not None:
        tracks["n_vectors"] = n_vectors[ok]
        seconds = pd.to_numeric(rows.loc[ok, "duration"], errors="coerce").to_numpy()
        tracks["padded_vector"] = seconds < SHORT_SECONDS
    for name in inputs:
        tracks[f"padded_{name}"] = own_padded[name][ok]
    seg_mask = np.arange(mfcc.n_segments)[None, :] < n_segs[ok][:, None]
    patch_shape = (musicnn.patch_frames, musicnn.n_mels) if musicnn else (0, 0)
    kept = [patches[i] for i in ok if patches[i] is not None]
    fs = FeatureSet(
        dataset_label=dataset.label,
        fingerprint=dataset.fingerprint,
        mfcc_params=mfcc,
        image_params=image,
        musicnn_params=musicnn,
        tracks=tracks,
        mfcc=mfcc_out[ok][seg_mask],
        seg_track=np.repeat(np.arange(len(ok), dtype=np.int32), n_segs[ok]),
        seg_index=np.concatenate([np.arange(k, dtype=np.int16) for k in n_segs[ok]]),
        images=image_out[ok] if len(ok) < n else image_out,
        patches=np.concatenate(kept) if kept else np.zeros((0, *patch_shape), np.float32),
        patch_track=np.repeat(np.arange(len(ok), dtype=np.int32), n_patches[ok]),
        vectors=vector_out[ok] if vectors is not None else np.zeros((0, 0), np.float32),
        vector_params=vectors, vector_names=vector_names, vector_source="audio" if vectors is not None else None,
        inputs={name: _gathered(params, [own_rows[name][i] for i in ok]) for name, params in inputs.items()},
        failed=failed,
        notes=notes,
        path=entry,
        cache_hit=False,
        seconds=time.perf_counter() - t0,
    )
    del mfcc_out, patches, kept
    _save(entry, fs)
    return fs
