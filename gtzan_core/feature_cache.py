"""Extract the model inputs of a whole dataset once, in parallel, and cache them.

The cache lives in ``$GTZAN_STUDIO_HOME/features/<kind>-<key>/`` where ``key``
hashes the dataset fingerprint (paths, sizes, mtimes), the MFCC and image
parameters and the extractor version: changing any of them selects a new entry.
An entry is built in a temporary folder and renamed into place in one step, and
``meta.json`` records a checksum of every array, so a torn or corrupt entry is
detected and rebuilt rather than trusted.
"""

from __future__ import annotations

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

from .audio import load_audio
from .data.discovery import Dataset
from .errors import AudioError, DatasetError
from .features import ImageParams, MFCCParams, mfcc_segments, read_image_file, resize_image, spectrogram_input
from .paths import feature_cache_dir
from .spectrogram.kaggle import WHOLE_CLIP_SLACK
from .locks import file_lock
from .progress import report

log = logging.getLogger(__name__)

EXTRACTOR_VERSION = 2  # 2: pictures span the whole clip; picture style in the image parameters
ARRAYS = ("mfcc", "seg_track", "seg_index", "images")


@dataclass
class FeatureSet:
    """Everything the trainers need, as arrays.

    ``tracks``: one row per extracted track (track_id, genre, label, n_segments,
    image_source). ``mfcc[i]`` belongs to track ``seg_track[i]``, segment
    ``seg_index[i]``; ``images[j]`` to track ``j``.
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


def image_params_for(model: str | None, source: str = "auto") -> ImageParams:
    """The image parameters a model trains and predicts on: its own input size
    (224² VGG19, 256² ResNeXt and SqueezeNet, as in the paper's code). MFCC models
    share VGG19's entry, so one extraction serves them all."""
    from .models import get_spec

    spec = get_spec(model) if model else None
    size = spec.image_size if spec is not None and spec.image_size else ImageParams.size
    return ImageParams(size=size, source=source)


def cache_key(dataset: Dataset, mfcc: MFCCParams, image: ImageParams) -> str:
    blob = json.dumps(
        {"fingerprint": dataset.fingerprint, "mfcc": mfcc.as_dict(), "image": image.as_dict(),
         "version": EXTRACTOR_VERSION},
        sort_keys=True,
    ).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


def extract_track(job: tuple) -> tuple:
    """Worker: (index, audio path, image path, mfcc params, image params, device) ->
    (index, mfcc | None, image | None, image source, error | None, note | None).

    Under the ``auto`` source a track without a PNG, or with an unreadable one, gets a
    picture drawn from its audio in the same style (source ``render``; the note says
    why when a PNG was there but unreadable); only a track whose audio cannot be used
    fails."""
    i, audio_path, image_path, mp, ip, device = job
    if not isinstance(image_path, (str, os.PathLike)) or not str(image_path):
        image_path = None  # no PNG for this track (pandas holds a missing path as NaN)
    note = None
    try:
        # Decode a little past track_seconds: the MFCCs use the first n_segments
        # segments, the picture spans the whole GTZAN clip as the Kaggle PNGs do.
        y = load_audio(audio_path, sr=mp.sr, max_seconds=mp.track_seconds * WHOLE_CLIP_SLACK)
        mfcc = mfcc_segments(y, mp.sr, mp, max_segments=mp.n_segments, device=device)
        if ip.source == "none":
            image, source = np.zeros((0, 0, 3), np.uint8), "none"
        elif ip.source == "png" and image_path is None:
            raise AudioError(f"{Path(audio_path).name}: no spectrogram PNG (image source 'png' requested)")
        else:
            image, source = None, "render"
            if image_path is not None and ip.source in ("auto", "png"):
                try:
                    image, source = resize_image(read_image_file(image_path), ip.size), "png"
                except AudioError as exc:
                    if ip.source == "png":
                        raise
                    note = f"{exc}; drawn from the audio instead"
            if image is None:
                image = spectrogram_input(y, mp, ip)
        return i, mfcc, image, source, None, note
    except AudioError as exc:
        return i, None, None, None, str(exc), None
    except Exception as exc:  # a broken file must not stop a 1000-track run
        return i, None, None, None, f"{Path(audio_path).name}: {type(exc).__name__}: {exc}", None


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
        meta = {
            "version": EXTRACTOR_VERSION,
            "dataset": fs.dataset_label,
            "fingerprint": fs.fingerprint,
            "mfcc_params": fs.mfcc_params.as_dict(),
            "image_params": fs.image_params.as_dict(),
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


def _load(entry: Path, mfcc: MFCCParams, image: ImageParams) -> FeatureSet | None:
    """Load a cache entry, or ``None`` when it is missing, torn or corrupt."""
    try:
        meta = json.loads((entry / "meta.json").read_text())
        arrays = {}
        for name in ARRAYS:
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
        tracks=tracks, failed=[tuple(f) for f in meta["failed"]], notes=[tuple(n) for n in meta.get("notes", [])],
        path=entry, cache_hit=True,
        seconds=meta.get("seconds", 0.0), **arrays,
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
) -> FeatureSet:
    """MFCC segments and spectrogram images of every track of ``dataset``.

    Served from the cache when an intact entry exists; otherwise extracted (MFCCs on
    ``device``, e.g. ``cuda``) with
    ``workers`` threads (default: the CPU cores, at most 4) and cached. Tracks that fail to
    decode are listed in ``failed`` with the reason and left out.
    """
    mfcc = mfcc or MFCCParams()
    image = image or ImageParams()
    entry = Path(cache_dir or feature_cache_dir()) / f"{dataset.kind}-{cache_key(dataset, mfcc, image)}"
    if not rebuild:
        cached = _load(entry, mfcc, image)
        if cached is not None:
            return cached
    # One builder per entry across processes: a second process waits, then reads
    # what the first one wrote instead of extracting everything again.
    with file_lock(entry.parent / f".{entry.name}.lock"):
        if not rebuild:
            cached = _load(entry, mfcc, image)
            if cached is not None:
                return cached
        return _extract(dataset, mfcc, image, entry, workers, progress, device)


def _extract(dataset, mfcc, image, entry, workers, progress, device) -> FeatureSet:
    t0 = time.perf_counter()
    rows = dataset.tracks.reset_index(drop=True)
    jobs = [(i, r.audio_path, r.image_path, mfcc, image, device) for i, r in enumerate(rows.itertuples())]
    workers = workers or min(4, os.cpu_count() or 1)
    # Outputs are allocated once, up front, and each track is copied in as it
    # arrives: the per-track temporaries die young and memory stays flat.
    n = len(jobs)
    mfcc_out = np.empty((n, mfcc.n_segments, mfcc.frames_per_segment, mfcc.n_mfcc), np.float32)
    img_shape = (0, 0, 3) if image.source == "none" else (image.size, image.size, 3)
    image_out = np.empty((n, *img_shape), np.uint8)
    n_segs = np.zeros(n, np.int64)
    sources: list[str | None] = [None] * n
    failed: list[tuple[str, str]] = []
    notes: list[tuple[str, str]] = []
    for i, m, im, src, err, note in _run_jobs(jobs, workers, progress):
        if note:
            notes.append((rows.at[i, "track_id"], note))
            log.warning("%s: %s", rows.at[i, "track_id"], note)
        if err:
            failed.append((rows.at[i, "track_id"], err))
            log.warning("skipped %s: %s", rows.at[i, "track_id"], err)
            continue
        n_segs[i] = len(m)
        mfcc_out[i, : len(m)] = m
        image_out[i] = im
        sources[i] = src
    ok = np.flatnonzero(n_segs > 0)
    if len(ok) == 0:
        raise DatasetError(f"{dataset.root}: none of the {len(jobs)} tracks could be decoded")
    tracks = rows.loc[ok, ["track_id", "genre", "label"]].reset_index(drop=True)
    tracks["n_segments"] = n_segs[ok]
    tracks["image_source"] = [sources[i] for i in ok]
    seg_mask = np.arange(mfcc.n_segments)[None, :] < n_segs[ok][:, None]
    fs = FeatureSet(
        dataset_label=dataset.label,
        fingerprint=dataset.fingerprint,
        mfcc_params=mfcc,
        image_params=image,
        tracks=tracks,
        mfcc=mfcc_out[ok][seg_mask],
        seg_track=np.repeat(np.arange(len(ok), dtype=np.int32), n_segs[ok]),
        seg_index=np.concatenate([np.arange(k, dtype=np.int16) for k in n_segs[ok]]),
        images=image_out[ok] if len(ok) < n else image_out,
        failed=failed,
        notes=notes,
        path=entry,
        cache_hit=False,
        seconds=time.perf_counter() - t0,
    )
    del mfcc_out
    _save(entry, fs)
    return fs
