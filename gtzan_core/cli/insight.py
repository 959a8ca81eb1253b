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
            kept = cells.ensure_test_predictions(store, rid, progress=lambda m: print(m, file=sys.stderr),
                                                 data_path=args.run_data)
            runs[rid] = repeats.errors_on_repeats(found, kept)
    if args.json:
        print(json.dumps({**found.as_dict(), "splits": splits, "runs": runs}, indent=2))
        return 0
    print(f"{len(found.pairs)} pairs of copies ({len(found.groups)} recordings filed more than once) among "
          f"{found.tracks} tracks: feature distance below {found.fraction:g} x the median nearest-neighbour "
          f"distance ({found.threshold:.3f} of {found.median_nn:.3f}; {found.features} standardised features)")
    for p in found.pairs:
        flag = "  ACROSS GENRES: one copy is mislabelled" if p.across_genres else ""
        how = "identical features" if p.identical else f"distance {p.distance:.3f} ({p.relative:.2f} x median)"
        print(f"  {p.a:<16} {p.b:<16} {how}{flag}")
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


def cmd_map(args) -> int:
    """``map RUN``: the run's map of its dataset, as a table (CSV, JSON) or a picture (PNG)."""
    from ..insight import embedding_map
    from ..runs import RunStore

    store = RunStore(args.runs)
    with progress_bar("map", "item") as p:
        found = embedding_map.run_map(store, args.run_id, args.device, p, rebuild=args.rebuild, data_path=args.data)
    rows = found["tracks"]
    if args.csv:
        import csv

        with open(args.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=["track", "genre", "pred", "x", "y", "part", "error"],
                               extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
    if args.png:
        _draw_map(found, args.png)
    if args.json:
        print(json.dumps(found, indent=1))
        return 0
    errors = sum(r["error"] for r in rows)
    print(f"run {args.run_id}: {len(rows)} tracks mapped from {found['layer']} ({found['dimensions']} dimensions; "
          f"PCA then t-SNE), {sum(r['part'] == 'test' for r in rows)} in its test set, {errors} of them wrong; "
          f"made in {found['seconds']:.1f} s (cached)")
    for path in (args.csv, args.png):
        if path:
            print(f"wrote {path}")
    if not (args.csv or args.png):
        print("track,genre,pred,x,y,part,error")
        for r in rows:
            print(f"{r['track']},{r['genre']},{r['pred']},{r['x']},{r['y']},{r['part']},{int(r['error'])}")
    return 0


def _draw_map(found: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .. import GENRES

    fig, ax = plt.subplots(figsize=(8, 7), dpi=110)
    colours = plt.get_cmap("tab10")
    for k, g in enumerate(GENRES):
        pts = [r for r in found["tracks"] if r["genre"] == g]
        if pts:
            ax.scatter([r["x"] for r in pts], [r["y"] for r in pts], s=14, color=colours(k), label=g, alpha=0.8)
    wrong = [r for r in found["tracks"] if r["error"]]
    if wrong:
        ax.scatter([r["x"] for r in wrong], [r["y"] for r in wrong], s=70, facecolors="none", edgecolors="black",
                   linewidths=1.2, label="test error")
    ax.set_title(f"run {found['run_id']}: how it hears its dataset (t-SNE of {found['layer']})", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=7, markerscale=1, loc="best")
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
