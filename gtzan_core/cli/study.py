"""The feature study command: ``features-study``."""

from __future__ import annotations

import json
import shlex

from .common import progress_bar

#: Published figures the study's table is read beside.
ANCHORS = ("MFCC + SVM on the artist-filtered split: 53.4 % (Kereliuk & Sturm's protocol); "
           "Tzanetakis & Cook 2002: 61 % (random 10-fold cross-validation)")


def add_parser(sub) -> None:
    from ..reproduction.feature_study import MODEL_FAMILIES, PROTOCOLS, STEP_LABELS

    p = sub.add_parser("features-study", help="which audio-feature groups help: MFCC only, + chroma, + spectral, "
                                              "+ rhythm, all, for four classic model families, over seeds")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--csv", help="a Kaggle-style feature table (features_30_sec.csv: filename, label, features)")
    source.add_argument("--data", help="a folder of audio (any layout --data takes): the studio extracts the vectors "
                                       "itself (cached in the studio home), the groups beyond Kaggle included")
    p.add_argument("--protocols", nargs="+", choices=list(PROTOCOLS), default=None,
                   help="track (70/15/15 stratified, seeded) and/or filtered (the artist-filtered split); default: "
                        "both for --csv, track for --data")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (mean ± sd; default 3)")
    p.add_argument("--models", nargs="+", choices=list(MODEL_FAMILIES), help="only these model families")
    p.add_argument("--features", nargs="+", choices=list(STEP_LABELS), help="only these feature sets")
    p.add_argument("--rebuild", action="store_true", help="--data: extract again, ignoring the cache")
    p.add_argument("--out", help="the result file to write (default: a new file in $GTZAN_STUDIO_HOME/results)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_features_study)


def study_command(args, protocols: list[str]) -> str:
    """The command line that remakes this study (the options that change its figures)."""
    parts = ["python", "-m", "gtzan_core", "features-study"]
    parts += ["--csv", args.csv] if args.csv else ["--data", args.data]
    parts += ["--protocols", *protocols, "--seeds", str(args.seeds)]
    if args.models:
        parts += ["--models", *args.models]
    if args.features:
        parts += ["--features", *args.features]
    if args.out:
        parts += ["--out", args.out]
    return shlex.join(parts)


def cmd_features_study(args) -> int:
    from ..reproduction.feature_study import (
        audio_feature_table,
        display_table,
        read_feature_table,
        run_study,
        study_result,
    )
    from ..reproduction.result_files import write_result

    if args.csv:
        table = read_feature_table(args.csv)
    else:
        with progress_bar("extracting features", "clip") as p:
            table = audio_feature_table(args.data, progress=p, rebuild=args.rebuild)
    protocols = args.protocols or (["track", "filtered"] if args.csv else ["track"])
    with progress_bar("fitting", "fit") as p:
        rows = run_study(table, protocols, seeds=args.seeds, models=args.models, steps=args.features, progress=p)
    doc = study_result(rows, table, args.seeds, study_command(args, protocols), protocols)
    path = write_result(doc, args.out)
    if args.json:
        print(json.dumps({**doc, "file": str(path)}, indent=1))
        return 0
    print(f"{doc['title']}: {table.description}")
    for protocol in protocols:
        shown = display_table(doc, protocol).drop(columns="protocol")
        sizes = next(r for r in rows if r["protocol"] == protocol)
        print(f"\n{protocol} protocol (train/val/test tracks {sizes['n_train']}/{sizes['n_val']}/{sizes['n_test']}; "
              f"test accuracy, validation beside it, mean ± sd over seeds 0-{args.seeds - 1}):")
        print(shown.to_string(index=False))
    print(f"\nanchors: {ANCHORS}")
    print(f"result: {path}")
    return 0
