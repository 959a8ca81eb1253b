"""The CLI called in-process: its exit code and what it printed."""

from __future__ import annotations

from gtzan_core.cli import main


def run(capsys, *argv):
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err

