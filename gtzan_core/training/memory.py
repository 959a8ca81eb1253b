"""A training job's memory, estimated before anything is allocated, and the budget it
must fit (``GTZAN_STUDIO_MAX_JOB_MB``; unset: the machine's physical memory).

The estimate adds what a run of the epoch loop holds at once:

- **weights**: every parameter and buffer of the model, float32 (a frozen backbone's too:
  it is loaded to compute its outputs once);
- **gradients**: one float32 per trainable parameter;
- **optimiser state**: Adam's and AdamW's two moments, two floats per trainable parameter;
- **activations**: the tensors autograd keeps for the backward pass of one training
  sample (counted by ``saved_tensors_hooks`` on PyTorch's ``meta`` device, where nothing
  is allocated; weights left out), times the batch size; and validation's largest single
  tensor, twice, at its batch of 512 (no gradients kept);
- **runtime**: the interpreter with PyTorch and the studio loaded (:data:`RUNTIME_MB`,
  measured by ``bench/memory_estimate.py``).

The dataset's own arrays are not counted: they are known only when the job opens its
dataset, and on GTZAN they are small beside the rest (the cached features of 1,000
tracks are a few hundred MB at most). The scikit-learn models hold the runtime and their
data only. ``bench/memory_estimate.py`` sets the estimate beside the measured peak
resident memory of five configurations (bench/README.md).
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass

from ..errors import ConfigError

log = logging.getLogger(__name__)

#: resident memory of a training process apart from its model: Python, PyTorch (its CUDA build),
#: NumPy, scikit-learn and the studio loaded, a small dataset's features read (bench/memory_estimate.py:
#: 0.85 GB for the imports alone, 1.1-1.2 GB training models of under 0.25M parameters)
RUNTIME_MB = 1100
#: networks of at most this many parameters (and buffers) are measured on the CPU (a few MB at most)
SMALL_ON_CPU = 2_000_000
#: the batch validation and test predictions are computed in (gtzan_core.training.loop.predict_logits)
EVAL_BATCH = 512
_F32 = 4


class MemoryBudgetError(ConfigError):
    """A job whose estimated memory is over the instance's budget."""


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a job is expected to hold at its peak, by what holds them."""

    model: str
    batch_size: int
    parameters: int
    trainable: int
    weights: int
    gradients: int
    optimizer: int
    activations: int
    runtime: int = RUNTIME_MB * 2**20

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.optimizer + self.activations + self.runtime

    def describe(self) -> str:
        """"about 2.1 GB (weights 0.3 GB, gradients ..., ...)": one line."""
        parts = [("weights", self.weights), ("gradients", self.gradients), ("optimiser state", self.optimizer),
                 (f"activations at batch {self.batch_size}", self.activations), ("runtime", self.runtime)]
        return f"about {_size(self.total)} ({', '.join(f'{name} {_size(n)}' for name, n in parts if n)})"


def _size(n: float) -> str:
    if n >= 2**30:
        return f"{n / 2**30:.1f} GB"
    return f"{n / 2**20:.0f} MB" if n >= 10 * 2**20 else f"{n / 2**20:.1f} MB"


def estimate(config) -> MemoryEstimate | None:
    """The memory of a job training ``config`` (a checked
    :class:`~gtzan_core.hparams.TrainConfig`); None when the model cannot be built on the
    ``meta`` device (a registered model of someone's own: then it is not estimated)."""
    from ..models import get_spec

    spec = get_spec(config.model)
    if spec.fit is not None:  # fitted by scikit-learn: no network, no batches
        return MemoryEstimate(config.model, config.batch_size, 0, 0, 0, 0, 0, 0)
    frozen = bool(spec.frozen_backbone and config.freeze_backbone)
    options = tuple(sorted(config.model_options().items()))
    try:
        params, trainable, per_sample, largest = _per_sample(config.model, frozen, config.variant, options)
    except Exception as exc:  # noqa: BLE001 - a model of someone's own that meta tensors cannot build
        log.warning("no memory estimate for %s: %s: %s", config.model, type(exc).__name__, exc)
        return None
    batch = int(config.batch_size)
    return MemoryEstimate(config.model, batch, params, trainable, weights=params * _F32,
                          gradients=trainable * _F32, optimizer=2 * trainable * _F32,
                          activations=per_sample * batch + 2 * largest * EVAL_BATCH)


@functools.lru_cache(maxsize=64)
def _per_sample(model: str, frozen: bool, variant: str | None, options: tuple) -> tuple[int, int, int, int]:
    """(parameters, trainable parameters, bytes autograd keeps for one sample's backward pass
    through the trained part, bytes of the largest tensor one layer outputs), on the ``meta``
    device (nothing allocated), or on the CPU for a network of at most :data:`SMALL_ON_CPU`
    parameters (at most 8 MB of weights and two samples' tensors)."""
    import torch

    from .. import GENRES
    from ..models import build_model, get_spec

    spec = get_spec(model)
    kw: dict = dict(options)
    if spec.frozen_backbone:
        kw.update(pretrained=False, frozen=frozen)  # (never reads a weights file: the shapes are the same)
        if variant:
            kw["variant"] = variant
    with torch.device("meta"):
        net, _ = build_model(model, len(GENRES), **kw)
        x = torch.zeros((2, *spec.input_shape()))  # (two samples: batch norm trains on more than one)
        if frozen:
            with torch.no_grad():
                x = net.backbone(x)
    trained = net.head if frozen else net
    params = sum(p.numel() for p in net.parameters()) + sum(b.numel() for b in net.buffers())
    trainable = sum(p.numel() for p in trained.parameters())
    if params <= SMALL_ON_CPU and not frozen:
        # a small network's two-sample pass is counted on the CPU: the same tensors, and a recurrent network's
        # steps run in C++ there (on ``meta`` each is decomposed in Python: seconds for 130 frames)
        with torch.device("cpu"):
            net, _ = build_model(model, len(GENRES), **kw)
        trained, x = net, torch.zeros((2, *spec.input_shape()))

    largest = [0]

    def hook(module, args, out):  # the largest tensor a layer makes (validation's peak, without gradients)
        for t in out if isinstance(out, tuple | list) else (out,):
            if isinstance(t, torch.Tensor):
                largest[0] = max(largest[0], t.numel() * t.element_size())

    hooks = [m.register_forward_hook(hook) for m in trained.modules() if not list(m.children())]
    weights = {id(p) for p in net.parameters()}
    saved: dict[int, int] = {}

    def pack(t):  # a tensor autograd keeps for the backward pass: an activation unless it is a weight (or a view)
        base = t._base if t._base is not None else t
        if id(base) not in weights and id(t) not in weights:
            saved[id(base)] = base.numel() * base.element_size()
        return t

    trained.train()
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            trained(x)
    finally:
        for h in hooks:
            h.remove()
    return params, trainable, sum(saved.values()) // 2, largest[0] // 2


def budget_bytes() -> int:
    """The memory one job may take: ``GTZAN_STUDIO_MAX_JOB_MB``, else this machine's physical memory."""
    from .. import settings

    mb = settings.get("GTZAN_STUDIO_MAX_JOB_MB")
    if mb is not None:
        return int(mb) * 2**20
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # (not on this OS: no budget but the setting's)
        return 2**62


def check_memory(config) -> MemoryEstimate | None:
    """Refuse ``config`` when its job's estimated memory is over the budget, naming the
    estimate and the limit (:class:`MemoryBudgetError`); returns the estimate."""
    found = estimate(config)
    limit = budget_bytes()
    if found is not None and found.total > limit:
        from .. import settings
        from ..models import get_spec

        source = ("GTZAN_STUDIO_MAX_JOB_MB" if settings.get("GTZAN_STUDIO_MAX_JOB_MB") is not None
                  else "this machine's memory")
        shape = ", ".join(f"{k} {v}" for k, v in config.model_options().items())
        raise MemoryBudgetError(
            f"{get_spec(config.model).title}{f' ({shape})' if shape else ''} at batch size {config.batch_size} "
            f"would need {found.describe()}: over the memory budget of {_size(limit)} per job ({source}); "
            "choose a smaller model or batch")
    return found
