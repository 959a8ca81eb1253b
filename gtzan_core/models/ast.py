"""An Audio Spectrogram Transformer in the manner of Gong, Chung & Glass 2021 (AST,
arXiv:2104.01778), small and trained from scratch, on musicnn's log-mel patches.

Input: float32 (batch, 187 frames, 96 mel bands), the studio's one mel primitive
(:func:`gtzan_core.mel_patches.log_mel`: 16 kHz, ``log10(1 + 10000 * mel)``), the
same patches musicnn reads (input kind ``musicnn``), so one extraction and one
cache serve both and a short clip is repeat-padded as for musicnn.

What it does, in AST's order:

1. standardise the log-mel with one mean and sd fitted on the training split (AST
   normalises by the dataset's mean and sd; :class:`Standardize`, buffers in the
   state dict, identity until fitted);
2. cut the (96 mel x 187 frame) picture into **16 x 16 patches without overlap**
   (AST uses a stride of 10, 6 of overlap; without it there are 6 x 12 = 72 patches
   instead of 9 x 18 = 162, so attention costs ~5x less on a CPU); time is padded
   with zeros (the training mean, after standardising) from 187 to 192 frames;
3. embed each patch linearly (a 16 x 16 convolution of stride 16, as ViT/AST),
   prepend a **class token**, add **learned positional embeddings**;
4. a **pre-norm** Transformer encoder (LayerNorm -> multi-head self-attention ->
   residual, LayerNorm -> MLP (4x, GELU) -> residual), attention computed by
   PyTorch's own ``F.scaled_dot_product_attention``; each block can also return its
   attention weights (the same softmax, computed explicitly), which attention
   rollout (:mod:`gtzan_core.explain.rollout`) needs;
5. a final LayerNorm and a linear head on the class token: logits over genres.

Sized for GTZAN-scale data and a shared 2-core CPU: depth 4, width 64, 4 heads (head
size 16), MLP 256, 0.22M parameters (``python -m gtzan_core models``), about the CNN's
0.17M; AST-Base (ImageNet-pretrained DeiT) has 87M. A width of 128 (0.84M) took
~90 s an epoch on the 341 training excerpts on this machine under its usual load, too
slow for three seeds. ``depth``, ``width``, ``heads`` and ``dropout`` are builder
options (``depth``, ``width`` and ``dropout`` are recipe settings too).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import ConfigError

PATCH = 16
N_MELS = 96
FRAMES = 187


class Standardize(nn.Module):
    """One mean and one sd over the whole log-mel (AST's dataset normalisation)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.zeros(()))
        self.register_buffer("std", torch.ones(()))

    @torch.no_grad()
    def fit(self, x: torch.Tensor) -> None:
        flat = x.float().reshape(-1)
        self.mean.copy_(flat.mean())
        self.std.copy_(flat.std().clamp_min(1e-6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class Attention(nn.Module):
    def __init__(self, width: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, need_weights: bool = False):
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        weights = None
        if need_weights:  # the same attention, its softmax kept (rollout)
            weights = torch.softmax((q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1]), dim=-1)
            out = weights @ v
        else:
            out = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        return self.proj(out.transpose(1, 2).reshape(b, n, c)), weights


class Block(nn.Module):
    """Pre-norm Transformer encoder block."""

    def __init__(self, width: int, heads: int, dropout: float, mlp_ratio: int = 4):
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attn = Attention(width, heads, dropout)
        self.norm2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, mlp_ratio * width), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(mlp_ratio * width, width))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, need_weights: bool = False):
        a, weights = self.attn(self.norm1(x), need_weights)
        x = x + self.drop(a)
        x = x + self.drop(self.mlp(self.norm2(x)))
        return x, weights


class AST(nn.Module):
    """(batch, frames, mels) log-mel -> (batch, n_classes) logits."""

    def __init__(self, n_classes: int = 10, depth: int = 4, width: int = 64, heads: int = 4, dropout: float = 0.1,
                 frames: int = FRAMES, n_mels: int = N_MELS, patch: int = PATCH):
        super().__init__()
        if depth < 1 or width < 1 or heads < 1 or width % heads:
            raise ConfigError(f"AST: depth and width must be positive and width a multiple of heads "
                              f"(got depth {depth}, width {width}, heads {heads})")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"AST: dropout must be in [0, 1) (got {dropout})")
        self.frames, self.n_mels, self.patch = frames, n_mels, patch
        self.grid = (n_mels // patch, math.ceil(frames / patch))  # (6, 12) patches: mel x time
        self.pad = self.grid[1] * patch - frames
        self.norm = Standardize()
        self.embed = nn.Conv2d(1, width, kernel_size=patch, stride=patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, width))
        self.pos = nn.Parameter(torch.zeros(1, 1 + self.grid[0] * self.grid[1], width))
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(width, heads, dropout) for _ in range(depth))
        self.final_norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, n_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Truncated-normal tokens and positions (ViT/DeiT's init); also what the sanity
        checks' re-randomised copy calls."""
        nn.init.trunc_normal_(self.cls, std=0.02)
        nn.init.trunc_normal_(self.pos, std=0.02)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, frames, mels) -> (batch, 1 + patches, width), the class token first;
        patches in row-major order over (mel band, from the lowest; time)."""
        x = F.pad(self.norm(x).transpose(1, 2), (0, self.pad))[:, None]  # (batch, 1, mels, frames + pad)
        t = self.embed(x).flatten(2).transpose(1, 2)  # (batch, mel rows * time cols, width)
        return torch.cat([self.cls.expand(t.shape[0], -1, -1), t], 1) + self.pos

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        h = self.drop(self.tokens(x))
        attention = []
        for block in self.blocks:
            h, w = block(h, return_attention)
            attention.append(w)
        logits = self.head(self.final_norm(h[:, 0]))
        return (logits, attention) if return_attention else logits


def build_ast(n_classes: int = 10, depth: int = 4, width: int = 64, heads: int = 4, dropout: float = 0.1, **_):
    """The builder the registry calls (``frames``/``n_mfcc`` of the MFCC models are ignored)."""
    from .weights import WeightsStatus

    return AST(n_classes, depth=depth, width=width, heads=heads, dropout=dropout), \
        WeightsStatus(False, "trained from scratch")
