"""Helpers the command modules share: the one-line-error parser, progress bars, the dataset."""

from __future__ import annotations

import argparse


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump
        self.exit(2, f"error: {message} (see '{self.prog} --help')\n")


def progress_bar(desc: str, unit: str = "it"):
    from ..progress import tqdm_progress

    return tqdm_progress(desc, unit=unit)


def open_data(data: str | None):
    from ..data import open_dataset

    with progress_bar("synthesising demo set", "track") as p:
        return open_dataset(data, progress=p)


def run_store(args):
    from ..runs import RunStore

    return RunStore(args.runs)


def image_source_counts(fs) -> dict:
    """How many tracks' pictures came from the dataset's PNGs and how many were drawn."""
    if "image_source" not in fs.tracks:
        return {}
    return {str(k): int(v) for k, v in fs.tracks["image_source"].value_counts().items() if k != "none"}


def recipe_knobs(args) -> dict:
    """The knobs of ``parser.add_recipe_knobs`` given on the command line (None: the recipe's)."""
    from ..hparams import DISTILL_KEYS, MODEL_OPTION_KEYS, TRANSFORMER_KEYS

    return {n: getattr(args, n, None) for n in ("weight_decay", *TRANSFORMER_KEYS, *MODEL_OPTION_KEYS, "teacher",
                                                *DISTILL_KEYS)}
