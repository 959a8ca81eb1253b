"""musicnn (Pons & Serra 2019, "musicnn: pre-trained convolutional neural networks
for music audio tagging") in torch, with its released weights.

The weights are the TF1 checkpoints inside the ``musicnn 0.1.0`` wheel (ISC
licence, Music Technology Group, Universitat Pompeu Fabra), read with
:mod:`gtzan_core.models.tf_checkpoint`: TensorFlow is not needed and not used.
``MSD_musicnn`` was trained on the Million Song Dataset (50 Last.fm tags),
``MTT_musicnn`` on MagnaTagATune (50 tags, "classical" among them); both have this
architecture.

The network takes (batch, 187, 96) log-mel patches (:mod:`gtzan_core.mel_patches`)
and follows the release's ``models.py`` layer by layer:

* input batch norm;
* front end: two "timbral" convolutions of 204 filters, (7 x 38) and (7 x 67), on
  the input padded by 3 frames each side in time, and three "temporal" ones of 51
  filters, (128 x 1), (64 x 1), (32 x 1), with TensorFlow "same" padding in time
  ((k - 1) // 2 frames before, the rest after); each is ReLU, then batch norm, then
  max over frequency; concatenated: 561 channels;
* mid end: three 1-D convolutions of 64 filters, kernel 7, padded 3 each side, each
  ReLU then batch norm, the 2nd and 3rd with a residual connection;
* the front end and the three mid-end outputs concatenated (753 channels); max and
  mean over time, **interleaved per channel** (max0, mean0, max1, mean1, ...: that is
  how TensorFlow flattens ``concat([max, mean], axis=2)``, and the checkpoint's
  batch-norm statistics confirm it: on every live channel the even entry, the max,
  is the larger); batch norm; dense 1506 -> 200, ReLU, batch norm: the 200-d
  **embedding** ("penultimate" in the release); dense 200 -> 50 tag logits.

Dropout (0.5) sits before each dense layer, as in the release; it only acts in
training mode. Batch norms use TensorFlow's epsilon, 1e-3.

Where the weights come from: :func:`musicnn_checkpoint` looks in
``weights_dir()/musicnn-0.1.0/`` and then in an installed ``musicnn`` package;
:func:`fetch_musicnn` puts them in the first place from the wheel (downloaded with
pip, or a wheel file given), checked against its sha256.
"""

from __future__ import annotations

import errno
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CheckpointError, ConfigError, DiskFullError, DownloadError
from ..fileio import file_sha256
from ..progress import report
from .musicnn_fast import front_ends, in_parallel
from .tf_checkpoint import check_variables, checkpoint_paths, read_tf_checkpoint, variable
from .weights import weights_dir

# ---------------------------------------------------------------------------
# Tags (the release's configuration.py, in output order)
# ---------------------------------------------------------------------------

MSD_TAGS: tuple[str, ...] = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
    "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock",
    "soul", "indie rock", "Mellow", "electronica", "80s", "folk", "90s", "chill", "instrumental",
    "punk", "oldies", "blues", "hard rock", "ambient", "acoustic", "experimental", "female vocalist",
    "guitar", "Hip-Hop", "70s", "party", "country", "easy listening", "sexy", "catchy", "funk",
    "electro", "heavy metal", "Progressive rock", "60s", "rnb", "indie pop", "sad", "House", "happy",
)

MTT_TAGS: tuple[str, ...] = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast",
    "piano", "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male",
    "singing", "vocals", "no vocals", "harpsichord", "loud", "quiet", "flute", "woman", "male vocal",
    "no vocal", "pop", "soft", "sitar", "solo", "man", "classic", "choir", "voice", "new age",
    "dance", "male voice", "female vocal", "beats", "harp", "cello", "no voice", "weird", "country",
    "metal", "female voice", "choral",
)

#: The checkpoints this module ports, with their tags.
TAGS: dict[str, tuple[str, ...]] = {"MSD_musicnn": MSD_TAGS, "MTT_musicnn": MTT_TAGS}
#: The wheel's other checkpoints, the VGG baselines (:mod:`.musicnn_vgg`): extracted and
#: checked by the same fetch when the wheel holds them (the real one does).
VGG_CHECKPOINTS = ("MSD_vgg", "MTT_vgg")

