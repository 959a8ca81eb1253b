"""Memory of importing a hostile run archive: reading every member into memory first (how
imports worked before issue 24) against the studio's import (the zip's directory checked
first, the checkpoint streamed to disk in chunks).

    python bench/import_memory.py [--repeats 3] [--big-mb 256]

Two archives, each imported in a fresh process that reports its peak RSS growth over its
own baseline (modules loaded; ``tests/helpers/archives.py``'s measuring child):

- the issue's bomb: a 1 MB zip whose manifest honestly lists a 1 GB ``model.pt`` of zeros;
- a big incompressible (stored) ``model.pt`` whose checksum is wrong, which the studio
  streams whole before it can refuse it.

Last line: ``ratio:`` the reference growth / the studio's growth on the bomb (the latter
counted as at least 1 MB, below which it is noise).
"""

import argparse
import hashlib
import json
import statistics
import tempfile
import time
from pathlib import Path

from _common import machine

from tests.helpers import bomb_archive, import_growth, incompressible_archive


def small_members(run_id: str = "bench-run") -> dict[str, bytes]:
    """The small members of an archive (a record, its feature parameters, a manifest listing them)."""
    members = {"record.json": json.dumps({"run_id": run_id, "model": "cnn", "status": "finished",
                                          "created": time.time()}).encode(),
               "features.json": json.dumps({"input_kind": "mfcc"}).encode(), "model.pt": b""}
    files = {n: {"sha256": hashlib.sha256(d).hexdigest(), "size": len(d)} for n, d in members.items()}
    manifest = {"schema": "gtzan-studio-run", "version": 1, "run_id": run_id, "files": files}
    return {**members, "manifest.json": json.dumps(manifest).encode()}


def measure(path: Path, mode: str, repeats: int, work: Path) -> dict:
    """The median peak growth (MB) of ``repeats`` imports in fresh processes, their baseline and message."""
    runs = [import_growth(path, work / f"runs-{mode}-{k}", mode) for k in range(repeats)]
    return {"growth": statistics.median(r["growth_mb"] for r in runs), "base": runs[0]["base_mb"],
            "message": runs[0]["message"], "all": [round(r["growth_mb"], 1) for r in runs]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--big-mb", type=int, default=256, help="size of the incompressible checkpoint")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bomb = work / "bomb.zip"
        bomb.write_bytes(bomb_archive(small_members(), 1 << 30))
        big = incompressible_archive(small_members(), work / "big.zip", args.big_mb << 20)
        for label, path in ((f"bomb: a {bomb.stat().st_size / 2**20:.1f} MB zip, model.pt 1024 MB of zeros", bomb),
                            (f"incompressible: model.pt {args.big_mb} MB stored, wrong checksum", big)):
            ref, ours = (measure(path, mode, args.repeats, work) for mode in ("reference", "streamed"))
            results.append((ref, ours))
            print(f"{label} (each process starts at ~{ours['base']:.0f} MB)\n"
                  f"  read every member first: +{ref['growth']:.0f} MB peak RSS {ref['all']} ({ref['message']})\n"
                  f"  the studio's import:     +{ours['growth']:.1f} MB peak RSS {ours['all']} ({ours['message']})")
    # the studio's growth is counted as at least 1 MB: below that the figure is noise
    (ref, ours), (big_ref, big_ours) = results
    print(f"incompressible: {big_ref['growth'] / max(big_ours['growth'], 1):.0f}x less")
    print(f"ratio: {ref['growth'] / max(ours['growth'], 1):.0f}")


if __name__ == "__main__":
    main()
