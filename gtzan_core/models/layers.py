"""Small building blocks shared by the models."""

from __future__ import annotations

import torch
from torch import nn


class Dropout(nn.Dropout):
    """``nn.Dropout`` with a faster mask on the CPU.

    Profiling the SqueezeNet head on cached backbone outputs (torch.profiler) put
    83% of a CPU training step in ``aten::bernoulli_``; a mask drawn with
    ``rand_like(x) >= p`` is the same inverted dropout (keep with probability
    1 - p, scale by 1 / (1 - p)) and about 4x cheaper there. Other devices use
    the native kernel.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0 or x.device.type != "cpu":
            return super().forward(x)
        if self.p == 1.0:
            return torch.zeros_like(x)
        mask = torch.rand_like(x) >= self.p
        return x * mask / (1.0 - self.p)
