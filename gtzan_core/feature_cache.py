"""Extract the model inputs of a whole dataset once, in parallel, and cache them.

What is extracted is a *request*: input kind name -> that kind's parameters
(:func:`feature_request` asks a model's kind; :func:`load_features` takes one).
Each file is decoded once at its own rate and handed to every requested kind, which
derives its own rows (``InputKind.extract_track``: it resamples, cuts, pads and
says which rows it made); this module stores, keys and checks them without knowing
what they are. A dataset's features are a mapping from kind to that kind's rows
(:attr:`FeatureSet.inputs`); a track is kept when some kind made rows of it, and the
tracks a kind can read are those it has rows for (:meth:`FeatureSet.for_kind`). A
feature table (no audio) is read by the kinds that can read one
(``InputKind.from_table``).

The cache lives in ``$GTZAN_STUDIO_HOME/features/<origin>-<key>/`` (origin: ``gtzan``
or ``synthetic``) where ``key`` hashes the dataset fingerprint (paths, sizes, mtimes),
each requested kind's parameters and its extractor version: changing any of them
selects a new entry. An entry is built in a temporary folder and renamed into place in
one step, and ``meta.json`` records a checksum of every array, so a torn or corrupt
entry is detected and rebuilt rather than trusted.
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
from .inputs import KINDS, default_request, get_kind
from .inputs.base import KindRows, TrackSource
from .locks import file_lock
from .paths import feature_cache_dir
from .progress import report

log = logging.getLogger(__name__)

#: 4: every kind's rows in ``inputs`` (one array and its tracks a kind), extracted only when requested
EXTRACTOR_VERSION = 4


@dataclass
class FeatureSet:
    """Everything the trainers need, as arrays.

    ``tracks``: one row per extracted track (track_id, genre, label, and per kind
    ``n_<kind>``, ``padded_<kind>`` and what else its kind records a track). ``inputs``:
    kind name -> :class:`~gtzan_core.inputs.base.KindRows` (``x[i]`` belongs to track
    ``track[i]``). :meth:`for_kind` keeps the tracks one kind can read.
    """

    dataset_label: str
    fingerprint: str
    tracks: pd.DataFrame
    inputs: dict[str, KindRows] = field(default_factory=dict)
    failed: list[tuple[str, str]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)  # (track_id, what happened), e.g. an unreadable file
    path: Path | None = None
    cache_hit: bool = False
    seconds: float = 0.0

    @property
    def track_labels(self) -> np.ndarray:
        return self.tracks["label"].to_numpy(np.int64)

    def rows(self, name: str) -> KindRows:
        """The rows of input kind ``name``; :class:`ConfigError` naming how to load them when absent."""
        own = self.inputs.get(name)
        if own is None:
            raise ConfigError(f"these features were extracted without the {name} input "
                              f"(load them with the request of a model that reads it: feature_request(MODEL))")
        return own

    def params(self, kind: str):
        """The parameters input ``kind`` was extracted with (None: not extracted)."""
        own = self.inputs.get(kind)
        return own.params if own is not None else None

    def samples(self, kind: str) -> tuple[np.ndarray, np.ndarray]:
        """The samples of input ``kind`` and the track of each."""
        own = self.rows(kind)
        return own.x, own.track

    def has(self, kind: str) -> np.ndarray:
        """Per track: whether it has input of ``kind``."""
        own = self.inputs.get(kind)
        if own is None:
            return np.zeros(len(self.tracks), bool)
        return np.bincount(own.track, minlength=len(self.tracks)) > 0

    def padded_count(self, kind: str) -> int:
        """Tracks whose one ``kind`` input is a repeat-padded short clip."""
        col = f"padded_{kind}"
        return int(self.tracks[col].sum()) if col in self.tracks else 0

    def record_params(self) -> dict:
        """What a run trained on these features records of their parameters (each kind says
        under which keys: ``InputKind.record_params``)."""
        out: dict = {}
        for name, own in self.inputs.items():  # the first kind to record a key wins (requested first)
            for key, value in get_kind(name).record_params(own.params).items():
                out.setdefault(key, value)
        return out

    def for_kind(self, kind: str) -> FeatureSet:
        """The tracks that have input of ``kind``, re-indexed (itself when all have)."""
        keep = self.has(kind)
        if keep.all():
            return self
        if not keep.any():
            raise ConfigError(f"this dataset ({self.dataset_label}) has no {get_kind(kind).missing_what}"
                              + self._held_note(kind))
        new_index = np.cumsum(keep) - 1
        return dataclasses.replace(self, tracks=self.tracks[keep].reset_index(drop=True),
                                   inputs={name: own.keep(keep, new_index) for name, own in self.inputs.items()})

    def _held_note(self, kind: str) -> str:
        """What the dataset holds instead, when a kind that needs audio finds none."""
        if not get_kind(kind).needs_audio:
            return ""
        held = [get_kind(name).held_words for name in self.inputs if self.has(name).any()]
        held = [h for h in held if h]
        return f": it holds {held[0]}" if held else ""


def feature_request(model: str | None, source: str = "auto") -> dict:
    """What :func:`load_features` must extract for ``model`` (its input kind says), as
    ``{"inputs": {kind name: parameters}}``; ``source`` is where a kind with a choice reads
    from (the dataset's own files when present, ``auto``, or always drawn from the audio)."""
    from .models import get_spec

    if not model:
        return {"inputs": default_request(source)}
    spec = get_spec(model)
    return {"inputs": spec.kind.feature_request(spec, source)}


def request_key(request: dict) -> str:
    """One string per distinct request (what :func:`feature_request` returns): runs that ask
    for the same features share one load."""
    inputs = request.get("inputs", request)
    return json.dumps({name: params.as_dict() for name, params in sorted(inputs.items())}, sort_keys=True)


def cache_key(dataset: Dataset, inputs: dict) -> str:
    what = {"fingerprint": dataset.fingerprint, "version": EXTRACTOR_VERSION,
            "inputs": {name: {**params.as_dict(), "version": get_kind(name).version}
                       for name, params in sorted(inputs.items())}}
    blob = json.dumps(what, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


@dataclass
class TrackInputs:
    """What :func:`extract_track` made of one track (``error`` set: nothing usable)."""

    index: int
    rows: dict[str, KindRows] = field(default_factory=dict)  # kind -> its rows of this track (track index 0)
    error: str | None = None
    notes: list[str] = field(default_factory=list)


def _present(path) -> str | None:
    """A path from the track table, or None (pandas holds a missing path as NaN)."""
    return str(path) if isinstance(path, (str, os.PathLike)) and str(path) else None


def extract_track(job: tuple) -> TrackInputs:
    """Worker: (index, the track's row of the dataset's table, request, device) -> :class:`TrackInputs`.

    The audio is decoded once (as far as the longest-reaching kind reads) and every
    requested kind derives its rows from it (a kind may also read the track's other files,
    named in its row); a kind that needs audio makes none for a track without. A track
    fails when a kind cannot read it or no kind made anything."""
    i, row, request, device = job
    files = {k: _present(v) for k, v in row.items() if k.endswith("_path")}
    audio_path = files.get("audio_path")
    out = TrackInputs(i)
    name = Path(audio_path or next((f for f in files.values() if f), None) or "?").name
    try:
        decoded = None
        if audio_path is not None:
            seconds = max(get_kind(k).decode_seconds(p) for k, p in request.items())
            decoded = decode_audio(audio_path, max_seconds=seconds)
            out.notes += decoded.warnings
        source = TrackSource(decoded, files, name, out.notes, device, request)
        for kind_name, params in request.items():
            got = get_kind(kind_name).extract_track(source, params)
            if got is not None:
                out.rows[kind_name] = got
        if not out.rows:
            raise AudioError(f"{name}: no input could be made of it (no audio)")
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
        for name, own in fs.inputs.items():
            for suffix, arr in (("", own.x), ("-track", own.track)):
                with open(tmp / f"input-{name}{suffix}.npy", "wb") as f:  # streamed: no in-memory copy
                    np.save(f, arr)
                sums[f"input-{name}{suffix}"] = _sha(arr)
        meta = {
            "version": EXTRACTOR_VERSION,
            "dataset": fs.dataset_label,
            "fingerprint": fs.fingerprint,
            "inputs": {name: {"params": own.params.as_dict(), "info": own.info} for name, own in fs.inputs.items()},
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


def _load(entry: Path, inputs: dict) -> FeatureSet | None:
    """Load a cache entry, or ``None`` when it is missing, torn or corrupt."""
    try:
        meta = json.loads((entry / "meta.json").read_text())
        arrays = {}
        for name in (f"input-{n}{suffix}" for n in inputs for suffix in ("", "-track")):
            arr = np.load(entry / f"{name}.npy", allow_pickle=False)
            if _sha(arr) != meta["checksums"][name]:
                raise ValueError(f"checksum mismatch in {name}.npy")
            arrays[name] = arr
        tracks = pd.DataFrame(meta["tracks"])
        info = {n: dict(meta["inputs"][n].get("info") or {}) for n in inputs}
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
        if entry.exists():
            log.warning("feature cache %s is unusable (%s); rebuilding", entry, exc)
        return None
    return FeatureSet(
        dataset_label=meta["dataset"], fingerprint=meta["fingerprint"], tracks=tracks,
        inputs={n: KindRows(p, arrays[f"input-{n}"], arrays[f"input-{n}-track"], info[n]) for n, p in inputs.items()},
        failed=[tuple(f) for f in meta["failed"]], notes=[tuple(n) for n in meta.get("notes", [])],
        path=entry, cache_hit=True, seconds=meta.get("seconds", 0.0))


def load_features(
    dataset: Dataset,
    inputs: dict | None = None,
    workers: int | None = None,
    progress=None,
    cache_dir: str | Path | None = None,
    rebuild: bool = False,
    device: str = "cpu",
    **kinds,
) -> FeatureSet:
    """Each requested input kind's rows of every track of ``dataset``.

    ``inputs`` (kind name -> parameters; :func:`feature_request` makes it for a model) is
    what is extracted; without it, the studio's default request
    (:func:`gtzan_core.inputs.default_request`; for a feature table, every kind that reads
    one) with each ``kinds`` keyword (a kind's name) set to the given parameters (None drops
    the kind). A kind whose parameters say it is not
    wanted (``InputKind.wanted``) is left out. A feature table (``dataset.table``) is read
    as it is, by the kinds that read tables.

    Served from the cache when an intact entry exists; otherwise extracted (on
    ``device``, e.g. ``cuda``, where a kind can) with ``workers`` threads (default: the
    CPU cores, at most 4) and cached. Tracks that fail to decode are listed in ``failed``
    with the reason and left out.
    """
    if inputs is not None:
        request = dict(inputs)
    elif dataset.table is not None:  # a feature table: every kind that reads one
        request = {**{name: KINDS[name].params() for name in KINDS if KINDS[name].reads_tables}, **kinds}
    else:
        request = {**default_request(), **kinds}
    for name in list(request):
        kind = get_kind(name)  # an unknown kind is named here
        if request[name] is None or not kind.wanted(request[name]):
            del request[name]
    if not request:
        raise ConfigError("nothing to extract: the request names no input kind")
    if dataset.table is not None:
        return _from_table(dataset, request)
    key = cache_key(dataset, request)
    entry = Path(cache_dir or feature_cache_dir()) / f"{dataset.origin}-{key}"
    if not rebuild:
        cached = _load(entry, request)
        if cached is not None:
            return cached
    # One builder per entry across processes: a second process waits, then reads
    # what the first one wrote instead of extracting everything again.
    with file_lock(entry.parent / f".{entry.name}.lock"):
        if not rebuild:
            cached = _load(entry, request)
            if cached is not None:
                return cached
        return _extract(dataset, request, entry, workers, progress, device)


def _from_table(dataset: Dataset, request: dict) -> FeatureSet:
    """A feature table's FeatureSet: each kind that reads tables makes its rows (no cache)."""
    tracks = dataset.tracks[["track_id", "genre", "label"]].reset_index(drop=True).copy()
    inputs: dict[str, KindRows] = {}
    for name, params in request.items():
        got = get_kind(name).from_table(dataset, params)
        if got is None:
            continue
        inputs[name] = got
        for col, values in got.columns.items():
            tracks[col] = values
    for name in request:
        tracks[f"n_{name}"] = np.bincount(inputs[name].track, minlength=len(tracks)) if name in inputs else 0
    return FeatureSet(dataset_label=dataset.label, fingerprint=dataset.fingerprint, tracks=tracks, inputs=inputs,
                      path=None, cache_hit=True)


def _extract(dataset: Dataset, request: dict, entry: Path, workers, progress, device) -> FeatureSet:
    t0 = time.perf_counter()
    needs_audio = not any(get_kind(name).reads_files for name in request)
    rows = dataset.tracks_for(needs_audio=needs_audio).reset_index(drop=True)
    if rows.empty:
        raise DatasetError(f"{dataset.root}: no track has audio: only the models that read the dataset's own "
                           "files without it can train on this folder")
    jobs = [(i, row, request, device) for i, row in enumerate(rows.to_dict(orient="records"))]
    workers = workers or min(4, os.cpu_count() or 1)
    # each track's rows are gathered as they arrive: the per-track temporaries die young
    got_rows: dict[str, list[KindRows | None]] = {name: [None] * len(jobs) for name in request}
    usable = np.zeros(len(jobs), bool)
    failed: list[tuple[str, str]] = []
    notes: list[tuple[str, str]] = []
    for got in _run_jobs(jobs, workers, progress):
        track = rows.at[got.index, "track_id"]
        for note in got.notes:
            notes.append((track, note))
            log.warning("%s: %s", track, note)
        if got.error:
            failed.append((track, got.error))
            log.warning("skipped %s: %s", track, got.error)
            continue
        usable[got.index] = True
        for name, own in got.rows.items():
            got_rows[name][got.index] = own
    ok = np.flatnonzero(usable)
    if len(ok) == 0:
        raise DatasetError(f"{dataset.root}: none of the {len(jobs)} tracks could be decoded")
    tracks = rows.loc[ok, ["track_id", "genre", "label"]].reset_index(drop=True)
    inputs = {}
    for name, params in request.items():
        per_track = [got_rows[name][i] for i in ok]
        inputs[name] = KindRows.gather(params, per_track, get_kind(name).info(params))
        tracks[f"n_{name}"] = [len(r.x) if r is not None else 0 for r in per_track]
        tracks[f"padded_{name}"] = [bool(r is not None and r.padded) for r in per_track]
        for col in sorted({c for r in per_track if r is not None for c in r.columns}):
            tracks[col] = [r.columns.get(col) if r is not None else None for r in per_track]
    fs = FeatureSet(dataset_label=dataset.label, fingerprint=dataset.fingerprint, tracks=tracks, inputs=inputs,
                    failed=failed, notes=notes, path=entry, cache_hit=False, seconds=time.perf_counter() - t0)
    del got_rows
    _save(entry, fs)
    return fs
