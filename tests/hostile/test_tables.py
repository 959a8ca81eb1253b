"""Issue 41, item 5: feature tables are read in linear time and refused precisely (a value
beyond float32's range naming its line and column, a column named twice caught before
pandas renames it, a declared column limit); a run whose loss becomes NaN fails, naming
the epoch, and the CLI exits non-zero."""

from __future__ import annotations

import time

import numpy as np
import pytest

from gtzan_core import GENRES
from gtzan_core.data import open_dataset
from gtzan_core.data.table import MAX_TABLE_COLUMNS, read_table
from gtzan_core.errors import DatasetError
from gtzan_core.runs import RunStore
from tests.helpers import run, write_table


def with_cell(path, line: int, column: str, value: str):
    """The table at ``path`` with the cell of ``column`` on CSV line ``line`` (1: the header) set to ``value``."""
    lines = path.read_text().splitlines()
    j = lines[0].split(",").index(column)
    cells = lines[line - 1].split(",")
    cells[j] = value
    lines[line - 1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("model", ["logreg", "svm", "hgb", "feature_mlp"])
def test_a_value_beyond_float32_is_refused_naming_line_and_column(tmp_path, capsys, model):
    table = with_cell(write_table(tmp_path / "t.csv", per_genre=4), 7, "tempo", "1e39")
    code, out, err = run(capsys, "train", model, "--data", table, "--epochs", "1", "--allow-weak-split")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "t.csv: line 7: a value beyond float32's range" in err and "column 'tempo': '1e39'" in err
    assert RunStore().list() == []
    with_cell(table, 7, "tempo", "-3.5e38")  # beyond float32's most negative too
    with pytest.raises(DatasetError, match="line 7: a value beyond float32's range"):
        read_table(table)
    with_cell(table, 7, "tempo", "3.4e38")  # within it: read
    assert read_table(table)[0]["tempo"].max() == pytest.approx(3.4e38, rel=1e-6)


def test_a_column_named_twice_is_caught_before_pandas_renames_it(tmp_path):
    columns = ["tempo", "zcr", "tempo"]  # pandas alone would read the second as 'tempo.1'
    table = write_table(tmp_path / "dup.csv", per_genre=3, columns=columns)
    with pytest.raises(DatasetError, match="dup.csv: line 1: column\\(s\\) 'tempo' appear more than once"):
        open_dataset(table)
    padded = write_table(tmp_path / "padded.csv", per_genre=3, columns=["tempo", "zcr", " tempo "])
    with pytest.raises(DatasetError, match="'tempo' appear more than once"):  # the same name once stripped
        read_table(padded)


def test_a_table_with_more_columns_than_the_limit_is_refused_before_it_is_read(tmp_path):
    n = MAX_TABLE_COLUMNS + 1
    path = tmp_path / "wide.csv"
    path.write_text("filename,label," + ",".join(f"f{j}" for j in range(n - 2)) + "\n"
                    + "blues.00000.wav,blues," + ",".join("0" for _ in range(n - 2)) + "\n")
    with pytest.raises(DatasetError, match=f"wide.csv: {n:,} columns is more than a feature table may have "
                                           f"\\(at most {MAX_TABLE_COLUMNS:,}\\)"):
        read_table(path)


def test_a_row_of_another_width_is_refused_naming_its_line(tmp_path):
    table = write_table(tmp_path / "t.csv", per_genre=2, columns=["a", "b"])
    lines = table.read_text().splitlines()
    lines[3] += ",9"
    table.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match="t.csv: line 4: not a readable CSV table \\(a row of 6 fields under a "
                                           "header of 5\\)"):
        read_table(table)


def _wide(path, rows: int, columns: int):
    rng = np.random.default_rng(0)
    digits = rng.integers(0, 10, size=(rows, columns))
    with path.open("w") as f:
        f.write("filename,label," + ",".join(f"f{j}" for j in range(columns)) + "\n")
        for i in range(rows):
            g = GENRES[i % 10]
            f.write(f"{g}.{i:05d}.wav,{g}," + ",".join(map(str, digits[i])) + "\n")
    return path


@pytest.mark.heavy
def test_reading_cost_grows_linearly_with_the_columns(tmp_path):
    """4x the columns takes well under 8x the time (quadratic: 16x; the old reader took 4.6x
    from 2,500 to 5,000 columns). Best of three reads each, so a busy machine's pauses count less."""
    def best(path):
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            rows, features, _ = read_table(path)
            times.append(time.perf_counter() - t0)
        return min(times), rows.shape

    small, shape = best(_wide(tmp_path / "a.csv", 100, 2_000))
    large, shape_large = best(_wide(tmp_path / "b.csv", 100, 8_000))
    assert shape == (100, 2_004) and shape_large == (100, 8_004)
    assert large / small < 8, (small, large)


@pytest.fixture
def diverging_model():
    """A registered model whose logits are NaN from its first step (an infinite weight): what a
    learning rate too large or values too large for float32 end in."""
    import torch
    from torch import nn

    from gtzan_core.models import ModelSpec, register_model, unregister_model
    from gtzan_core.models.weights import WeightsStatus

    def build(n_classes=10, frames=130, n_mfcc=13):
        layer = nn.Linear(frames * n_mfcc, n_classes)
        with torch.no_grad():
            layer.weight.fill_(float("inf"))
        return nn.Sequential(nn.Flatten(), layer), WeightsStatus(False, "from scratch")

    yield register_model(ModelSpec("diverging", "Diverging", "mfcc", "a layer of infinite weights (a test)", build))
    unregister_model("diverging")


def test_a_run_whose_loss_becomes_nan_fails_naming_the_epoch_and_the_cli_exits_non_zero(diverging_model,
                                                                                       tiny_demo_set, capsys):
    code, out, err = run(capsys, "train", "diverging", "--data", tiny_demo_set.root, "--epochs", "5", "--device",
                         "cpu", "--allow-weak-split")
    assert code == 2, (code, out, err)
    assert err.strip().splitlines()[-1].startswith("error: the loss became NaN at epoch 1"), err
    (record,) = RunStore().list()
    assert record["status"] == "failed" and record["error"].startswith("the loss became NaN at epoch 1"), \
        (record["status"], record.get("error"))
