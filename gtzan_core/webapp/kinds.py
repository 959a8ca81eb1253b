"""What the pages say about an input kind (:mod:`gtzan_core.inputs`): its labels and help.

The kinds hold what a kind *is* (its parameters, extraction, windows, explanation layout);
the words a page shows about it live here, with a plain default, so a new kind needs no
entry to appear on the pages.
"""

from __future__ import annotations

from ..inputs import InputKind

#: the Train page's toggle for standardising a kind's input on the training split
STANDARDIZE_LABELS = {"mfcc": "standardise MFCCs (training-split statistics)",
                      "vector": "standardise features (training-split statistics)"}
STANDARDIZE_DEFAULT = "standardise the input (training-split statistics)"
NO_EXPLANATION_DEFAULT = "this studio does not know its model's explanation methods"


def standardize_label(kind: InputKind) -> str | None:
    """The Train page's label for the kind's standardisation toggle; None: the kind offers none."""
    return STANDARDIZE_LABELS.get(kind.name, STANDARDIZE_DEFAULT) if kind.standardizes else None


def no_explanation(kind: InputKind) -> str:
    """Why the Predict page offers no explanation for a run of this kind."""
    return kind.no_explanation or NO_EXPLANATION_DEFAULT
