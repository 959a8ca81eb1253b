"""The paper's from-scratch models on MFCC segments (input: batch x 130 x 13).

Each model starts with :class:`Standardize`, a per-coefficient affine map whose
mean/std are set from the training split (identity until then). It lives in the
state dict, so a checkpoint carries its own input normalisation.
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import Dropout


class Standardize(nn.Module):
    def __init__(self, n_features: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))

    @torch.no_grad()
    def fit(self, x: torch.Tensor) -> None:
        """Set mean/std per feature (last dim) from training inputs ``x``."""
        flat = x.reshape(-1, x.shape[-1]).float()
        self.mean.copy_(flat.mean(0))
        self.std.copy_(flat.std(0).clamp_min(1e-6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class MLP(nn.Module):
    """Paper §3.2: flatten -> 512 -> 256 -> 64 -> classes, ReLU, dropout 0.3 after each hidden layer."""

    def __init__(self, frames: int = 130, n_mfcc: int = 13, n_classes: int = 10, dropout: float = 0.3):
        super().__init__()
        self.norm = Standardize(n_mfcc)
        layers: list[nn.Module] = [nn.Flatten()]
        width = frames * n_mfcc
        for hidden in (512, 256, 64):
            layers += [nn.Linear(width, hidden), nn.ReLU(), Dropout(dropout)]
            width = hidden
        layers.append(nn.Linear(width, n_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(self.norm(x))


class CNN(nn.Module):
    """Paper §3.3.2: three conv blocks of 32 / 64 / 120 channels (3x3 conv, padding 1,
    batch norm, ReLU, 2x2 max-pool), fc1 64 with dropout 0.3, fc2 -> classes.

    Trainable parameters for a 130 x 13 input: 212,082 (convs 88,056; batch norms
    432; fc1 122,944 on the 120 x 16 x 1 = 1,920 flattened maps; fc2 650). The paper
    quotes "approximately 328,840" but gives neither kernel size, padding nor
    pooling; no standard choice of those with its channel counts gives that
    number (we searched kernels 2-5, paddings 0-2 and 2x2/3x3 pools), so we keep
    the conventional 3x3 / padding 1 / 2x2 configuration.
    """

    def __init__(self, frames: int = 130, n_mfcc: int = 13, n_classes: int = 10, dropout: float = 0.3):
        super().__init__()
        self.norm = Standardize(n_mfcc)
        blocks: list[nn.Module] = []
        c_in = 1
        for c_out in (32, 64, 120):
            blocks += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2)]
            c_in = c_out
        self.features = nn.Sequential(*blocks)
        h, w = frames, n_mfcc
        for _ in range(3):
            h, w = h // 2, w // 2
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(120 * h * w, 64), nn.ReLU(), Dropout(dropout), nn.Linear(64, n_classes)
        )

    def forward(self, x):
        return self.head(self.features(self.norm(x).unsqueeze(1)))


class RNN(nn.Module):
    """Paper §3.3.2: two recurrent layers (LSTM or GRU), hidden 64, over the 130 frames;
    the last time step -> fc 64 -> ReLU -> dropout -> fc -> classes."""

    def __init__(self, cell: str = "lstm", n_mfcc: int = 13, n_classes: int = 10, hidden: int = 64,
                 layers: int = 2, dropout: float = 0.3, frames: int = 130):
        super().__init__()
        self.norm = Standardize(n_mfcc)
        rnn_cls = {"lstm": nn.LSTM, "gru": nn.GRU}[cell]
        self.rnn = rnn_cls(n_mfcc, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Sequential(nn.Linear(hidden, 64), nn.ReLU(), Dropout(dropout), nn.Linear(64, n_classes))

    def forward(self, x):
        out, _ = self.rnn(self.norm(x))
        return self.head(out[:, -1])
