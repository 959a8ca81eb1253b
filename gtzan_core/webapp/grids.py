"""Data grids drawn for people: ``st.dataframe`` with human column names, numbers drawn
with their format (the grid still sorts them as numbers) and a dash, never "None",
where a value is missing (the grid draws ``placeholder`` for a missing cell), visitors'
strings as text (``formatting.plain_text``: no bidirectional control reorders a cell)."""

from __future__ import annotations

import streamlit as st

from ..tables import DASH, RUN_COLUMN_HELP
from .formatting import plain_frame

#: Widths (pixels) that keep the columns that matter on screen at 1280 px; the rest scroll.
WIDTHS = {"model": 120, "track acc.": 84, "segment acc.": 96, "macro F1": 76, "recipe": 150, "dataset": 116,
          "owner": 80, "seed": 56, "search": 190, "protocol": 130, "training": 230, "external acc.": 96,
          "evaluated on": 190, "run": 250}


def run_grid(df, formats: dict, key: str, pinned: tuple = ("model",), **kw):
    """``df`` in a grid: ``formats`` (column -> printf format or Streamlit's named formats) for
    its number columns, text columns as they are; returns what ``st.dataframe`` returns
    (its selection with ``on_select``)."""
    config = {}
    for col in df.columns:
        width = WIDTHS.get(col)
        if col in formats:
            config[col] = st.column_config.NumberColumn(col, format=formats[col], width=width, pinned=col in pinned,
                                                        help=RUN_COLUMN_HELP.get(col))
        else:
            config[col] = st.column_config.TextColumn(col, width=width, pinned=col in pinned)
    return st.dataframe(plain_frame(df), key=key, hide_index=True, column_config=config, placeholder=DASH, **kw)