EMBEDDING_DIM = 200
N_MELS = 96
BN_EPS = 1e-3  # TensorFlow's batch-norm default
BN_MOMENTUM = 0.01  # TensorFlow's moving-average decay 0.99, in torch's convention


# ---------------------------------------------------------------------------
# The network
# ---------------------------------------------------------------------------


class _FrontEndConv(nn.Module):
    """One front-end branch: conv over (time x mel), ReLU, batch norm, max over
    frequency. (B, 1, T, 96) -> (B, filters, T)."""

    def __init__(self, filters: int, kernel: tuple[int, int], pad_time: tuple[int, int]):
        super().__init__()
        self.pad_time = pad_time
        self.conv = nn.Conv2d(1, filters, kernel)
        self.bn = nn.BatchNorm2d(filters, eps=BN_EPS, momentum=BN_MOMENTUM)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.conv(F.pad(x, (0, 0, *self.pad_time)))
        if self.bn.training:
            return self.bn(F.relu(z)).amax(dim=3)
        # In eval the batch norm is a per-channel a * v + b, and a max over frequency commutes with it (a min
        # where a < 0) and with the ReLU: reduce first, then normalise the (B, filters, T) result. The same
        # numbers (to float rounding) without two more passes over the (B, filters, T, F) map: the front end
        # runs about a third faster (occlusion explanations run it hundreds of times; bench/README.md).
        bn = self.bn
        a = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        b = bn.bias - bn.running_mean * a
        top = z.amax(dim=3)
        if bool((a < 0).any()):
            top = torch.where((a < 0)[None, :, None], z.amin(dim=3), top)
        return a[None, :, None] * F.relu(top) + b[None, :, None]

    def live(self) -> torch.Tensor:
        """Which filters have a weight of at least :data:`DEAD_WEIGHT` (bool, (filters,))."""
        return self.conv.weight.detach().flatten(1).abs().amax(dim=1) >= DEAD_WEIGHT


#: A musicnn front-end filter whose every weight is smaller than this in magnitude is
#: dead: treated as zero by the inference path (:meth:`Musicnn.embedding` in eval mode
#: without gradients). The released checkpoints carry many (weight decay left most of them
#: at ~1e-30): MSD_musicnn keeps 26 + 16 of its 408 timbral filters and 36 of its 153
#: temporal ones, MTT_musicnn 151 + 95 and 139. What a dead filter adds to its conv is
#: under 1e-10 x 469 weights x |input| (~2 after the input norm): ~1e-7, below the float32
#: rounding that the order of a convolution's sums already changes (~5e-6 on the embedding).
DEAD_WEIGHT = 1e-10


def _same_padding(kernel: int) -> tuple[int, int]:
    """TensorFlow's "same" padding at stride 1: (k - 1) // 2 before, the rest after."""
    return (kernel - 1) // 2, kernel - 1 - (kernel - 1) // 2


class _MidEndConv(nn.Module):
    """One mid-end layer: 1-D conv over time (kernel 7, padded 3), ReLU, batch norm."""

    def __init__(self, in_channels: int, filters: int = 64):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, filters, 7, padding=3)
        self.bn = nn.BatchNorm1d(filters, eps=BN_EPS, momentum=BN_MOMENTUM)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(F.relu(self.conv(x)))


