"""Command line: ``python -m gtzan_core`` or ``gtzan-studio``.

Every user-facing problem exits with status 2 and a single ``error: ...`` line.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from . import GENRES, __version__
from .errors import StudioError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump
        self.exit(2, f"error: {message} (see '{self.prog} --help')\n")


def _progress(desc: str, unit: str = "it"):
    from .progress import tqdm_progress

    return tqdm_progress(desc, unit=unit)


def _open_dataset(data: str | None):
    from .data import open_dataset

    with _progress("synthesising demo set", "track") as p:
        return open_dataset(data, progress=p)


# --------------------------------------------------------------------------- commands


def cmd_synth(args) -> int:
    from .data.synth import generate_demo

    with _progress("synthesising", "track") as p:
        out = generate_demo(args.out_dir, per_genre=args.per_genre, seconds=args.seconds, seed=args.seed, progress=p)
    print(f"wrote synthetic demo set ({args.per_genre} tracks x {len(GENRES)} genres, {args.seconds:g} s) to {out}")
    return 0


def cmd_download(args) -> int:
    from .data.download import download_gtzan

    with _progress("download", "B") as p:
        out = download_gtzan(args.url, args.out, sha256=args.sha256, md5=args.md5, progress=p)
    print(f"GTZAN unpacked in {out}; use it with --data {out}")
    return 0


def cmd_features(args) -> int:
    from .feature_cache import load_features
    from .features import ImageParams

    ds = _open_dataset(args.data)
    with _progress("features", "track") as p:
        fs = load_features(ds, image=ImageParams(size=args.image_size), workers=args.workers, progress=p,
                           rebuild=args.rebuild)
    counts = fs.tracks.groupby("genre").size().reindex(list(GENRES), fill_value=0)
    skipped = list(ds.skipped) + list(fs.failed)
    if args.json:
        out = ds.summary()
        out.update({"extracted_tracks": int(len(fs.tracks)), "segments": int(len(fs.mfcc)),
                    "mfcc_shape": list(fs.mfcc.shape), "image_shape": list(fs.images.shape),
                    "failed": [{"track": t, "reason": r} for t, r in fs.failed],
                    "cache": str(fs.path), "cache_hit": fs.cache_hit})
        print(json.dumps(out, indent=2))
        return 0
    print(f"dataset: {ds.label}  ({ds.root}, layout {ds.layout})")
    print("tracks per genre: " + ", ".join(f"{g} {n}" for g, n in counts.items()))
    print(f"tracks: {len(fs.tracks)}   segments: {len(fs.mfcc)}   MFCC {tuple(fs.mfcc.shape[1:])}   "
          f"images {tuple(fs.images.shape[1:])}")
    if skipped:
        print(f"skipped {len(skipped)} file(s):")
        for path, reason in skipped:
            print(f"  {path}: {reason}")
    for w in ds.warnings:
        print(f"warning: {w}")
    state = "cache hit" if fs.cache_hit else f"extracted in {fs.seconds:.1f} s"
    print(f"cache: {fs.path} ({state})")
    return 0


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    from .data.download import DEFAULT_URL
    from .data.synth import DEFAULT_PER_GENRE, DEFAULT_SECONDS, DEFAULT_SEED

    parser = _Parser(prog="gtzan-studio", description="GTZAN Genre Studio: music-genre classification.")
    parser.add_argument("--version", action="version", version=f"gtzan-studio {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("synth", help="write the synthetic demo set (GTZAN layout) to a folder")
    p.add_argument("out_dir")
    p.add_argument("--per-genre", type=int, default=DEFAULT_PER_GENRE, help="tracks per genre")
    p.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="length of each track")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("download", help="download and unpack GTZAN (needs internet)")
    p.add_argument("--url", default=DEFAULT_URL)
    p.add_argument("--out", default="gtzan", help="target folder")
    p.add_argument("--sha256", help="expected SHA-256 of the archive")
    p.add_argument("--md5", help="expected MD5 of the archive")
    p.set_defaults(func=cmd_download)

    p = sub.add_parser("features", help="extract and cache MFCCs and spectrogram images")
    p.add_argument("--data", help="GTZAN folder (default: the synthetic demo set)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--rebuild", action="store_true", help="ignore the cache")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_features)

    for register in _EXTRA_COMMANDS:
        register(sub)
    return parser


_EXTRA_COMMANDS: list = []


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR, format="%(levelname)s: %(message)s")
    try:
        return args.func(args) or 0
    except StudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
