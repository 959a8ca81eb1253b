"""Commands that help hear what the numbers mean: ``repeats`` (a dataset's repeated
recordings) and ``map`` (how a run hears its dataset, in 2-D)."""

from __future__ import annotations

import json
import sys

from .common import progress_bar

#: Protocols whose split ``repeats`` checks for copies on both sides.
CHECKED_PROTOCOLS = ("paper", "track", "filtered")


def cmd_repeats(args) -> int:
    from ..errors import StudioError
    from ..insight import repeats

    with progress_bar("features", "track") as p:
        ids, genres, x = repeats.dataset_vectors(args.data, progress=p)
    found = repeats.find_repeats(ids, genres, x, args.fraction)
    splits = {}
    for protocol in CHECKED_PROTOCOLS:
        try:
            parts = repeats.protocol_parts(ids, genres, protocol)
        except StudioError as exc:  # the artist-filtered lists on other data than GTZAN
            splits[protocol] = {"skipped": str(exc)}
            continue
        both = repeats.straddling(found, parts)
        splits[protocol] = {"groups_split": len(both), "test_and_seen": sum(g["test_and_seen"] for g in both),
                            "groups": both}
    runs = {}
    if args.run:
        from ..insight import cells
        from ..runs import RunStore

        store = RunStore(args.runs)
        for rid in dict.fromkeys(args.run):
            kept = cells.ensure_test_predictions(store, rid, progress=lambda m: print(m, file=sys.stderr))
            runs[rid] = repeats.errors_on_repeats(found, kept)
    if args.json:
        print(json.dumps({**found.as_dict(), "splits": splits, "runs": runs}, indent=2))
        return 0
    print(f"{len(found.pairs)} pairs of copies ({len(found.groups)} recordings filed more than once) among "
          f"{found.tracks} tracks: feature distance below {found.fraction:g} x the median nearest-neighbour "
          f"distance ({found.threshold:.3f} of {found.median_nn:.3f}; {found.features} standardised features)")
    for p in found.pairs:
        flag = "  ACROSS GENRES: one copy is mislabelled" if p.across_genres else ""
        kind = "identical features" if p.identical else f"distance {p.distance:.3f} ({p.relative:.2f} x median)"
        print(f"  {p.a:<16} {p.b:<16} {kind}{flag}")
    for protocol, s in splits.items():
        if "skipped" in s:
            print(f"split {protocol}: not checked ({s['skipped']})")
        else:
            how = {"paper": "its 80:20, random_state 42", "filtered": "the artist-filtered lists"}.get(protocol,
                                                                                                 "seed 0")
            print(f"split {protocol} ({how}): {s['groups_split']} recording(s) with copies in two parts, "
                  f"{s['test_and_seen']} tested with a copy trained or chosen on")
    for rid, r in runs.items():
        print(f"run {rid}: {r['errors_repeated']} of its {r['errors']} test errors fall on the "
              f"{r['test_repeated']} repeated test tracks (of {r['test']}); chance would put {r['expected']:.1f} "
              f"there (p of at least as many: {r['p_more']:.3f})")
    return 0