class Musicnn(nn.Module):
    """musicnn on (batch, time, 96) log-mel patches; trained on 187 frames.

    :meth:`embedding` gives the 200-d penultimate layer (after its batch norm), the
    boundary where a frozen backbone meets a new head; :meth:`forward` gives tag
    logits (``torch.sigmoid`` of them are the tag probabilities).
    """

    #: In eval mode without gradients, compute only what the live filters need, a few
    #: patches at a time (:mod:`.musicnn_fast`); False runs the release's layers as they are (the benchmark's
    #: "before", the tests' reference).
    fast_inference: bool = True

    def __init__(self, n_tags: int = 50):
        super().__init__()
        self.input_bn = nn.BatchNorm2d(1, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.timbral = nn.ModuleList([
            _FrontEndConv(204, (7, int(0.4 * N_MELS)), (3, 3)),
            _FrontEndConv(204, (7, int(0.7 * N_MELS)), (3, 3)),
        ])
        self.temporal = nn.ModuleList([_FrontEndConv(51, (k, 1), _same_padding(k)) for k in (128, 64, 32)])
        self.midend = nn.ModuleList([_MidEndConv(2 * 204 + 3 * 51), _MidEndConv(64), _MidEndConv(64)])
        channels = 2 * 204 + 3 * 51 + 3 * 64  # 753
        self.pool_bn = nn.BatchNorm1d(2 * channels, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.dense = nn.Linear(2 * channels, EMBEDDING_DIM)
        self.dense_bn = nn.BatchNorm1d(EMBEDDING_DIM, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.tags = nn.Linear(EMBEDDING_DIM, n_tags)
        self.dropout = nn.Dropout(0.5)

    def embedding(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, time, 96) log-mel -> (batch, 200) penultimate features."""
        if x.ndim != 3 or x.shape[2] != N_MELS:
            raise ValueError(f"musicnn expects (batch, time, {N_MELS}) log-mel patches, got {tuple(x.shape)}")
        if self.takes_fast_path():  # the same numbers from the live filters alone (musicnn_fast)
            return in_parallel(lambda xs: self.embedding_from(front_ends([self], xs)[0]), x)
        x = self.input_bn(x.unsqueeze(1))
        front = torch.cat([branch(x) for branch in (*self.timbral, *self.temporal)], dim=1)  # (B, 561, T)
        return self._embedding_after(front, self.midend[0](front))

    def takes_fast_path(self) -> bool:
        """Whether :meth:`embedding` runs the inference path (:mod:`.musicnn_fast`): in eval mode
        without gradients. Training, Grad-CAM and an export (traced: the live filters would be
        baked in) take the release's layers."""
        return not (self.training or torch.is_grad_enabled() or not self.fast_inference or torch.jit.is_tracing())

    def embedding_from(self, front: torch.Tensor) -> torch.Tensor:
        """The embedding from the front end's (B, 561, T) output, on the inference path."""
        return self._embedding_after(front, self._fast_mid1(front))

    def _embedding_after(self, front: torch.Tensor, mid1: torch.Tensor) -> torch.Tensor:
        mid2 = self.midend[1](mid1) + mid1
        mid3 = self.midend[2](mid2) + mid2
        features = torch.cat([front, mid1, mid2, mid3], dim=1)  # (B, 753, T)
        pooled = torch.stack([features.amax(dim=2), features.mean(dim=2)], dim=2).flatten(1)  # interleaved
        hidden = F.relu(self.dense(self.dropout(self.pool_bn(pooled))))
        return self.dense_bn(hidden)

    def _fast_mid1(self, front: torch.Tensor) -> torch.Tensor:
        """The first mid-end layer in eval mode.

        It reads only the live front-end channels; the dead ones are constant in time, and
        what they add (their constant through the kernel, cut by the zero padding at both
        ends) is one (64, T) term computed once for the batch.
        """
        live = torch.cat([branch.live() for branch in (*self.timbral, *self.temporal)])
        layer = self.midend[0]
        w, bias = layer.conv.weight, layer.conv.bias
        z = bias[None, :, None] if bool(live.all()) else F.conv1d(front[:1, ~live], w[:, ~live], bias, padding=3)
        if bool(live.any()):
            z = F.conv1d(front[:, live], w[:, live], padding=3) + z
        z = z.expand(len(front), -1, front.shape[2])
        return layer.bn(F.relu(z))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, time, 96) log-mel -> (batch, n_tags) tag logits."""
        return self.tags(self.dropout(self.embedding(x)))


# ---------------------------------------------------------------------------
# TensorFlow variable names -> state dict
# ---------------------------------------------------------------------------


def _tf_layer(kind: str, i: int) -> str:
    """TF1 layers name the i-th layer of a kind ``kind``, ``kind_1``, ``kind_2``..."""
    return kind if i == 0 else f"{kind}_{i}"


_CONV_MODULES = ("timbral.0", "timbral.1", "temporal.0", "temporal.1", "temporal.2",
                 "midend.0", "midend.1", "midend.2")
#: Module -> TF layer, in the order ``models.py`` creates them (which numbers them).
CONVS = {f"{m}.conv": _tf_layer("conv2d", i) for i, m in enumerate(_CONV_MODULES)}
BATCH_NORMS = {"input_bn": "batch_normalization",
               **{f"{m}.bn": _tf_layer("batch_normalization", i + 1) for i, m in enumerate(_CONV_MODULES)},
               "pool_bn": "batch_normalization_9", "dense_bn": "batch_normalization_10"}
DENSES = {"dense": "dense", "tags": "dense_1"}
_BN_FIELDS = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"}



def tf_variable_names() -> list[str]:
    """The checkpoint variables the network is made of (no optimizer state)."""
    names = [f"{tf}/{field}" for tf in BATCH_NORMS.values() for field in _BN_FIELDS.values()]
    names += [f"{tf}/{field}" for tf in (*CONVS.values(), *DENSES.values()) for field in ("kernel", "bias")]
    return names


def state_dict_from_tf(tensors: dict[str, np.ndarray], n_tags: int = 50) -> dict[str, torch.Tensor]:
    """Map a musicnn checkpoint's variables onto :class:`Musicnn`'s state dict.

    Conv kernels go from TensorFlow's HWIO to torch's OIHW (the mid end's
    (7, C, 1, 64) kernels become Conv1d's (64, C, 7)); dense kernels from (in, out)
    to (out, in). Variables the network does not use (optimizer slots) are ignored;
    a missing variable or a wrong shape is a :class:`CheckpointError`.
    """
    with torch.device("meta"):
        template = Musicnn(n_tags).state_dict()

    def take(name: str, shape: tuple[int, ...]) -> np.ndarray:
        return variable(tensors, name, shape, "musicnn")

    state: dict[str, np.ndarray] = {}
    for module, tf in BATCH_NORMS.items():
        for field, tf_field in _BN_FIELDS.items():
            state[f"{module}.{field}"] = take(f"{tf}/{tf_field}", tuple(template[f"{module}.{field}"].shape))
    for module, tf in CONVS.items():
        out_ch, in_ch, *kernel = template[f"{module}.weight"].shape
        if len(kernel) == 2:  # front end: (O, 1, H, W) <- (H, W, 1, O)
            state[f"{module}.weight"] = take(f"{tf}/kernel", (*kernel, in_ch, out_ch)).transpose(3, 2, 0, 1)
        else:  # mid end: Conv1d (O, C, 7) <- (7, C, 1, O)
            state[f"{module}.weight"] = (take(f"{tf}/kernel", (kernel[0], in_ch, 1, out_ch))[:, :, 0, :]
                                         .transpose(2, 1, 0))
        state[f"{module}.bias"] = take(f"{tf}/bias", (out_ch,))
    for module, tf in DENSES.items():
        out_f, in_f = template[f"{module}.weight"].shape
        state[f"{module}.weight"] = take(f"{tf}/kernel", (in_f, out_f)).T
        state[f"{module}.bias"] = take(f"{tf}/bias", (out_f,))
    result = {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in state.items()}
    for module in BATCH_NORMS:
        result[f"{module}.num_batches_tracked"] = torch.tensor(0, dtype=torch.long)
    return result


def load_musicnn(prefix: str | os.PathLike, strict: bool = True, n_tags: int = 50) -> Musicnn:
    """The network with the weights of the checkpoint at ``prefix`` (a checkpoint
    folder such as :func:`musicnn_checkpoint` returns), in eval mode.

    Optimizer state in the checkpoint is skipped unread. ``strict`` also refuses a
    checkpoint with variables the network does not have (another network's).
    """
    index_path, _ = checkpoint_paths(prefix)
    names = tf_variable_names()
    check_variables(prefix, names, "musicnn", strict)
    tensors = read_tf_checkpoint(prefix, names=names)
    try:
        state = state_dict_from_tf(tensors, n_tags)
    except CheckpointError as exc:
        raise CheckpointError(f"{index_path}: {exc}") from None
    model = Musicnn(n_tags)
    model.load_state_dict(state, strict=True)
    return model.eval()


# ---------------------------------------------------------------------------
# Where the weights live
# ---------------------------------------------------------------------------

WHEEL = {
    "name": "musicnn",
    "version": "0.1.0",
    "sha256": "f38a4890c648c1ddbb141c5d96d2b0a8cfcd36746002d896989f7b88beb65cfa",
}
#: The files of one checkpoint folder that are extracted from the wheel, with the
#: largest size accepted for each (the real ones: 4.9 KB, 9.5 MB, 1.2 KB).
CHECKPOINT_FILES = {".index": 1 << 20, ".data-00000-of-00001": 64 << 20, "config.json": 1 << 20}
FETCH_COMMAND = "python -m gtzan_core weights --fetch musicnn"


def _install_dir() -> Path:
    return weights_dir() / f"{WHEEL['name']}-{WHEEL['version']}"


def _is_checkpoint(folder: Path) -> bool:
    return all((folder / f).is_file() for f in (".index", ".data-00000-of-00001"))


def musicnn_checkpoint(name: str = "MSD_musicnn") -> Path | None:
    """The folder of checkpoint ``name`` (``MSD_musicnn`` or ``MTT_musicnn``), or None.

    Looks in ``weights_dir()/musicnn-0.1.0/<name>/``, then in an installed ``musicnn``
    package, located without importing it (its ``__init__`` may need TensorFlow)."""
    if name not in TAGS:
        raise ConfigError(f"unknown musicnn checkpoint {name!r}; choose one of {', '.join(TAGS)}")
    folders = [_install_dir() / name]
    try:
        spec = importlib.util.find_spec(WHEEL["name"])
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        folders += [Path(loc) / name for loc in spec.submodule_search_locations]
    return next((f for f in folders if _is_checkpoint(f)), None)


def missing_weights_message() -> str:
    """The one line a user sees when the musicnn weights are not found."""
    return (f"the musicnn weights are not in {_install_dir()} (nor in an installed musicnn package); "
            f"fetch them with `{FETCH_COMMAND}`, or offline: `pip download --no-deps musicnn==0.1.0` "
            f"on a machine with internet access, then `{FETCH_COMMAND} --wheel FILE`")


def _pip_download(folder: Path, index_args: tuple[str, ...] = (), timeout: float = 900) -> Path:
    """Download the wheel with pip into ``folder``; its path. ``index_args``: where pip
    looks (``--index-url URL``, or ``--no-index --find-links DIR``: a local index);
    default: pip's own configuration."""
    spec = f"{WHEEL['name']}=={WHEEL['version']}"
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", *index_args, spec,
           "-d", str(folder)]
    manual = f"pip download --no-deps --only-binary=:all: {spec}"
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        failure = None if proc.returncode == 0 else ((proc.stderr or proc.stdout).strip().splitlines() or ["?"])[-1]
    except (OSError, subprocess.TimeoutExpired) as exc:
        failure = str(exc)
    wheels = sorted(folder.glob(f"{WHEEL['name']}-{WHEEL['version']}-*.whl"))
    if failure is None and len(wheels) != 1:
        failure = f"it left {len(wheels)} musicnn wheels"
    if failure is not None:
        raise DownloadError(f"pip could not download {spec} ({failure.strip()}); run `{manual}` yourself, "
                            f"then `{FETCH_COMMAND} --wheel FILE`")
    return wheels[0]


def _extract_checkpoints(wheel: Path, dest: Path, progress) -> None:
    """Copy the checkpoint files out of the wheel into ``dest``; nothing else is read. The
    musicnn networks' files must all be there; a VGG checkpoint is taken whole or not at all."""
    wanted = {f"{WHEEL['name']}/{name}/{file}": limit for name in TAGS for file, limit in CHECKPOINT_FILES.items()}
    optional = {f"{WHEEL['name']}/{name}/{file}": limit for name in VGG_CHECKPOINTS
                for file, limit in CHECKPOINT_FILES.items()}
    try:
        with zipfile.ZipFile(wheel) as zf:
            present = {info.filename for info in zf.infolist()}
            for name in VGG_CHECKPOINTS:
                files = {f"{WHEEL['name']}/{name}/{file}" for file in CHECKPOINT_FILES}
                if files <= present:
                    wanted.update({f: optional[f] for f in files})
            members = [info for info in zf.infolist() if info.filename in wanted]
            names = [info.filename for info in members]
            if len(set(names)) != len(names):
                raise DownloadError(f"{wheel}: a checkpoint file appears twice in the wheel")
            if len(names) != len(wanted):
                absent = sorted(set(wanted) - set(names))[0]
                raise DownloadError(f"{wheel}: the wheel has no {absent}")
            for info in members:
                if info.file_size > wanted[info.filename]:
                    raise DownloadError(f"{wheel}: {info.filename} claims {info.file_size} bytes, "
                                        f"more than the {wanted[info.filename]} a checkpoint file may have")
            for k, info in enumerate(members):
                target = dest / Path(info.filename).relative_to(WHEEL["name"])
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
                report(progress, k + 1, len(members), "extracting")
    except zipfile.BadZipFile as exc:
        raise DownloadError(f"{wheel}: not a readable wheel ({exc})") from None


def fetch_musicnn(wheel: str | os.PathLike | None = None, progress=None, index_args: tuple[str, ...] = (),
                  timeout: float = 900) -> Path:
    """Install the musicnn checkpoints into ``weights_dir()/musicnn-0.1.0/``; the
    ``MSD_musicnn`` folder.

    ``wheel``: a downloaded ``musicnn-0.1.0-py3-none-any.whl``; None downloads it
    with pip (no dependencies: only its data files are used). The wheel's sha256 must
    be :data:`WHEEL`'s; only the checkpoint files are taken from it, each size
    checked before it is read, and every checkpoint (musicnn's two, and the VGG
    baselines' when the wheel holds them) is loaded once before the folder is renamed
    into place (replacing an earlier copy). ``progress`` is a :mod:`gtzan_core.progress`
    callback; ``index_args`` and ``timeout`` are pip's (:func:`_pip_download`).
    """
    install = _install_dir()
    try:
        install.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=install.parent, prefix=f".{install.name}-") as tmp:
            if wheel is None:
                report(progress, 0, 0, "downloading the musicnn wheel with pip")
                wheel_path = _pip_download(Path(tmp), index_args, timeout)
            else:
                wheel_path = Path(wheel).expanduser()
            _install_from(wheel_path, Path(tmp), install, progress)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFullError(f"disk full: could not write the musicnn weights into {install.parent}") from None
        raise DownloadError(f"{install.parent}: cannot write the musicnn weights there "
                            f"({exc.strerror or exc})") from None
    return install / "MSD_musicnn"


def _install_from(wheel: Path, tmp: Path, install: Path, progress) -> None:
    """Check ``wheel``, stage its checkpoints in ``tmp`` and rename them to ``install``."""
    if not wheel.is_file():
        raise DownloadError(f"{wheel}: no such file")
    report(progress, 0, 0, "checking the wheel")
    try:
        digest = file_sha256(wheel)
    except OSError as exc:
        raise DownloadError(f"{wheel}: cannot read it ({exc.strerror or exc})") from None
    if digest != WHEEL["sha256"]:
        raise DownloadError(f"{wheel}: sha256 {digest} is not that of musicnn "
                            f"{WHEEL['version']}'s wheel ({WHEEL['sha256']})")
    staged = tmp / "checkpoints"
    _extract_checkpoints(wheel, staged, progress)
    from .musicnn_vgg import load_vgg

    for name in (*TAGS, *(n for n in VGG_CHECKPOINTS if (staged / n).is_dir())):
        try:
            (load_vgg if name in VGG_CHECKPOINTS else load_musicnn)(staged / name)
        except CheckpointError as exc:
            problem = str(exc).replace(f"{staged}{os.sep}", "")
            raise DownloadError(f"{wheel}: its checkpoint does not load: {problem}") from None
    if install.exists():
        os.replace(install, tmp / "previous")  # removed with tmp
    os.replace(staged, install)


# ---------------------------------------------------------------------------
# A clip's tags, as the released tagger hears them
# ---------------------------------------------------------------------------

_taggers: dict[str, Musicnn] = {}


def clip_tags(patches, network: str = "MTT_musicnn", top: int = 5) -> list[tuple[str, float]]:
    """The ``top`` tags of the released tagger ``network`` (``MTT_musicnn``: MagnaTagATune's
    50, genres, instruments and voices among them) for a clip's (n, 187, 96) log-mel
    patches: each tag's probability (sigmoid of its logit) averaged over the patches,
    highest first. The network is read once per process from the fetched wheel
    (:func:`musicnn_checkpoint`); without it: a :class:`ConfigError` naming the fetch."""
    folder = musicnn_checkpoint(network)
    if folder is None:
        raise ConfigError(missing_weights_message())
    key = f"{network}|{folder}"
    if key not in _taggers:
        _taggers[key] = load_musicnn(folder)
    x = torch.as_tensor(np.asarray(patches, dtype=np.float32))
    if x.ndim != 3 or len(x) == 0:
        raise ValueError(f"clip_tags expects (n, time, {N_MELS}) log-mel patches, got {tuple(x.shape)}")
    with torch.inference_mode():
        probs = torch.sigmoid(_taggers[key](x)).mean(0).numpy()
    order = np.argsort(-probs, kind="stable")[:top]
    return [(TAGS[network][k], float(probs[k])) for k in order]


# ---------------------------------------------------------------------------
# The studio's model: the frozen embedding and a new genre head
# ---------------------------------------------------------------------------


class MusicnnEmbedding(Musicnn):
    """musicnn up to its 200-d embedding: the backbone of the studio's musicnn model
    (the tag layer is dropped once the pretrained weights are in)."""

    def __init__(self):
        super().__init__()
        del self.tags

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embedding(x)


def read_musicnn_file(path) -> dict:
    """A musicnn checkpoint folder as :class:`Musicnn`'s state dict (the reader of
    :func:`~.weights.load_pretrained`; optimizer state left unread)."""
    return state_dict_from_tf(read_tf_checkpoint(path, names=tf_variable_names()))


def _embedding(weights: str, pretrained: bool):
    """The frozen-to-be 200-d embedding of :data:`~.weights.WEIGHTS` entry ``weights`` and its status."""
    from .weights import tagger_embedding

    return tagger_embedding(Musicnn(), MusicnnEmbedding(), weights, pretrained, read_musicnn_file)


def build_musicnn(n_classes: int = 10, pretrained: bool = True, frozen: bool = True, dropout: float = 0.5,
                  weights: str = "musicnn"):
    """The studio's musicnn: the MSD network's 200-d embedding (frozen by default; the
    whole network trains with ``frozen=False``) and a new head, dropout 0.5 and
    Linear(200, ``n_classes``), in the place of the 50-tag layer. ``weights``: the
    :data:`~.weights.WEIGHTS` entry, ``musicnn`` (MSD) or ``musicnn_mtt`` (MagnaTagATune,
    the same architecture from the same wheel). With ``pretrained`` the weights must be on
    this machine (:func:`fetch_musicnn`): missing weights are a :class:`ConfigError`
    naming the command that fetches them."""
    from .layers import Dropout
    from .pretrained import FineTuneModel

    backbone, status = _embedding(weights, pretrained)
    return FineTuneModel(backbone, nn.Sequential(Dropout(dropout), nn.Linear(EMBEDDING_DIM, n_classes)), frozen), status


class MusicnnSideBySide(nn.Module):
    """Several musicnn embeddings of the same patches, side by side: (B, T, 96) -> (B, 200 x networks).
    ``nets`` is keyed by each network's :data:`~.weights.WEIGHTS` entry (its place in a checkpoint)."""

    def __init__(self, nets: dict[str, MusicnnEmbedding]):
        super().__init__()
        self.nets = nn.ModuleDict(nets)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nets = list(self.nets.values())
        # one convolution per kernel shape for all the networks (a wrong shape is refused by each one below)
        if all(net.takes_fast_path() for net in nets) and x.ndim == 3 and x.shape[2] == N_MELS:
            return in_parallel(lambda xs: torch.cat([net.embedding_from(f) for net, f in zip(
                nets, front_ends(nets, xs), strict=True)], dim=1), x)
        return torch.cat([net(x) for net in nets], dim=1)


def build_musicnn_both(n_classes: int = 10, pretrained: bool = True, frozen: bool = True, dropout: float = 0.5,
                       weights: str = "musicnn_both"):
    """musicnn's MSD and MTT networks side by side (both frozen by default): their 200-d
    embeddings concatenated (400) under one new head, dropout 0.5 and Linear(400,
    ``n_classes``). Both networks come from the same fetched wheel, each loaded and
    checked as in :func:`build_musicnn`; the run names the pair by one SHA-256 (the
    parts' digests combined, :func:`~.weights.combined_sha256`)."""
    from .layers import Dropout
    from .pretrained import FineTuneModel
    from .weights import backbone_weights, combined_status

    pair = backbone_weights(weights)
    made = [_embedding(part, pretrained) for part in pair.parts]
    status = combined_status(pair, [s for _, s in made]) if pretrained else made[0][1]
    backbone = MusicnnSideBySide({part: net for part, (net, _) in zip(pair.parts, made, strict=True)})
    head = nn.Sequential(Dropout(dropout), nn.Linear(EMBEDDING_DIM * len(pair.parts), n_classes))
    return FineTuneModel(backbone, head, frozen), status
