"""Progress reporting shared by the library, the CLI (tqdm) and the app.

Library functions take ``progress``: a callable ``progress(done, total, message)``
or ``None``. The CLI passes :func:`tqdm_progress`; the app passes a callback that
stores the numbers for a Streamlit progress bar.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

ProgressFn = Callable[[int, int, str], None]


def report(progress: ProgressFn | None, done: int, total: int, message: str = "") -> None:
    if progress is not None:
        progress(done, total, message)


@contextlib.contextmanager
def tqdm_progress(desc: str, unit: str = "it", disable: bool = False) -> Iterator[ProgressFn]:
    """A progress callback that drives one tqdm bar (written to stderr).

    The bar appears on the first update, so work that turns out to be cached
    prints nothing."""
    from tqdm.auto import tqdm

    bars: list = []

    def update(done: int, total: int, message: str = "") -> None:
        if not bars:
            bars.append(tqdm(desc=desc, unit=unit, disable=disable, dynamic_ncols=True))
        bar = bars[0]
        if bar.total != total:
            bar.total = total
        bar.n = done
        if message:
            bar.set_postfix_str(message, refresh=False)
        bar.refresh()

    try:
        yield update
    finally:
        for bar in bars:
            bar.close()
