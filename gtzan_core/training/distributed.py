"""Data-parallel training under ``torchrun``: every rank trains on its shard of each
epoch, gradients are all-reduced (NCCL on GPUs, gloo on CPUs), and the epoch
statistics are summed across ranks so rank 0 logs the whole epoch."""

from __future__ import annotations

import torch
from torch import nn


def dist_world() -> tuple[int, int]:
    """(world size, rank) when running under an initialised torch.distributed group."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_world_size(), torch.distributed.get_rank()
    return 1, 0


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` in DistributedDataParallel when there is more than one rank."""
    world, _ = dist_world()
    if world == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def shard(order: torch.Tensor) -> torch.Tensor:
    """This rank's share of an epoch's sample order (the same order on every rank)."""
    world, rank = dist_world()
    if world == 1:
        return order
    return order[: len(order) - len(order) % world][rank::world]


def reduce_epoch(loss_sum: torch.Tensor, correct: torch.Tensor, seen: int, device: torch.device):
    """Sum an epoch's (loss sum, correct, seen) over the ranks."""
    world, _ = dist_world()
    if world == 1:
        return loss_sum, correct, seen
    stats = torch.stack([loss_sum, correct.float(), torch.tensor(float(seen), device=device)])
    torch.distributed.all_reduce(stats)
    return stats[0], stats[1], int(stats[2].item())
