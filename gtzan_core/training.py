"""Training: Adam + cross-entropy, early stopping on validation loss, best model kept.

Designed to be driven by the CLI and by the app's job manager: a per-epoch
callback receives the full :class:`EpochLog`, a ``threading.Event`` cancels the
run (checked every batch), and every improvement is checkpointed atomically so a
stopped or killed run keeps its best model.

Speed: the split lives on the device as whole tensors (no DataLoader, no per-batch
host copies or syncs); image models with a frozen backbone run the backbone once
per image (cached on disk next to the features) and train only the head.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import logging
import math
import platform
import threading
import time
import traceback
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from . import GENRES
from .errors import ConfigError, StudioError
from .evaluation import evaluate
from .feature_cache import FeatureSet
from .features import normalize_images
from .hparams import TrainConfig
from .models import build_model, count_parameters, get_spec
from .runs import RunStore
from .splits import LEAKY, PROTOCOLS, segment_split, track_split

log = logging.getLogger(__name__)


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


class Cancelled(Exception):
    pass


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' requested but no CUDA GPU is available")
    try:
        return torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}; use auto, cpu, cuda or mps") from None


def device_label(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


@contextlib.contextmanager
def device_slot(device: torch.device, cancel: threading.Event | None = None, on_wait: Callable | None = None):
    """Exclusive use of a GPU across processes (the app's jobs, CLI runs, other
    servers on the same machine): a file lock per CUDA device under the studio
    home. CPU and MPS runs pass straight through. ``on_wait`` is called once if
    the slot is busy; a set ``cancel`` flag ends the wait (InterruptedError)."""
    if device.type != "cuda":
        yield
        return
    from .locks import file_lock
    from .paths import studio_home

    index = device.index if device.index is not None else torch.cuda.current_device() if torch.cuda.is_available() else 0
    path = studio_home() / "locks" / f"cuda-{index}.lock"
    waited = []

    def should_stop() -> bool:
        if not waited:
            waited.append(True)
            if on_wait:
                on_wait()
        return cancel is not None and cancel.is_set()

    with file_lock(path, poll=0.2, should_stop=should_stop):
        yield


def seed_everything(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# ---------------------------------------------------------------------------
# Frozen backbones: one pass per image, cached
# ---------------------------------------------------------------------------


def _backbone_tag(model_name: str, config: TrainConfig, weights_note: str, pretrained: bool) -> str:
    """What determines the backbone's outputs: architecture + weights (file, or init seed)."""
    weights = weights_note if pretrained else f"random-init-seed{config.seed}"
    blob = f"{model_name}|{config.variant}|{weights}".encode()
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
        with _autocast(device):
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
        import io

        from .runs import atomic_write_bytes

        buf = io.BytesIO()
        np.save(buf, out.numpy())
        try:
            atomic_write_bytes(path, buf.getvalue())
        except OSError as exc:
            log.warning("could not cache backbone outputs: %s", exc)
    return out, False


def _autocast(device: torch.device, amp: bool = True):
    """bf16 autocast on CUDA (mixed precision); a no-op elsewhere or when ``amp`` is off."""
    if device.type == "cuda" and amp:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


#: Models trained in full float32 even on CUDA: cuDNN's recurrent kernels are the
#: part of the stack least likely to support bf16 everywhere.
NO_AMP = {"lstm", "gru"}


# ---------------------------------------------------------------------------
# The training loop
# ---------------------------------------------------------------------------


@torch.no_grad()
def _predict_logits(model: nn.Module, x: torch.Tensor, idx: torch.Tensor, prep, device, batch: int = 512,
                    amp: bool = True):
    model.eval()
    out = []
    for i in range(0, len(idx), batch):
        with _autocast(device, amp):
            out.append(model(prep(x[idx[i:i + batch]])).float())
    return torch.cat(out) if out else torch.zeros(0, len(GENRES), device=device)


