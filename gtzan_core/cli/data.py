"""Commands on data: ``synth``, ``download``, ``features``."""

from __future__ import annotations

import json

from .. import GENRES
from .common import image_source_counts, open_data, progress_bar


def cmd_synth(args) -> int:
    from ..data.synth import generate_demo

    with progress_bar("synthesising", "track") as p:
        out = generate_demo(args.out_dir, per_genre=args.per_genre, seconds=args.seconds, seed=args.seed, progress=p)
    print(f"wrote synthetic demo set ({args.per_genre} tracks x {len(GENRES)} genres, {args.seconds:g} s) to {out}")
    return 0


def cmd_download(args) -> int:
    from ..data.download import download_gtzan

    with progress_bar("download", "B") as p:
        out = download_gtzan(args.url, args.out, sha256=args.sha256, md5=args.md5, progress=p)
    print(f"GTZAN unpacked in {out}; use it with --data {out}")
    return 0


def cmd_features(args) -> int:
    from ..feature_cache import feature_request, load_features
    from ..features import ImageParams
    from ..inputs import default_request, get_kind

    ds = open_data(args.data)
    request = (feature_request(args.model, args.image_source) if args.model
               else {"inputs": {**default_request(args.image_source),
                                "image": ImageParams(size=args.image_size, source=args.image_source)}})
    with progress_bar("features", "track") as p:
        fs = load_features(ds, workers=args.workers, progress=p, rebuild=args.rebuild, **request)
    counts = fs.tracks.groupby("genre").size().reindex(list(GENRES), fill_value=0)
    skipped = list(ds.skipped) + list(fs.failed)
    shapes = {name: list(own.x.shape) for name, own in fs.inputs.items()}
    image = fs.params("image")
    if args.json:
        out = ds.summary()
        out.update({"extracted_tracks": int(len(fs.tracks)),
                    "inputs": {name: {"rows": int(len(own.x)), "shape": shapes[name],
                                      "padded_tracks": fs.padded_count(name)} for name, own in fs.inputs.items()},
                    "segments": (shapes.get("mfcc") or [0])[0],
                    "mfcc_shape": shapes.get("mfcc"), "image_shape": shapes.get("image"),
                    "musicnn_shape": shapes.get("musicnn"),
                    "padded": {"segments": fs.padded_count("mfcc"), "patches": fs.padded_count("musicnn")},
                    "image_style": image.style if image is not None else None,
                    "image_sources": image_source_counts(fs),
                    "failed": [{"track": t, "reason": r} for t, r in fs.failed],
                    "notes": [{"track": t, "note": n} for t, n in fs.notes],
                    "cache": str(fs.path), "cache_hit": fs.cache_hit})
        print(json.dumps(out, indent=2))
        return 0
    print(f"dataset: {ds.label}  ({ds.root}, layout {ds.layout})")
    print("tracks per genre: " + ", ".join(f"{g} {n}" for g, n in counts.items()))
    print(f"tracks: {len(fs.tracks)}   " + "   ".join(
        f"{get_kind(name).unit}s: {shape[0]} {tuple(shape[1:])} ({name})" for name, shape in shapes.items()))
    padded = {name: fs.padded_count(name) for name in fs.inputs if fs.padded_count(name)}
    if padded:
        print("short clips repeat-padded to one 3 s input: "
              + ", ".join(f"{n} tracks ({name})" for name, n in padded.items()))
    sources = image_source_counts(fs)
    if sources and image is not None:
        print(f"images: {', '.join(f'{n} {k}' for k, n in sources.items())} (style {image.style})")
    for track, note in fs.notes:
        print(f"note: {track}: {note}")
    if skipped:
        print(f"skipped {len(skipped)} file(s):")
        for path, reason in skipped:
            print(f"  {path}: {reason}")
    for w in ds.warnings:
        print(f"warning: {w}")
    state = "cache hit" if fs.cache_hit else f"extracted in {fs.seconds:.1f} s"
    print(f"cache: {fs.path} ({state})")
    return 0


def cmd_feature_agreement(args) -> int:
    from ..feature_agreement import agreement, format_table

    with progress_bar("extracting", "clip") as p:
        result = agreement(args.folder, args.csv, limit=args.limit, progress=p)
    if args.json:
        print(json.dumps({"clips": result.tracks, "columns": result.rows(),
                          "skipped": [{"file": f, "reason": r} for f, r in result.skipped]}, indent=2))
    else:
        print(format_table(result))
    return 0
