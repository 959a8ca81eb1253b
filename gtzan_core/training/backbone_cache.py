"""Frozen backbones: one pass per input, cached on disk beside the features.

With the backbone frozen, its output for an input (a picture, or a musicnn
log-mel patch) never changes, so training runs it once over the dataset and fits
only the head on the stored outputs. The cache file is named by what determines
those outputs: the architecture, the weights (their SHA-256, or the seed of a
random initialisation), the input size and how many inputs there are.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from ..feature_cache import FeatureSet
from ..features import normalize_images
from .device import autocast
from .loop import Cancelled

log = logging.getLogger(__name__)


def backbone_tag(model_name: str, variant: str | None, weights_id: str | None, seed: int, input_size,
                 n_inputs: int | None = None) -> str:
    """What determines the backbone's outputs: architecture, weights (hash, or init seed),
    input size, and the number of inputs (a subset of a feature entry gets its own file)."""
    weights = weights_id if weights_id else f"random-init-seed{seed}"
    blob = f"{model_name}|{variant}|{weights}|{input_size}|{n_inputs}".encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def image_prep(normalization: str = "imagenet") -> Callable:
    """uint8 pictures -> the float tensor a model with ``normalization`` takes."""
    return lambda batch: normalize_images(batch, normalization)


@torch.inference_mode()
def backbone_outputs(backbone: nn.Module, inputs: np.ndarray, device: torch.device, batch: int = 32,
                     progress: Callable | None = None, cancel: threading.Event | None = None,
                     prep: Callable | None = None) -> torch.Tensor:
    """Run a frozen backbone over all ``inputs`` once: (N, ...) float32 on the CPU.
    ``prep`` turns a slice of ``inputs`` into the model's tensor (default: uint8
    pictures with ImageNet normalisation)."""
    prep = prep or image_prep()
    backbone = backbone.to(device).eval()
    outs = []
    n = len(inputs)
    for i in range(0, n, batch):
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        x = torch.as_tensor(prep(inputs[i:i + batch])).to(device, non_blocking=True)
        with autocast(device):
            outs.append(backbone(x).float().cpu())
        if progress:
            progress(min(i + batch, n), n, "backbone pass")
    return torch.cat(outs)


def cached_backbone_outputs(features: FeatureSet, backbone: nn.Module, tag: str, device: torch.device,
                            progress=None, cancel=None, *, inputs: np.ndarray,
                            prep: Callable | None = None) -> tuple[torch.Tensor, bool]:
    """Backbone outputs for every one of ``inputs`` (the samples of ``features`` a model reads),
    from disk (beside the features' cache entry) when cached."""
    path = features.path / f"backbone-{tag}.npy" if features.path else None
    if path is not None and path.is_file():
        try:
            arr = np.load(path, allow_pickle=False)
            if arr.shape[0] == len(inputs):
                return torch.from_numpy(arr), True
        except (OSError, ValueError):
            pass
    out = backbone_outputs(backbone, inputs, device, progress=progress, cancel=cancel, prep=prep)
    if path is not None:
        from ..fileio import atomic_write_bytes

        buf = io.BytesIO()
        np.save(buf, out.numpy())
        try:
            atomic_write_bytes(path, buf.getvalue())
        except OSError as exc:
            log.warning("could not cache backbone outputs: %s", exc)
    return out, False
