"""Attention rollout (Abnar & Zuidema 2020, "Quantifying Attention Flow in
Transformers") for the spectrogram Transformer: how much of the class token's final
representation flows from each spectrogram patch.

Each block's attention is averaged over its heads, the residual connection is
accounted for as ``0.5 * A + 0.5 * I`` (rows renormalised), and the blocks' matrices
are multiplied from the input up; the class token's row over the patch tokens is the
map, laid onto the patches' time x mel cells of the model's own input grid
(frames x mel bands), so the input kind lays it out as it lays out occlusion.

Rollout is *class-agnostic*: it says where the class token looked, not what pushed
it towards one genre, so the map is the same whichever genre is explained. It applies
to models that return their attention (``forward(x, return_attention=True)`` and a
``grid`` of patches: :class:`gtzan_core.models.ast.AST`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..inputs import ModelInput


def supports_rollout(model: nn.Module) -> bool:
    return hasattr(model, "grid") and hasattr(model, "patch") and hasattr(model, "blocks")


@torch.no_grad()
def rollout_matrix(attentions: list[torch.Tensor], residual: float = 0.5) -> torch.Tensor:
    """(batch, tokens, tokens): the blocks' head-averaged attention, with the residual, multiplied."""
    result = None
    for a in attentions:
        a = a.float().mean(1)
        eye = torch.eye(a.shape[-1], dtype=a.dtype)
        a = residual * a + (1 - residual) * eye
        a = a / a.sum(-1, keepdim=True)
        result = a if result is None else a @ result
    assert result is not None
    return result


@torch.no_grad()
def rollout_map(model: nn.Module, inp: ModelInput, batch: int = 32) -> np.ndarray:
    """(rows, frames, mel bands) maps in [0, 1] (each row's largest cell is 1): the class
    token's rolled-out attention on each patch, over the patch's cells."""
    model.eval()
    x = inp.x.float()
    n_rows, frames, n_mels = x.shape
    mel_rows, time_cols = model.grid
    p = model.patch
    out = np.zeros((n_rows, frames, n_mels), np.float32)
    for i in range(0, n_rows, batch):
        _, attentions = model(x[i:i + batch], return_attention=True)
        cls = rollout_matrix(attentions)[:, 0, 1:]  # (b, patches): the class token's row
        grid = cls.reshape(-1, mel_rows, time_cols)  # (b, mel rows from the lowest, time cols)
        cells = grid.repeat_interleave(p, 1).repeat_interleave(p, 2)  # (b, mels, frames + pad)
        cells = cells[:, :n_mels, :frames].transpose(1, 2)  # (b, frames, mels)
        peak = cells.flatten(1).max(1).values.clamp_min(1e-12)[:, None, None]
        out[i:i + batch] = (cells / peak).numpy()
    return out
