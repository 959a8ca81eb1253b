"""Generalisation beyond GTZAN, as a TEST only: the shipped starters and Predict's
default answer on ../shared/data/real-music (nothing is chosen, tuned or weighted here).

    python bench/real_music.py

The songs counted are those whose genre hint (the folder's README table) is one of
GTZAN's ten, leaving out the ten 5 s GTZAN segments (``NNN_NN_original.wav``: GTZAN
tracks, maybe trained on). The hint is what the source or file name says, not ground
truth. Prints one line per song and the accuracy of each starter and of the default answer.
"""

import re

from _common import ROOT

FOLDER = ROOT.parent / "shared" / "data" / "real-music"


def songs() -> list[tuple[str, str]]:
    from gtzan_core import GENRES

    out = []
    for line in (FOLDER / "README.md").read_text().splitlines():
        m = re.match(r"\| `([^`]+)` \| ([^|]+?) \|", line)
        if m and m.group(2) in GENRES and not m.group(1).endswith("_original.wav"):
            out.append((m.group(1), m.group(2)))
    return out


def main():
    from gtzan_core.inference import default_selection, predict
    from gtzan_core.runs import RunStore

    store = RunStore(ROOT / "checkpoints")
    run_ids, missing = default_selection(store)
    for rid, why in missing.items():
        print(f"left out (weights absent): {rid}: {why}")
    hits = {rid: 0 for rid in run_ids} | {"answer": 0}
    listed = songs()
    for name, genre in listed:
        pred = predict(FOLDER / name, run_ids, store, unavailable=missing)
        answer = pred.answer()
        tops = {rid: r.top for rid, r in pred.results.items()} | {"answer": answer.top}
        for key, top in tops.items():
            hits[key] += top == genre
        shown = "  ".join(f"{k.replace('starter-gtzan-', '')}={v}" for k, v in tops.items())
        print(f"{name:70s} {genre:9s} {shown}", flush=True)
    print(f"\n{len(listed)} songs (genre hint one of GTZAN's ten; GTZAN's own segments left out) — a test, not a choice:")
    for key, n in hits.items():
        print(f"  {key}: {n}/{len(listed)} = {100 * n / len(listed):.1f} %")


if __name__ == "__main__":
    main()
