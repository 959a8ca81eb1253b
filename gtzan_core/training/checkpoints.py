"""What a run's checkpoint holds, and how a model is rebuilt from it.

A from-scratch model (and a fine-tuned one whose backbone was trained or had no
pretrained weights) stores its whole state dict. A frozen *pretrained* backbone
is not stored again: the checkpoint keeps the trained head only and names the
backbone weights it sits on (``meta["backbone"]``: weights name, file, SHA-256),
which are read back from the hub cache and checked by hash when the run is loaded.
A VGG19 run is then ~420 MB of head instead of ~500 MB with a second copy of the
backbone; a ResNeXt-101 or SqueezeNet run is a few kilobytes.
"""

from __future__ import annotations

import torch
from torch import nn

from .. import GENRES
from ..errors import CheckpointError
from ..models import build_model


def checkpoint_state(model: nn.Module, trainable: nn.Module, trainable_state: dict,
                     head_only: bool) -> dict:
    """The state dict to save: ``trainable``'s entries from ``trainable_state``, and the
    rest of ``model`` unless ``head_only`` (a frozen pretrained backbone, named instead)."""
    if trainable is model:
        return trainable_state
    prefix = next(name for name, mod in model.named_children() if mod is trainable)
    trained = {f"{prefix}.{k}": v for k, v in trainable_state.items()}
    if head_only:
        return trained
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    state.update(trained)
    return state


def skeleton(meta: dict) -> tuple[nn.Module, dict]:
    """The model a checkpoint's ``meta`` describes, built on the ``meta`` device (no
    memory, no random init), and the options it was built with; ``pretrained`` is
    off, since every weight comes from the checkpoint (or the backbone file it names)."""
    options = dict(meta.get("options") or {})
    if "pretrained" in options:
        options["pretrained"] = False
    with torch.device("meta"):
        model, _ = build_model(meta["model"], len(meta.get("classes", GENRES)), **options)
    return model, options


def checkpoint_model(ckpt: dict) -> nn.Module:
    """Rebuild the model of a checkpoint and load its weights.

    The skeleton is built on the ``meta`` device (no memory, no random init: every
    weight comes from the checkpoint, or for a head-only checkpoint from the
    backbone weights file it names), which makes loading VGG19 several times faster."""
    meta = ckpt["meta"]
    model, options = skeleton(meta)
    state = dict(ckpt["state_dict"])
    if meta.get("backbone"):
        from ..models import get_spec
        from ..models.weights import backbone_state_from_file, torch_state

        reader = get_spec(meta["model"]).weights_reader or torch_state
        state.update(backbone_state_from_file(meta["model"], meta["backbone"], reader))
    try:
        model.load_state_dict(state, assign=True)
        stray = [n for n, t in (*model.named_parameters(), *model.named_buffers()) if t.is_meta]
        if stray:
            raise RuntimeError(f"missing tensors: {', '.join(stray[:3])}")
    except RuntimeError as exc:
        raise CheckpointError(f"checkpoint does not fit model {meta['model']!r}: {str(exc).splitlines()[0]}") from None
    if options.get("frozen", True) and hasattr(model, "backbone"):
        for p in model.backbone.parameters():
            p.requires_grad_(False)
    return model.eval()
