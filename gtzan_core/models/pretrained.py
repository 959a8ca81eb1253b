"""The paper's fine-tuned image models, as in its code (see ``paper-recipe.md``).

Each model is a :class:`FineTuneModel`: a ``backbone`` (the torchvision network
without its last layer) and a new ``head``. With the backbone frozen, training
runs the backbone once per image and fits the head on the cached outputs.

=============  ======================================  =====================================  ======  ===========
model          backbone (weights)                      head                                   input   trainable
=============  ======================================  =====================================  ======  ===========
vgg19          ``vgg19`` (ImageNet IMAGENET1K_V1),     25088 -> 4096 -> 512 -> 256 -> 10,      224²    104,996,106
               average pool removed                    ReLU + dropout 0.5 after each hidden
resnext        ``resnext101_32x8d`` with the WSL       Linear(2048, 10)                        256²    20,490
               (Instagram) weights
squeezenet     ``squeezenet1_1`` (ImageNet)            the classifier with its last conv       256²    5,130
                                                       replaced by Conv2d(512, 10, 1)
=============  ======================================  =====================================  ======  ===========

ResNeXt has named variants for smaller machines: ``resnext101_32x8d`` and
``resnext50_32x4d`` with torchvision's ImageNet weights.

Weights come from the torch hub cache (``$TORCH_HOME/hub/checkpoints/<file>``),
downloaded there when the machine has internet. When the file is missing or
cannot be read, the backbone keeps its random initialisation and the caller is
told so: run records then say ``pretrained: false``. A loaded file is identified
by name and SHA-256 (:func:`weights_sha256`), so a head-only checkpoint can name
the backbone it sits on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from ..errors import CheckpointError, ConfigError
from .layers import Dropout

log = logging.getLogger(__name__)


class FineTuneModel(nn.Module):
    def __init__(self, backbone: nn.Module, head: nn.Module, frozen: bool = True):
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.frozen = frozen
        if frozen:
            for p in self.backbone.parameters():
                p.requires_grad_(False)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.frozen:
            self.backbone.eval()  # frozen batch-norm statistics and no dropout in the backbone
        return self

    def forward(self, x):
        return self.head(self.backbone(x))


# ---------------------------------------------------------------------------
# Weights
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BackboneWeights:
    """One pretrained weights file: where it comes from and what it is."""

    name: str  # e.g. "vgg19 IMAGENET1K_V1"
    arch: str  # the torchvision constructor it loads into
    url: str

    @property
    def file(self) -> str:
        return os.path.basename(self.url)


_TV = "https://download.pytorch.org/models/"
WEIGHTS: dict[str, BackboneWeights] = {
    "vgg19": BackboneWeights("vgg19 ImageNet (IMAGENET1K_V1)", "vgg19", _TV + "vgg19-dcbb9e9d.pth"),
    "squeezenet": BackboneWeights("squeezenet1_1 ImageNet (IMAGENET1K_V1)", "squeezenet1_1",
                                  _TV + "squeezenet1_1-b8a52dc0.pth"),
    # Mahajan et al. 2018, facebookresearch/WSL-Images `resnext101_32x8d_wsl`: the same module
    # layout as torchvision's resnext101_32x8d.
    "resnext101_32x8d_wsl": BackboneWeights("resnext101_32x8d WSL (Instagram, Mahajan et al. 2018)",
                                            "resnext101_32x8d", _TV + "ig_resnext101_32x8-c38310e5.pth"),
    "resnext101_32x8d": BackboneWeights("resnext101_32x8d ImageNet (IMAGENET1K_V2)", "resnext101_32x8d",
                                        _TV + "resnext101_32x8d-110c445d.pth"),
    "resnext50_32x4d": BackboneWeights("resnext50_32x4d ImageNet (IMAGENET1K_V2)", "resnext50_32x4d",
                                       _TV + "resnext50_32x4d-1a0047aa.pth"),
}
#: ResNeXt variants, the paper's first.
RESNEXT_VARIANTS = ("resnext101_32x8d_wsl", "resnext101_32x8d", "resnext50_32x4d")
DEFAULT_RESNEXT = RESNEXT_VARIANTS[0]


def backbone_weights(model_name: str, variant: str | None = None) -> BackboneWeights:
    """The weights file of one of our image models (``variant``: ResNeXt only)."""
    if model_name == "resnext":
        variant = variant or DEFAULT_RESNEXT
        if variant not in RESNEXT_VARIANTS:
            raise ConfigError(f"unknown ResNeXt variant {variant!r}; choose {', '.join(RESNEXT_VARIANTS)}")
        return WEIGHTS[variant]
    if model_name in WEIGHTS:
        return WEIGHTS[model_name]
    raise ConfigError(f"model {model_name!r} has no pretrained backbone")


def weights_path(weights: BackboneWeights) -> Path:
    """Where the hub cache keeps ``weights`` (honours $TORCH_HOME)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / weights.file


