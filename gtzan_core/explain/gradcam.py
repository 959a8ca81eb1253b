"""Grad-CAM (Selvaraju et al. 2017) on the last convolutional block of the CNN,
VGG19, ResNeXt, SqueezeNet and EfficientNet-Lite0 (the layer each ``ModelSpec``
names in ``gradcam_layer``): the block's feature maps weighted by the mean gradient
of the genre's logit, rectified and resized to the model's input (the size its
input kind gives). (musicnn max-pools each convolution over frequency at once, so
it has no time x frequency feature map to weight: occlusion explains it instead.)"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..inputs import ModelInput, get_kind
from ..models import MODELS, get_spec


def conv_models() -> tuple[str, ...]:
    """The models Grad-CAM applies to: those whose spec names its layer (``ModelSpec.gradcam_layer``)."""
    return tuple(name for name, spec in MODELS.items() if spec.gradcam_layer)


CONV_MODELS = conv_models()  # the built-in ones, for messages


def target_layer(model_name: str, model: nn.Module) -> nn.Module:
    """The last convolutional block (its output feature maps) of a conv model: the layer
    its spec names."""
    layer = get_spec(model_name).gradcam_layer
    if layer is None:
        raise ValueError(f"Grad-CAM applies to {', '.join(conv_models())}, not {model_name!r}")
    return model.get_submodule(layer)


def gradcam_map(model: nn.Module, model_name: str, inp: ModelInput, genre: int, batch: int = 64) -> np.ndarray:
    """(rows, H, W) maps in [0, 1] over the input grid (frames x coefficients or pixels)."""
    layer = target_layer(model_name, model)
    captured: list[torch.Tensor] = []

    def hook(_module, _inputs, output):
        output = output.detach().requires_grad_(True)  # frozen backbones: a graph from here on
        captured.append(output)
        return output

    handle = layer.register_forward_hook(hook)
    model.eval()
    out = []
    try:
        for i in range(0, len(inp.x), batch):
            captured.clear()
            with torch.enable_grad():
                logits = model(inp.x[i:i + batch].float())
                acts = captured[-1]
                (grads,) = torch.autograd.grad(logits[:, genre].sum(), acts)
            weights = grads.mean((2, 3), keepdim=True)
            cam = F.relu((weights * acts).sum(1, keepdim=True)).detach()
            size = get_kind(inp.kind).map_size(inp.x)  # the input's own grid: frames x bands, or pixels
            cam = F.interpolate(cam, size=size, mode="bilinear", align_corners=False)[:, 0]
            peak = cam.flatten(1).max(1).values.clamp_min(1e-12)[:, None, None]
            out.append((cam / peak).numpy())
    finally:
        handle.remove()
    return np.concatenate(out).astype(np.float32)
