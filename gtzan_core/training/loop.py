"""The epoch loop: mini-batches over whole tensors on the device, validation,
and early stopping on a monitored loss.

The split lives on the device as whole tensors (no DataLoader, no per-batch host
copies or syncs); sums stay on the device until the epoch ends.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import torch
from torch import nn

from .. import GENRES
from ..errors import StudioError
from .device import autocast


@dataclass
class EpochLog:
    epoch: int
    train_loss: float
    train_acc: float
    val_loss: float
    val_acc: float
    seconds: float
    elapsed: float
    best: bool


@dataclass(frozen=True)
class Distill:
    """A teacher's soft targets (Hinton, Vinyals & Dean 2015): ``log_probs[i]`` is the teacher's
    log-probability over the genres for sample ``i`` (filled for the training samples only), softened
    by ``temperature``; the training loss becomes ``alpha * T^2 * KL(teacher/T || student/T) +
    (1 - alpha) * cross-entropy``. Validation (early stopping, the best model) stays plain
    cross-entropy on the labels."""

    log_probs: torch.Tensor
    temperature: float
    alpha: float

    def loss(self, logits: torch.Tensor, idx: torch.Tensor, ce: torch.Tensor, perm=None, lam: float = 1.0):
        """The batch's loss from its cross-entropy ``ce`` (mixup's mix of two already) and the
        student's ``logits`` for samples ``idx``; under mixup (``perm``, ``lam``) the teacher's
        two distributions are mixed as the inputs were."""
        t = self.temperature
        target = torch.softmax(self.log_probs[idx] / t, 1)
        if perm is not None:
            target = lam * target + (1 - lam) * target[perm]
        kd = nn.functional.kl_div(torch.log_softmax(logits.float() / t, 1), target, reduction="batchmean")
        return self.alpha * t * t * kd + (1 - self.alpha) * ce


class Cancelled(Exception):
    pass


class Diverged(StudioError):
    """The loss became NaN or infinite: the run failed (never "cancelled"), naming the epoch."""

    @classmethod
    def check(cls, epoch: int, train_loss: float, val_loss: float) -> None:
        """Raise when either loss of ``epoch`` is not finite."""
        for loss in (train_loss, val_loss):
            if not math.isfinite(loss):
                word = "NaN" if math.isnan(loss) else "infinite"
                raise cls(f"the loss became {word} at epoch {epoch} (a learning rate too large, or input values "
                          "too large for float32 arithmetic)")


class Pruned(Exception):
    """Raised by a search's sink when the trial's pruner stops it on its validation curve
    (after the epoch it judged was reported and checkpointed); the job records the run as
    ``pruned`` (:func:`gtzan_core.jobs.recorded.conclude`)."""


def run_epoch(model: nn.Module, opt, x: torch.Tensor, y: torch.Tensor, order: torch.Tensor, batch_size: int,
              prep, device: torch.device, cancel: threading.Event | None = None, amp: bool = True,
              augment=None, scheduler=None, distill: Distill | None = None):
    """One pass over ``order`` (sample indices on the device) in mini-batches; ``augment``
    (masks, mixup: :class:`~.recipe.Augment`) changes each training batch, ``scheduler``
    steps after each optimiser step (:mod:`.recipe`) and ``distill`` (:class:`Distill`)
    adds a teacher's soft targets to the loss.

    Returns (sum of losses, number correct, samples seen): the sums stay on the
    device, so there is no host synchronisation inside the loop.
    """
    model.train()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device)
    seen = 0
    for i in range(0, len(order), batch_size):
        if cancel is not None and cancel.is_set():
            break
        idx = order[i:i + batch_size]
        xb, yb = prep(x[idx]), y[idx]
        mixed, lam, perm = None, 1.0, None
        if augment is not None:
            xb, mixed, lam = augment(xb, yb)
            perm = augment.perm if mixed is not None else None
        with autocast(device, amp):
            logits = model(xb)
            loss = nn.functional.cross_entropy(logits.float(), yb)
            if mixed is not None:
                loss = lam * loss + (1 - lam) * nn.functional.cross_entropy(logits.float(), mixed)
            if distill is not None:
                loss = distill.loss(logits, idx, loss, perm, lam)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if scheduler is not None:
            scheduler.step()
        loss_sum += loss.detach() * len(idx)
        correct += (logits.argmax(1) == yb).sum()
        seen += len(idx)
    return loss_sum, correct, seen


@torch.no_grad()
def predict_logits(model: nn.Module, x: torch.Tensor, idx: torch.Tensor, prep, device, batch: int = 512,
                   amp: bool = True) -> torch.Tensor:
    model.eval()
    out = []
    for i in range(0, len(idx), batch):
        with autocast(device, amp):
            out.append(model(prep(x[idx[i:i + batch]])).float())
    return torch.cat(out) if out else torch.zeros(0, len(GENRES), device=device)


def loss_acc(logits: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    if len(y) == 0:
        return float("nan"), float("nan")
    loss = nn.functional.cross_entropy(logits, y).item()
    acc = (logits.argmax(1) == y).float().mean().item()
    return loss, acc


class EarlyStopping:
    """Tracks the best monitored loss; ``step`` says whether this epoch improved it."""

    def __init__(self, patience: int, min_delta: float = 1e-6):
        self.patience = patience
        self.min_delta = min_delta
        self.best_loss = math.inf
        self.best_epoch = 0
        self.since_best = 0

    def step(self, epoch: int, loss: float) -> bool:
        if loss < self.best_loss - self.min_delta:
            self.best_loss, self.best_epoch, self.since_best = loss, epoch, 0
            return True
        self.since_best += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.since_best >= self.patience
