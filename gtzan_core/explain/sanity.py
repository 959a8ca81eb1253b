"""Sanity checks for saliency maps (Adebayo et al. 2018, "Sanity Checks for
Saliency Maps"): a map that survives re-randomising the model's weights explains
the input, not the model. :func:`randomized_copy` re-initialises every layer;
:func:`rank_correlation` compares two maps (Spearman, on the flattened values)."""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn


def randomized_copy(model: nn.Module, seed: int = 0) -> nn.Module:
    """The same architecture with every layer re-initialised (cascading to the input)."""
    torch.manual_seed(seed)
    clone = copy.deepcopy(model)
    for module in clone.modules():
        if hasattr(module, "reset_parameters") and module is not clone:
            module.reset_parameters()
    return clone.eval()


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(np.ravel(a), np.ravel(b)).statistic)
