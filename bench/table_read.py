"""The cost of reading a feature table (gtzan_core/data/table.py: read_table) as its
columns grow from 1,000 to 20,000, 300 rows each: linear in the file's size.

    python bench/table_read.py [--rows 300] [--columns 1000 2500 5000 10000 20000] [--repeats 2]

Each table is a Kaggle-style CSV (filename, label, then the feature columns) of one-digit
cells, as the issue's 12 MB table of 300 x 20,000 was; each is read ``--repeats`` times
(the median shown). Last column: seconds per million cells, flat when the cost is linear.
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np
from _common import machine, timed


def write_table(path: Path, rows: int, columns: int) -> Path:
    from gtzan_core import GENRES

    rng = np.random.default_rng(0)
    digits = rng.integers(0, 10, size=(rows, columns))
    with path.open("w") as f:
        f.write("filename,label," + ",".join(f"f{j}" for j in range(columns)) + "\n")
        for i in range(rows):
            genre = GENRES[i % len(GENRES)]
            f.write(f"{genre}.{i:05d}.wav,{genre}," + ",".join(map(str, digits[i])) + "\n")
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=300)
    ap.add_argument("--columns", type=int, nargs="+", default=[1000, 2500, 5000, 10000, 20000])
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    from gtzan_core.data.table import read_table

    print(f"# {machine()}; {args.rows} rows; median of {args.repeats} reads")
    print(f"{'columns':>8s} {'MB':>6s} {'seconds':>8s} {'s per M cells':>14s}")
    with tempfile.TemporaryDirectory() as tmp:
        for columns in args.columns:
            path = write_table(Path(tmp) / f"t{columns}.csv", args.rows, columns)
            median, _ = timed(lambda p=path: read_table(p), repeats=args.repeats)
            rows, features, _ = read_table(path)
            assert rows.shape == (args.rows, 4 + columns) and len(features) == columns
            cells = args.rows * columns / 1e6
            print(f"{columns:8d} {path.stat().st_size / 1e6:6.1f} {median:8.2f} {median / cells:14.2f}")


if __name__ == "__main__":
    main()
