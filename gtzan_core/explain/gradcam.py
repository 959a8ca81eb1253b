"""Grad-CAM (Selvaraju et al. 2017) on the last convolutional block of the CNN,
VGG19, ResNeXt, SqueezeNet and EfficientNet-Lite0: the block's feature maps
weighted by the mean gradient of the genre's logit, rectified and resized to the
model's input. (musicnn max-pools each convolution over frequency at once, so it
has no time x frequency feature map to weight: occlusion explains it instead.)"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .inputs import ModelInput

CONV_MODELS = ("cnn", "vgg19", "resnext", "squeezenet", "efficientnet_lite0")


def target_layer(model_name: str, model: nn.Module) -> nn.Module:
    """The last convolutional block (its output feature maps) of a conv model."""
    if model_name == "cnn":
        return model.features[10]  # ReLU after conv 120 (before the last max-pool)
    if model_name == "vgg19":
        return model.backbone[0][35]  # ReLU after the 16th conv (before the last max-pool)
    if model_name == "resnext":
        return model.backbone.layer4
    if model_name == "squeezenet":
        return model.backbone[12]  # the last Fire module
    if model_name == "efficientnet_lite0":
        return model.backbone.bn2  # the head conv's batch norm + ReLU6 (1280 x 7 x 7), before pooling
    raise ValueError(f"Grad-CAM applies to {', '.join(CONV_MODELS)}, not {model_name!r}")


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
            size = inp.x.shape[1:] if inp.kind == "mfcc" else inp.x.shape[2:]
            cam = F.interpolate(cam, size=tuple(size), mode="bilinear", align_corners=False)[:, 0]
            peak = cam.flatten(1).max(1).values.clamp_min(1e-12)[:, None, None]
            out.append((cam / peak).numpy())
    finally:
        handle.remove()
    return np.concatenate(out).astype(np.float32)
