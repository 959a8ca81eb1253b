"""Command line: ``python -m gtzan_core`` or ``gtzan-studio``.

Every user-facing problem exits with status 2 and a single ``error: ...`` line. One module
per group of commands: :mod:`.data`, :mod:`.training`, :mod:`.use`, :mod:`.runs`; the
parser in :mod:`.parser`.
"""

from __future__ import annotations

import logging
import sys

from ..errors import StudioError
from .parser import build_parser

__all__ = ["build_parser", "main"]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR, format="%(levelname)s: %(message)s")
    try:
        _first_start(args)
        return args.func(args) or 0
    except StudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


def _first_start(args) -> None:
    """The CLI's first start on a machine fetches musicnn's weights in a detached
    background process (once per machine; :mod:`gtzan_core.models.autofetch`), saying so
    in one line. ``predict`` and ``weights`` fetch themselves, in the foreground."""
    if getattr(args.func, "__name__", "") in ("cmd_predict", "cmd_weights", "cmd_doctor"):
        return
    from ..models.autofetch import start_background_fetch

    if start_background_fetch() is not None:
        print("note: fetching musicnn's weights in the background (first start, once per machine): the musicnn "
              "starter answers once they are here; `python -m gtzan_core weights` shows them", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
