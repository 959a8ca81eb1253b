"""Occlusion sensitivity (Zeiler & Fergus 2014) over a model's own input.

Each patch of the input (time x MFCC coefficients, or a tile of the spectrogram
image) is replaced by a neutral value and the drop in every genre's probability is
recorded: a positive score means the patch pushed the model towards that genre.
All occluded copies go through the model in a few large batches.

Neutral values: an MFCC patch takes its segment's mean of each coefficient over
time (zero MFCCs are not silence); an image tile takes the window's mean colour.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..inputs import ModelInput, get_kind
from ..progress import ProgressFn, report

#: Patch sizes: a grid's patch is its input kind's (``InputKind.occlusion_patch``: MFCC 10
#: frames (~0.23 s) x 3 coefficients; musicnn 31 frames (~0.5 s) x 12 of its 96 mel bands,
#: 48 patches per 3 s); pictures are cut into an 8 x 8 grid of tiles.
IMAGE_GRID = 8
#: Copies per forward pass, measured on the 2-core CI box (bench/explain.py): dense
#: and recurrent models run fastest in large batches (256), convolutional ones in
#: small ones (MFCC CNN 32; images 16, as channels-last tensors, oneDNN's preferred
#: layout on the CPU), where larger batches only grow the activations.
DENSE_BATCH, CONV_BATCH, IMAGE_BATCH = 256, 32, 16


def default_batch(model: nn.Module, kind: str) -> int:
    if not get_kind(kind).grid:  # pictures
        return IMAGE_BATCH
    return CONV_BATCH if any(isinstance(m, nn.Conv2d) for m in model.modules()) else DENSE_BATCH


def _patches(length: int, size: int) -> list[tuple[int, int]]:
    return [(a, min(a + size, length)) for a in range(0, length, size)]


@torch.no_grad()
def _probs(model: nn.Module, x: torch.Tensor, batch: int, progress: ProgressFn | None = None) -> torch.Tensor:
    total = -(-len(x) // batch)
    out = []
    for k, i in enumerate(range(0, len(x), batch), start=1):
        out.append(torch.softmax(model(x[i:i + batch]).float(), -1))
        report(progress, k, total)
    return torch.cat(out)


@torch.no_grad()
def occlusion_map(model: nn.Module, inp: ModelInput, batch: int | None = None, mfcc_patch=None,
                  image_grid: int = IMAGE_GRID, progress: ProgressFn | None = None) -> np.ndarray:
    """Scores for every genre over the input: (n_classes, rows, H, W) where (H, W) is the
    input's own grid (frames x coefficients or mel bands, or image pixels); each cell
    holds the probability drop when its patch is occluded (original - occluded).
    ``progress(done, total, "")`` hears each batch of occluded copies."""
    model.eval()
    x = inp.x.float()
    kind = get_kind(inp.kind)
    picture = not kind.grid  # (n, 3, S, S) pictures, or a (frames x bands) grid per row
    batch = batch or default_batch(model, inp.kind)
    mfcc_patch = mfcc_patch or kind.occlusion_patch
    if picture:
        x = x.contiguous(memory_format=torch.channels_last)
    base = _probs(model, x, batch)  # (rows, C)
    if not picture:
        n, frames, coefs = x.shape
        rows = _patches(frames, mfcc_patch[0])
        cols = _patches(coefs, mfcc_patch[1])
        fill = x.mean(1, keepdim=True)  # (n, 1, coefs)
    else:
        n, _, size, _ = x.shape
        tile = -(-size // image_grid)
        rows = cols = _patches(size, tile)
        fill = x.mean((2, 3), keepdim=True)  # (n, 3, 1, 1)
    H, W = (frames, coefs) if not picture else (size, size)
    scores = np.zeros((base.shape[1], n, H, W), np.float32)
    patches = [(r, c) for r in rows for c in cols]
    copies = []
    for (r0, r1), (c0, c1) in patches:
        occluded = x.clone()
        if not picture:
            occluded[:, r0:r1, c0:c1] = fill[:, :, c0:c1].expand(-1, r1 - r0, -1)
        else:
            occluded[:, :, r0:r1, c0:c1] = fill
        copies.append(occluded)
    stacked = torch.cat(copies)
    if picture:
        stacked = stacked.contiguous(memory_format=torch.channels_last)
    probs = _probs(model, stacked, batch, progress).view(len(patches), n, -1)  # (P, rows, C)
    drop = (base.unsqueeze(0) - probs).permute(2, 1, 0).cpu().numpy()  # (C, rows, P)
    for k, ((r0, r1), (c0, c1)) in enumerate(patches):
        scores[:, :, r0:r1, c0:c1] = drop[:, :, k, None, None]
    return scores