def imagenet_weights_available(model_name: str, variant: str | None = None) -> bool:
    """Whether the hub cache already holds the weights of ``model_name``."""
    return weights_path(backbone_weights(model_name, variant)).is_file()


_hash_lock = threading.Lock()
_hash_memo: dict[tuple, str] = {}


def weights_sha256(path: Path) -> str:
    """SHA-256 of a weights file, memoised per (path, size, mtime) in the process and
    in a ``.sha256.json`` file beside it (hashing VGG19's 548 MB costs about a second)."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _hash_lock:
        if key in _hash_memo:
            return _hash_memo[key]
    side = path.with_name(path.name + ".sha256.json")
    try:
        saved = json.loads(side.read_text())
        if saved.get("size") == st.st_size and saved.get("mtime_ns") == st.st_mtime_ns:
            digest = str(saved["sha256"])
            with _hash_lock:
                _hash_memo[key] = digest
            return digest
    except (OSError, ValueError, KeyError, AttributeError):
        pass
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    digest = h.hexdigest()
    try:
        side.write_text(json.dumps({"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}))
    except OSError:
        pass
    with _hash_lock:
        _hash_memo[key] = digest
    return digest


@dataclass
class WeightsStatus:
    pretrained: bool
    source: str  # file path, or why random init was used
    weights: str | None = None  # the weights' name (see WEIGHTS)
    file: str | None = None
    sha256: str | None = None

    def backbone_ref(self) -> dict | None:
        """What a head-only checkpoint records about the backbone it sits on."""
        if not self.pretrained:
            return None
        return {"weights": self.weights, "file": self.file, "sha256": self.sha256}

    def as_dict(self) -> dict:
        return asdict(self)


def fetch_weights(weights: BackboneWeights, allow_download: bool | None = None) -> Path | None:
    """The weights file in the hub cache, downloaded first when allowed (``None``: unless
    ``$GTZAN_STUDIO_OFFLINE`` is set). Never raises for missing weights."""
    path = weights_path(weights)
    if allow_download is None:
        allow_download = os.environ.get("GTZAN_STUDIO_OFFLINE", "") in ("", "0")
    if not path.is_file() and allow_download:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(weights.url, str(path), progress=False)
        except Exception as exc:  # no internet, proxy, disk...
            log.warning("could not download %s: %s", weights.url, exc)
            path.unlink(missing_ok=True)
    return path if path.is_file() else None


def load_pretrained(net: nn.Module, weights: BackboneWeights, allow_download: bool | None = None) -> WeightsStatus:
    """Load ``weights`` into the torchvision network ``net``. Never raises for missing
    or unreadable weights: the status says why random initialisation was kept."""
    path = fetch_weights(weights, allow_download)
    if path is None:
        return WeightsStatus(False, f"{weights.name} weights not found at {weights_path(weights)}; "
                                    "using random initialisation")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        net.load_state_dict(state)
    except Exception as exc:
        return WeightsStatus(False, f"{weights.name} weights at {path} could not be loaded "
                                    f"({str(exc).splitlines()[0][:200]}); using random initialisation")
    return WeightsStatus(True, str(path), weights.name, weights.file, weights_sha256(path))


#: How each model's backbone keys relate to its weights file: (prefix in the file,
#: prefix in our model). Keys outside the file prefix (the replaced classifier) are dropped.
_BACKBONE_KEYS = {"vgg19": ("features.", "backbone.0."), "squeezenet": ("features.", "backbone."),
                  "resnext": ("", "backbone.")}


def backbone_state_from_file(model_name: str, ref: dict) -> dict:
    """The backbone entries of a model's state dict, read from the weights file a
    head-only checkpoint names (``ref``: weights, file, sha256). Raises
    :class:`CheckpointError` when the file is missing or is not the same file."""
    known = next((w for w in WEIGHTS.values() if w.file == ref.get("file")), None)  # never a path from a file
    path = fetch_weights(known) if known is not None else None
    if path is None:
        raise CheckpointError(f"this run keeps only its trained head; the backbone weights it sits on "
                              f"({ref.get('weights')}, file {ref.get('file')}) are not in "
                              f"{Path(torch.hub.get_dir()) / 'checkpoints'}")
    if weights_sha256(path) != ref.get("sha256"):
        raise CheckpointError(f"{path.name} is not the backbone this run was trained on "
                              f"(SHA-256 {weights_sha256(path)[:12]}…, the run names {str(ref.get('sha256'))[:12]}…)")
    src, dst = _BACKBONE_KEYS[model_name]
    state = torch.load(path, map_location="cpu", weights_only=True)
    skip = ("fc.",) if model_name == "resnext" else ()
    return {dst + k[len(src):]: v for k, v in state.items() if k.startswith(src) and not k.startswith(skip)}


def _tv():
    import torchvision.models as tvm

    return tvm


def _net(weights: BackboneWeights, pretrained: bool) -> tuple[nn.Module, WeightsStatus]:
    net = getattr(_tv(), weights.arch)(weights=None)
    status = load_pretrained(net, weights) if pretrained else WeightsStatus(False, "not requested")
    return net, status


def _mlp_head(sizes: tuple[int, ...], n_classes: int, dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes, sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU(), Dropout(dropout)]
    layers.append(nn.Linear(sizes[-1], n_classes))
    return nn.Sequential(*layers)


def build_vgg19(n_classes: int = 10, pretrained: bool = True, frozen: bool = True,
                hidden: tuple[int, ...] = (4096, 512, 256), dropout: float = 0.5):
    """VGG19 (Simonyan & Zisserman 2014), as in the paper's code: the convolutional
    part, average pool removed (25,088 features at 224²), classifier replaced by
    25088 -> 4096 -> 512 -> 256 -> classes with ReLU and dropout 0.5 after each hidden layer."""
    net, status = _net(backbone_weights("vgg19"), pretrained)
    backbone = nn.Sequential(net.features, nn.Flatten())
    return FineTuneModel(backbone, _mlp_head((512 * 7 * 7, *hidden), n_classes, dropout), frozen), status


def build_resnext(n_classes: int = 10, pretrained: bool = True, frozen: bool = True, variant: str | None = None):
    """ResNeXt with ``fc`` replaced by Linear(2048, classes). Default: ResNeXt-101 32x8d
    with the WSL (Instagram) weights, as in the paper; ``variant`` ``resnext101_32x8d``
    or ``resnext50_32x4d`` use torchvision's ImageNet weights."""
    net, status = _net(backbone_weights("resnext", variant), pretrained)
    width = net.fc.in_features
    net.fc = nn.Identity()
    return FineTuneModel(net, nn.Linear(width, n_classes), frozen), status


def build_squeezenet(n_classes: int = 10, pretrained: bool = True, frozen: bool = True, dropout: float = 0.5):
    """SqueezeNet 1.1 (Iandola et al. 2016) with the final classifier conv replaced by a
    512 -> classes 1x1 conv (then ReLU and global average pool, as in torchvision)."""
    net, status = _net(backbone_weights("squeezenet"), pretrained)
    head = nn.Sequential(Dropout(dropout), nn.Conv2d(512, n_classes, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    return FineTuneModel(net.features, head, frozen), status
