"""The recipe knobs a Transformer needs (``hparams.yaml``'s ``ast_recipe``): the optimiser,
a learning-rate schedule and batch augmentation. Their defaults are what every other
model always did: Adam, a constant learning rate, no masking, no mixup.

* ``optimizer``: ``adam`` (``torch.optim.Adam``, L2 ``weight_decay``) or ``adamw``
  (decoupled weight decay, Loshchilov & Hutter 2019);
* ``warmup_epochs`` and ``schedule``: the learning rate rises linearly over the first
  ``warmup_epochs`` epochs (per batch), then stays (``constant``) or follows a cosine
  to 0 at the epoch cap (``cosine``), stepped every batch;
* ``time_mask`` / ``freq_mask``: SpecAugment (Park et al. 2019) as AST uses it, one
  time mask of 0..``time_mask`` frames and one frequency mask of 0..``freq_mask``
  bands per training sample, at a random place, set to 0 in the stored input (for
  log-mel patches, silence); the axes are the input kind's (``InputKind.mask_axes``);
* ``mixup`` (Zhang et al. 2018): each batch is mixed with a shuffled copy of itself,
  ``lam ~ Beta(mixup, mixup)``, and the loss mixes the two labels' cross-entropies.

Everything draws from generators seeded by the run's seed: a run is repeatable.
"""

from __future__ import annotations

import math

import numpy as np
import torch


def make_optimizer(params, config) -> torch.optim.Optimizer:
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)


def lr_factor(step: int, steps_per_epoch: int, config) -> float:
    """The learning rate's factor at optimiser step ``step`` (0-based)."""
    warmup = config.warmup_epochs * steps_per_epoch
    if step < warmup:
        return (step + 1) / warmup
    if config.schedule == "cosine":
        total = max(1, config.epochs * steps_per_epoch - warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / total)))
    return 1.0


def make_scheduler(opt, n_train: int, batch_size: int, config):
    """A per-batch ``LambdaLR`` when the config asks for warm-up or a schedule, else None."""
    if not config.warmup_epochs and config.schedule == "constant":
        return None
    steps = max(1, math.ceil(n_train / batch_size))
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda step: lr_factor(step, steps, config))


class Augment:
    """``augment(xb, yb) -> (xb, y_mixed | None, lam)``: masks and mixup on a training batch."""

    def __init__(self, config, mask_axes: tuple[int, int] | None):
        self.time_mask, self.freq_mask, self.alpha = int(config.time_mask), int(config.freq_mask), config.mixup
        self.axes = mask_axes
        self.gen = torch.Generator().manual_seed(10_000 + config.seed)
        self.rng = np.random.default_rng(10_000 + config.seed)
        #: the last mixed batch's permutation (a teacher's soft targets are mixed with it)
        self.perm: torch.Tensor | None = None

    @classmethod
    def for_config(cls, config, mask_axes):
        """None when the config asks for no augmentation."""
        if not (config.time_mask or config.freq_mask or config.mixup):
            return None
        return cls(config, mask_axes)

    def _mask(self, xb: torch.Tensor, axis: int, width: int) -> torch.Tensor:
        size = xb.shape[axis]
        width = min(width, size)
        n = len(xb)
        w = torch.randint(0, width + 1, (n,), generator=self.gen)
        start = (torch.rand(n, generator=self.gen) * (size - w + 1)).long()
        pos = torch.arange(size)
        keep = ~((pos[None] >= start[:, None]) & (pos[None] < (start + w)[:, None]))  # (n, size)
        shape = [1] * xb.ndim
        shape[0], shape[axis] = n, size
        return xb * keep.reshape(shape).to(xb.device, xb.dtype)

    def __call__(self, xb: torch.Tensor, yb: torch.Tensor):
        if self.axes is not None:
            time_axis, freq_axis = self.axes
            if self.time_mask:
                xb = self._mask(xb, time_axis, self.time_mask)
            if self.freq_mask:
                xb = self._mask(xb, freq_axis, self.freq_mask)
        if not self.alpha:
            return xb, None, 1.0
        lam = float(self.rng.beta(self.alpha, self.alpha))
        perm = torch.randperm(len(xb), generator=self.gen).to(xb.device)
        self.perm = perm
        return lam * xb + (1 - lam) * xb[perm], yb[perm], lam