def _loss_acc(logits: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    if len(y) == 0:
        return float("nan"), float("nan")
    loss = nn.functional.cross_entropy(logits, y).item()
    acc = (logits.argmax(1) == y).float().mean().item()
    return loss, acc


def train(
    config: TrainConfig,
    features: FeatureSet,
    store: RunStore | None = None,
    on_epoch: Callable[[EpochLog], None] | None = None,
    cancel: threading.Event | None = None,
    progress: Callable | None = None,
    run_id: str | None = None,
    dataset_info: dict | None = None,
) -> dict:
    """Train ``config.model`` on ``features``; returns the final run record.

    ``store``/``run_id``: where the run is recorded (a new run is created when
    ``run_id`` is None). The record's status ends as ``finished``, ``cancelled``
    (best checkpoint kept) or ``failed`` (with the error).
    """
    config.validate()
    store = store or RunStore()
    spec = get_spec(config.model)
    cancel = cancel or threading.Event()
    dataset_info = dataset_info or {"label": features.dataset_label, "fingerprint": features.fingerprint}
    base_record = {
        "model": config.model, "title": spec.title, "input_kind": spec.input_kind, "citation": spec.citation,
        "protocol": config.protocol, "protocol_note": PROTOCOLS.get(config.protocol, ""),
        "leaky": config.protocol in LEAKY, "config": config.as_dict(), "dataset": dataset_info,
        "mfcc_params": features.mfcc_params.as_dict(), "image_params": features.image_params.as_dict(),
        "classes": list(GENRES), "history": [], "torch": torch.__version__, "python": platform.python_version(),
    }
    if run_id is None:
        run_id = store.new_run(base_record)
    else:
        store.update(run_id, **base_record)
    try:
        device = resolve_device(config.device)
        with device_slot(device, cancel, on_wait=lambda: store.update(run_id, status="queued",
                                                                       phase="waiting for the GPU")):
            return _train(config, features, store, run_id, spec, device, on_epoch, cancel, progress)
    except (Cancelled, InterruptedError):
        record = store.read(run_id)
        if record.get("status") not in ("cancelled", "finished"):
            record = store.update(run_id, status="cancelled", finished=time.time(),
                                  error="cancelled before the first epoch finished")
        return record
    except StudioError as exc:
        store.update(run_id, status="failed", error=str(exc), finished=time.time())
        raise
    except Exception as exc:
        store.update(run_id, status="failed", error=f"{type(exc).__name__}: {exc}", finished=time.time(),
                     traceback=traceback.format_exc()[-4000:])
        raise


def run_epoch(model: nn.Module, opt, x: torch.Tensor, y: torch.Tensor, order: torch.Tensor, batch_size: int,
              prep, device: torch.device, cancel: threading.Event | None = None, amp: bool = True):
    """One pass over ``order`` (sample indices on the device) in mini-batches.

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
        with _autocast(device, amp):
            logits = model(xb)
            loss = nn.functional.cross_entropy(logits.float(), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_sum += loss.detach() * len(idx)
        correct += (logits.argmax(1) == yb).sum()
        seen += len(idx)
    return loss_sum, correct, seen


def _dist_world() -> tuple[int, int]:
    """(world size, rank) when running under an initialised torch.distributed group."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_world_size(), torch.distributed.get_rank()
    return 1, 0


def _train(config, features, store, run_id, spec, device, on_epoch, cancel, progress) -> dict:
    seed_everything(config.seed)
    synthetic = features.dataset_label != "GTZAN"
    t_start = time.perf_counter()

    # -- data and split ------------------------------------------------------
    if spec.input_kind == "mfcc":
        split = segment_split(features.tracks, features.seg_track, config.protocol, config.seed,
                              config.val_frac, config.test_frac, synthetic)
        x_all = torch.from_numpy(np.ascontiguousarray(features.mfcc))
        y_all = torch.from_numpy(np.array(features.seg_labels))
        groups = features.seg_track
    else:
        if features.images.ndim != 4 or features.images.shape[1] == 0:
            raise ConfigError("these features were extracted without spectrogram images (image source 'none')")
        split = track_split(features.tracks, config.protocol, config.seed, config.val_frac, config.test_frac, synthetic)
        x_all = None
        y_all = torch.from_numpy(np.array(features.track_labels))
        groups = np.arange(len(features.tracks))
    if len(split.train) == 0 or len(split.val) == 0 or len(split.test) == 0:
        raise ConfigError(f"the {config.protocol} split leaves an empty set {split.sizes()}: the dataset is too small")

    # -- model ---------------------------------------------------------------
    frames, n_mfcc = features.mfcc.shape[1:]
    options = {"frames": frames, "n_mfcc": n_mfcc}
    if spec.input_kind == "image":
        options = {"pretrained": config.pretrained, "frozen": config.freeze_backbone}
        if config.model == "resnext" and config.variant:
            options["variant"] = config.variant
    model, wstatus = build_model(config.model, len(GENRES), **options)
    if spec.input_kind == "image" and config.pretrained and not wstatus.pretrained:
        log.warning("%s: %s", config.model, wstatus.source)

    backbone_cached = None
    if spec.input_kind == "mfcc":
        if config.standardize:
            model.norm.fit(x_all[torch.from_numpy(split.train)])
        trainable, x_src, prep = model, x_all, (lambda x: x)
    elif config.freeze_backbone:
        store.update(run_id, status="running", phase="backbone pass")
        tag = _backbone_tag(config.model, config, wstatus.source, wstatus.pretrained)
        x_src, backbone_cached = cached_backbone_outputs(features, model.backbone, tag, device, progress, cancel)
        trainable, prep = model.head, (lambda x: x)
    else:  # full fine-tuning: uint8 images live on the device, normalised per batch there
        trainable, x_src, prep = model, torch.from_numpy(features.images), normalize_images

    trainable = trainable.to(device)
    x_dev = x_src.to(device)
    y_dev = y_all.to(device)
    tr, va, te = (torch.from_numpy(s).to(device) for s in (split.train, split.val, split.test))
    params = [p for p in trainable.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    gen = torch.Generator().manual_seed(config.seed)

    record = store.update(
        run_id, status="running", phase="training", device=device_label(device), pretrained=wstatus.pretrained,
        weights_note=wstatus.source, trainable_params=count_parameters(model), total_params=count_parameters(model, False),
        split={**split.sizes(), "unit": split.unit, "note": split.note}, backbone_cached=backbone_cached,
        image_sources=({str(k): int(v) for k, v in features.tracks["image_source"].value_counts().items()}
                       if spec.input_kind == "image" else None),
        started=time.time(),
    )
    ckpt_meta = {"model": config.model, "options": options, "mfcc_params": features.mfcc_params.as_dict(),
                 "image_params": features.image_params.as_dict(), "classes": list(GENRES), "run_id": run_id,
                 "dataset": record["dataset"], "pretrained": wstatus.pretrained}

    best_loss, best_state, best_epoch, since_best = math.inf, None, 0, 0
    history: list[dict] = []
    status = "finished"
    n_train = len(tr)
    bs = config.batch_size
    amp = config.model not in NO_AMP
    store.update(run_id, mixed_precision="bf16" if device.type == "cuda" and amp else None)
    world, rank = _dist_world()
    step_model = trainable
    if world > 1:  # under torchrun: gradients are all-reduced, every rank sees its own shard
        from torch.nn.parallel import DistributedDataParallel

        step_model = DistributedDataParallel(trainable, device_ids=[device.index] if device.type == "cuda" else None)
        store.update(run_id, world_size=world)
    for epoch in range(1, config.epochs + 1):
        t_epoch = time.perf_counter()
        perm = tr[torch.randperm(n_train, generator=gen).to(device)]  # same on every rank (same seed)
        if world > 1:
            perm = perm[: n_train - n_train % world][rank::world]
        loss_sum, correct, seen = run_epoch(step_model, opt, x_dev, y_dev, perm, bs, prep, device, cancel, amp)
        if cancel.is_set():
            status = "cancelled"
            break
        if world > 1:
            stats = torch.stack([loss_sum, correct, torch.tensor(float(seen), device=device)])
            torch.distributed.all_reduce(stats)
            loss_sum, correct, seen = stats[0], stats[1], int(stats[2].item())
        train_loss, train_acc = (loss_sum / seen).item(), (correct / seen).item()
        val_loss, val_acc = _loss_acc(_predict_logits(trainable, x_dev, va, prep, device, amp=amp), y_dev[va])
        improved = val_loss < best_loss - 1e-6
        if improved:
            best_loss, best_epoch, since_best = val_loss, epoch, 0
            best_state = copy.deepcopy({k: v.detach().cpu() for k, v in trainable.state_dict().items()})
            model_state = _full_state(model, trainable, best_state)
            store.save_checkpoint(run_id, model_state, {**ckpt_meta, "epoch": epoch, "val_loss": val_loss})
        else:
            since_best += 1
        entry = EpochLog(epoch, train_loss, train_acc, val_loss, val_acc, time.perf_counter() - t_epoch,
                         time.perf_counter() - t_start, improved)
        history.append(asdict(entry))
        store.update(run_id, history=history, epochs_run=epoch, best_epoch=best_epoch, best_val_loss=best_loss)
        if on_epoch:
            on_epoch(entry)
        if since_best >= config.patience:
            break

    if best_state is None:
        store.update(run_id, status="cancelled", finished=time.time(), error="stopped before the first epoch finished")
        raise Cancelled()
    trainable.load_state_dict(best_state)
    store.update(run_id, phase="evaluating")
    logits = _predict_logits(trainable, x_dev, te, prep, device, amp=amp)
    probs = torch.softmax(logits.float(), 1).cpu().numpy()
    test_idx = split.test
    evaluation = evaluate(probs, y_all.numpy()[test_idx], groups[test_idx])
    evaluation["leaky"] = split.leaky
    train_seconds = time.perf_counter() - t_start
    return store.update(run_id, status=status, phase="done", evaluation=evaluation, finished=time.time(),
                        train_seconds=train_seconds, early_stopped=since_best >= config.patience)


def _full_state(model: nn.Module, trainable: nn.Module, trainable_state: dict) -> dict:
    """The whole model's state dict with ``trainable``'s entries taken from ``trainable_state``."""
    if trainable is model:
        return trainable_state
    prefix = next(name for name, mod in model.named_children() if mod is trainable)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    state.update({f"{prefix}.{k}": v for k, v in trainable_state.items()})
    return state


def checkpoint_model(ckpt: dict) -> nn.Module:
    """Rebuild the model of a checkpoint and load its weights.

    The skeleton is built on the ``meta`` device (no memory, no random init: every
    weight comes from the checkpoint), which makes loading VGG19 several times faster."""
    meta = ckpt["meta"]
    options = dict(meta.get("options") or {})
    if "pretrained" in options:
        options["pretrained"] = False  # all weights come from the checkpoint
    with torch.device("meta"):
        model, _ = build_model(meta["model"], len(meta.get("classes", GENRES)), **options)
    try:
        model.load_state_dict(ckpt["state_dict"], assign=True)
        stray = [n for n, t in (*model.named_parameters(), *model.named_buffers()) if t.is_meta]
        if stray:
            raise RuntimeError(f"missing tensors: {', '.join(stray[:3])}")
    except RuntimeError as exc:
        from .errors import CheckpointError

        raise CheckpointError(f"checkpoint does not fit model {meta['model']!r}: {str(exc).splitlines()[0]}") from None
    return model.eval()
