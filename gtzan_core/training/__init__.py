"""Training: the trainer and the pieces it is made of.

=====================  ===================================================================
module                 what it holds
=====================  ===================================================================
``trainer``            :func:`fit`: a run as named steps (split, build, inputs, fit, evaluate),
                       reported to a sink, ending in an :class:`Outcome` or an exception
``loop``               the epoch loop, validation logits, early stopping, :class:`EpochLog`
``device``             device choice, the cross-process GPU slot, bf16 autocast, seeding
``backbone_cache``     frozen backbones run once per image and cached on disk
``checkpoints``        what a checkpoint holds (head-only over named weights) and rebuilding it
``distributed``        DistributedDataParallel under ``torchrun``: wrap, shard, reduce
=====================  ===================================================================

The package knows no run store: :func:`gtzan_core.jobs.train` records a run
(creating it, holding a GPU slot, recording its end).
"""

from .backbone_cache import backbone_outputs, backbone_tag, cached_backbone_outputs
from .checkpoints import checkpoint_model, checkpoint_state
from .device import autocast, device_label, device_slot, resolve_device, seed_everything
from .loop import Cancelled, Diverged, EarlyStopping, EpochLog, Pruned, loss_acc, predict_logits, run_epoch
from .trainer import Outcome, RunSink, feature_facts, fit, test_evaluation

__all__ = [
    "Cancelled", "Diverged", "EarlyStopping", "EpochLog", "autocast", "backbone_outputs", "backbone_tag",
    "cached_backbone_outputs", "checkpoint_model", "checkpoint_state", "device_label", "device_slot", "loss_acc",
    "predict_logits", "Pruned", "resolve_device", "Outcome", "RunSink", "run_epoch", "seed_everything",
    "feature_facts", "fit", "test_evaluation",
]
