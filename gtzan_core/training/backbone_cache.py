"""Frozen backbones: one pass per image, cached on disk beside the features.

With the backbone frozen, its output for an image never changes, so training
runs it once over the dataset and fits only the head on the stored outputs. The
cache file is named by what determines those outputs: the architecture, the
weights (their SHA-256, or the seed of a random initialisation) and the image size.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..feature_cache import FeatureSet
from ..features import normalize_images
from .device import autocast
from .loop import Cancelled

log = logging.getLogger(__name__)


def backbone_tag(model_name: str, variant: str | None, weights_id: str | None, seed: int, image_size: int) -> str:
    """What determines the backbone's outputs: architecture, weights (hash, or init seed), input size."""
    weights = weights_id if weights_id else f"random-init-seed{seed}"
    blob = f"{model_name}|{variant}|{weights}|{image_size}".encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@torch.inference_mode()
def backbone_outputs(backbone: nn.Module, images_uint8: np.ndarray, device: torch.device, batch: int = 32,
                     progress: Callable | None = None, cancel: threading.Event | None = None) -> torch.Tensor:
    """Run a frozen backbone over all images once: (N, ...) float32 on the CPU."""
    backbone = backbone.to(device).eval()
    outs = []
    n = len(images_uint8)
    for i in range(0, n, batch):
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        x = normalize_images(images_uint8[i:i + batch]).to(device, non_blocking=True)
        with autocast(device):
            outs.append(backbone(x).float().cpu())
        if progress:
            progress(min(i + batch, n), n, "backbone pass")
    return torch.cat(outs)


def cached_backbone_outputs(features: FeatureSet, backbone: nn.Module, tag: str, device: torch.device,
                            progress=None, cancel=None) -> tuple[torch.Tensor, bool]:
    """Backbone outputs for every image of ``features``, from disk when cached."""
    path = features.path / f"backbone-{tag}.npy" if features.path else None
    if path is not None and path.is_file():
        try:
            arr = np.load(path, allow_pickle=False)
            if arr.shape[0] == len(features.images):
                return torch.from_numpy(arr), True
        except (OSError, ValueError):
            pass
    out = backbone_outputs(backbone, features.images, device, progress=progress, cancel=cancel)
    if path is not None:
        from ..runs import atomic_write_bytes

        buf = io.BytesIO()
        np.save(buf, out.numpy())
        try:
            atomic_write_bytes(path, buf.getvalue())
        except OSError as exc:
            log.warning("could not cache backbone outputs: %s", exc)
    return out, False
