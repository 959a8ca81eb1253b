"""The paper's from-scratch models on MFCC segments (input: batch x 130 x 13).

Architectures are those of the code the paper's table came from (see
``paper-recipe.md``), trained on logits: that code's final ``Softmax`` layers (a
second softmax under ``CrossEntropyLoss``) are left out.

Each model starts with :class:`Standardize`, a per-coefficient affine map whose
mean/std are set from the training split when the recipe asks for it (the
``studio`` recipe does, the ``paper`` recipe does not: it stays the identity). It
has no trainable parameters and lives in the state dict, so a checkpoint carries
its own input normalisation.
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
        self.net = nn.Sequential(nn.Flatten(), *paper_mlp_layers(frames * n_mfcc, n_classes, dropout))

    def forward(self, x):
        return self.net(self.norm(x))


def paper_mlp_layers(width: int, n_classes: int, dropout: float) -> list[nn.Module]:
    """The paper's MLP after its input: 512 -> 256 -> 64 -> classes, ReLU and dropout after
    each hidden layer (on MFCC segments, flattened, and on a feature vector alike)."""
    layers: list[nn.Module] = []
    for hidden in (512, 256, 64):
        layers += [nn.Linear(width, hidden), nn.ReLU(), Dropout(dropout)]
        width = hidden
    return [*layers, nn.Linear(width, n_classes)]


class CNN(nn.Module):
    """The paper code's CNN (input 1 x 130 x 13):

    conv 32 (3x3, pad 1) -> BN -> ReLU -> max-pool 3x3 / 2;
    conv 64 (3x3, pad 1) -> BN -> ReLU -> max-pool 3x3 / 2;
    conv 120 (**2x2**, pad 1) -> BN -> ReLU -> max-pool 2x2 / 2;
    flatten (120 x 16 x 1 = 1,920) -> fc 64 -> ReLU -> dropout 0.3 -> fc classes.

    Trainable parameters: 173,682 (convs 49,656; batch norms 432; fc1 122,944; fc2
    650). The paper's text says "approximately 328,840"; the code that produced its
    table has 173,682, and that code is what we reproduce.
    """

    def __init__(self, frames: int = 130, n_mfcc: int = 13, n_classes: int = 10, dropout: float = 0.3):
        super().__init__()
        self.norm = Standardize(n_mfcc)
        blocks: list[nn.Module] = []
        c_in = 1
        for c_out, kernel, pool in ((32, 3, 3), (64, 3, 3), (120, 2, 2)):
            blocks += [nn.Conv2d(c_in, c_out, kernel, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(),
                       nn.MaxPool2d(pool, stride=2)]
            c_in = c_out
        self.features = nn.Sequential(*blocks)
        h, w = frames, n_mfcc
        for kernel, pool in ((3, 3), (3, 3), (2, 2)):
            h, w = h + 2 - kernel + 1, w + 2 - kernel + 1  # conv, padding 1
            h, w = (h - pool) // 2 + 1, (w - pool) // 2 + 1  # max-pool, stride 2
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
