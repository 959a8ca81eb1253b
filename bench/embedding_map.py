"""The map of how a run hears its dataset: first drawing, drawing from the cache, and
growth with the number of tracks.

    python bench/embedding_map.py [--data ../shared/data/gtzan-real/kaggle-csv/features_30_sec.csv]
                                  [--model feature_mlp] [--epochs 30] [--sizes 125 250 500 1000]
                                  [--home DIR]

Trains one small run on ``--data`` (default: the Kaggle table of all 1,000 real tracks,
a feature-vector model: cheap on a CPU) in a temporary studio home, then times
``gtzan_core.insight.embedding_map.run_map``: the first drawing (the model over every
track, PCA, t-SNE, the kept test predictions) and the second (the cache). Growth: the
PCA + t-SNE step alone on the first n tracks' embeddings, for each n of ``--sizes``.
``--home``: a studio home of an earlier run of this script: its run is reused (no
training) and its map made again from scratch. Run it with ``OMP_WAIT_POLICY=PASSIVE``
(what ``deploy/start.sh`` sets): t-SNE's OpenMP threads spin otherwise, and on a busy
machine the first drawing takes several times as long.
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

from _common import ROOT, machine

DEFAULT = ROOT.parent / "shared" / "data" / "gtzan-real" / "kaggle-csv" / "features_30_sec.csv"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(DEFAULT))
    ap.add_argument("--model", default="feature_mlp")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--sizes", type=int, nargs="+", default=[125, 250, 500, 1000])
    ap.add_argument("--home", help="reuse this studio home's run (made by an earlier run of this script)")
    args = ap.parse_args()
    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="bench-map-"))
    os.environ["GTZAN_STUDIO_HOME"] = str(home)
    os.environ["GTZAN_STUDIO_OFFLINE"] = "1"

    from gtzan_core.data import open_dataset
    from gtzan_core.feature_cache import feature_request, load_features
    from gtzan_core.hparams import make_config
    from gtzan_core.insight import embedding_map
    from gtzan_core.jobs import JobSpec, train
    from gtzan_core.runs import RunStore

    print(machine(), flush=True)
    store = RunStore(home / "runs")
    print(f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(default)')}")
    ds = open_dataset(args.data)
    earlier = [r for r in store.list() if r.model == args.model and r.evaluation is not None]
    if earlier:
        record = earlier[0]
        print(f"reusing run {record.run_id} of {args.home}")
    else:
        t0 = time.perf_counter()
        fs = load_features(ds, **feature_request(args.model))
        config = make_config(args.model, epochs=args.epochs, device="cpu")
        record = train(config, fs, store, dataset_info=ds.run_info(), spec=JobSpec(config, args.data))
        print(f"trained {args.model} on {len(ds.tracks)} tracks of {args.data} in {time.perf_counter() - t0:.1f} s")
    rid = record["run_id"]
    ev = record.evaluation.at("track")
    print(f"run {rid}: test accuracy {ev.accuracy:.3f} (n={ev.n})")
    t0 = time.perf_counter()
    first = embedding_map.run_map(store, rid, rebuild=True)
    t_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = embedding_map.run_map(store, rid)
    t_cached = time.perf_counter() - t0
    assert again == first
    errors = sum(r["error"] for r in first["tracks"])
    print(f"map of {len(first['tracks'])} tracks ({first['dimensions']} dimensions, {first['layer']}), "
          f"{sum(r['part'] == 'test' for r in first['tracks'])} test tracks, {errors} errors marked")
    print(f"first drawing: {t_first:.2f} s   from the cache: {t_cached * 1000:.1f} ms")
    made = embedding_map.track_embeddings(store, rid)
    for n in args.sizes:
        if n > len(made["tracks"]):
            continue
        t0 = time.perf_counter()
        embedding_map.project(made["embeddings"][:n])
        print(f"  PCA + t-SNE of {n:>5} tracks: {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()
