"""Training: the trainer and the pieces it is made of.

=====================  ===================================================================
module                 what it holds
=====================  ===================================================================
``trainer``            a run as named steps (split, build, inputs, fit, evaluate), reported to a sink
``recorded``           :func:`train`: the trainer recorded in the run store, holding a GPU slot
``loop``               the epoch loop, validation logits, early stopping, :class:`EpochLog`
``device``             device choice, the cross-process GPU slot, bf16 autocast, seeding
``backbone_cache``     frozen backbones run once per image and cached on disk
``checkpoints``        what a checkpoint holds (head-only over named weights) and rebuilding it
``distributed``        DistributedDataParallel under ``torchrun``: wrap, shard, reduce
=====================  ===================================================================
"""

from .backbone_cache import backbone_outputs, backbone_tag, cached_backbone_outputs
from .checkpoints import checkpoint_model, checkpoint_state
from .device import autocast, device_label, device_slot, resolve_device, seed_everything
from .loop import Cancelled, EarlyStopping, EpochLog, loss_acc, predict_logits, run_epoch
from .recorded import train
from .trainer import RunSink, describe_run

__all__ = [
    "Cancelled", "EarlyStopping", "EpochLog", "autocast", "backbone_outputs", "backbone_tag",
    "cached_backbone_outputs", "checkpoint_model", "checkpoint_state", "device_label", "device_slot", "loss_acc",
    "predict_logits", "resolve_device", "RunSink", "run_epoch", "seed_everything", "describe_run", "train",
]
