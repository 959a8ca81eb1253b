"""A map of how a run hears its dataset: every track of the dataset the run trained on,
placed in 2-D by what the model makes of it, coloured by genre or by prediction, with its
test set's errors marked.

A track's **embedding** is what the model's last layer reads, averaged over the track's
samples: the input of its last linear layer (the penultimate layer of a network,
musicnn's and the Transformer's pooled embedding under their head, the standardised
feature vector under a feature model's linear layer); a model with no linear layer (the
scikit-learn baselines) is mapped by its input, the feature vector itself. The map is
PCA (to 50 dimensions) then t-SNE (scikit-learn; UMAP would be a new dependency for a
picture t-SNE draws well at GTZAN's size), computed once per run and dataset and cached in
the studio home (``maps/``): a second drawing reads a small JSON file.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import StudioError

#: The map's own version: a cached map of another version is made again.
MAP_VERSION = 1
PCA_DIMENSIONS = 50


def maps_dir() -> Path:
    from ..paths import studio_home

    return studio_home() / "maps"


def _cache_file(store, run_id: str, record) -> Path:
    ckpt = store.checkpoint_path(run_id)
    stamp = ckpt.stat().st_mtime_ns if ckpt.is_file() else 0
    key = json.dumps([MAP_VERSION, run_id, (record.get("dataset") or {}).get("fingerprint"), stamp])
    return maps_dir() / f"{run_id}-{hashlib.sha1(key.encode()).hexdigest()[:12]}.json"


def _last_linear(model):
    from torch import nn

    found = None
    for m in model.modules():
        if isinstance(m, nn.Linear):
            found = m
    return found


def track_embeddings(store, run_id: str, device: str = "cpu", progress: Callable | None = None,
                     batch: int = 64, data_path: str | None = None) -> dict:
    """Each track of the run's dataset: its id, genre, embedding (mean over its samples)
    and the run's probabilities (mean over its samples, as the track level averages them)."""
    import torch

    from ..feature_cache import feature_request, load_features
    from ..inference import load_run_model
    from ..models import get_spec
    from .cells import run_dataset

    record = store.read(run_id)
    spec, ds = run_dataset(record, data_path)
    fs = load_features(ds, **feature_request(spec.config.model, spec.image_source))
    mspec = get_spec(spec.config.model)
    kind = mspec.kind
    fs = fs.for_kind(kind.name)
    samples, sample_track = kind.samples(fs)
    prep = kind.batch_prep(mspec)
    model, _ = load_run_model(store, run_id, device)
    layer = _last_linear(model)
    seen: list = []
    hook = layer.register_forward_hook(lambda m, inp, out: seen.append(inp[0].detach().float().flatten(1).cpu())) \
        if layer is not None else None
    embs, probs = [], []
    n = len(samples)
    try:
        with torch.no_grad():
            for start in range(0, n, batch):
                x = torch.from_numpy(np.ascontiguousarray(samples[start:start + batch])).to(device)
                seen.clear()
                logits = model(prep(x))
                probs.append(torch.softmax(logits.float(), 1).cpu().numpy())
                embs.append(seen[-1].numpy() if seen else x.float().flatten(1).cpu().numpy())
                if progress:
                    progress(min(start + batch, n), n, "running the model over every track")
    finally:
        if hook is not None:
            hook.remove()
    emb, pr = np.concatenate(embs), np.concatenate(probs)
    groups = np.asarray(sample_track)
    ids, inverse = np.unique(groups, return_inverse=True)
    counts = np.bincount(inverse, minlength=len(ids))[:, None]
    t_emb = np.zeros((len(ids), emb.shape[1])), np.zeros((len(ids), pr.shape[1]))
    np.add.at(t_emb[0], inverse, emb)
    np.add.at(t_emb[1], inverse, pr)
    tracks = fs.tracks.reset_index(drop=True)
    return {"tracks": [str(tracks.at[int(g), "track_id"]) for g in ids],
            "genres": [str(tracks.at[int(g), "genre"]) for g in ids],
            "embeddings": t_emb[0] / counts, "probs": t_emb[1] / counts,
            "layer": "the input of its last linear layer" if layer is not None else "its input (no linear layer)"}


def project(embeddings: np.ndarray, seed: int = 0) -> np.ndarray:
    """PCA to at most 50 dimensions, then t-SNE to 2 (perplexity 30, or less for a small set)."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    x = np.asarray(embeddings, dtype=np.float64)
    n = len(x)
    if n < 4:
        return np.c_[np.arange(n, dtype=float), np.zeros(n)]
    sd = x.std(0)
    x = (x - x.mean(0)) / np.where(sd > 0, sd, 1)
    dims = min(PCA_DIMENSIONS, n - 1, x.shape[1])
    x = PCA(n_components=dims, random_state=seed).fit_transform(x) if dims < x.shape[1] else x
    tsne = TSNE(n_components=2, perplexity=float(min(30, (n - 1) / 3)), init="pca", random_state=seed,
                learning_rate="auto")
    return tsne.fit_transform(x)


def cached_map(store, run_id: str) -> dict | None:
    """The run's map when it is cached (nothing is computed), else None."""
    cache = _cache_file(store, run_id, store.read(run_id))
    try:
        return json.loads(cache.read_text()) if cache.is_file() else None
    except (OSError, ValueError):
        return None


def run_map(store, run_id: str, device: str = "cpu", progress: Callable | None = None, rebuild: bool = False,
            data_path: str | None = None) -> dict:
    """The run's map (cached per run, dataset and checkpoint): ``{"run_id", "layer",
    "seconds", "tracks": [{"track", "genre", "pred", "x", "y", "probs", "part", "error"}]}``;
    ``part``: "test", "seen" (trained or chosen on) or "" (neither: another protocol's
    leftovers); ``error``: a test track the run got wrong (its kept test prediction)."""
    from .. import GENRES
    from .cells import ensure_test_predictions

    record = store.read(run_id)
    cache = _cache_file(store, run_id, record)
    if cache.is_file() and not rebuild:
        try:
            return json.loads(cache.read_text())
        except (OSError, ValueError):
            pass  # damaged: made again
    t0 = time.perf_counter()
    made = track_embeddings(store, run_id, device, progress, data_path=data_path)
    if progress:
        progress(0, 1, "placing the tracks in 2-D (PCA, t-SNE)")
    xy = project(made["embeddings"])
    try:
        test = {t["track"]: t for t in ensure_test_predictions(store, run_id, device, data_path=data_path)["tracks"]}
    except StudioError:
        test = {}
    seen = set((record.get("split") or {}).get("seen_tracks") or [])
    rows = []
    for k, track in enumerate(made["tracks"]):
        t = test.get(track)
        pred = GENRES[t["pred"]] if t else GENRES[int(np.argmax(made["probs"][k]))]
        rows.append({"track": track, "genre": made["genres"][k], "pred": pred,
                     "x": round(float(xy[k, 0]), 4), "y": round(float(xy[k, 1]), 4),
                     "probs": [round(float(p), 4) for p in (t["probs"] if t else made["probs"][k])],
                     "part": "test" if t else "seen" if track in seen else "",
                     "error": bool(t and t["pred"] != t["true"])})
    out = {"run_id": run_id, "version": MAP_VERSION, "layer": made["layer"],
           "dimensions": int(made["embeddings"].shape[1]), "seconds": round(time.perf_counter() - t0, 3),
           "tracks": rows}
    cache.parent.mkdir(parents=True, exist_ok=True)
    from ..fileio import atomic_write_json

    atomic_write_json(cache, out)
    if progress:
        progress(1, 1, "done")
    return out
