"""musicnn's VGG-like baselines (Pons & Serra 2019): the ``MSD_vgg`` and ``MTT_vgg``
checkpoints of the same ``musicnn 0.1.0`` wheel as :mod:`.musicnn`, in torch with their
released weights (read with :mod:`.tf_checkpoint`; no TensorFlow). Their tags are the same
tag sets as musicnn's networks (``musicnn.MSD_TAGS``, ``MTT_TAGS``).

The release's ``models.vgg`` with 128 filters, layer by layer, on the same (batch, 187,
96) log-mel patches as musicnn (a fixed 3 s: the release refuses any other length):

* input batch norm;
* five 3 x 3 convolutions of 128 filters ("same" padding: 1 each side), each ReLU, then
  batch norm, then a max-pool: (4 x 1) with stride 2 after the first, (2 x 2) after the
  next three, (4 x 4) after the last (TensorFlow's "valid" pooling); dropout 0.25 before
  each of the last four convolutions;
* the last pool, (2 time steps x 1 mel band x 128 channels), flattened in TensorFlow's
  (time, mel, channel) order: the 256-d **embedding** (the release's ``pool5``; the
  network has no other dense layer); dropout 0.5; dense 256 -> 50 tag logits.

Batch norms use TensorFlow's epsilon, 1e-3. The studio's models on these networks
(``musicnn_vgg``, MSD tags; ``musicnn_vgg_mtt``, MagnaTagATune's) keep the embedding
frozen under a new head, as :func:`.musicnn.build_musicnn` does for musicnn's.
"""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CheckpointError
from .tf_checkpoint import check_variables, checkpoint_paths, read_tf_checkpoint, variable

# (its own constants, the same as musicnn's: musicnn.py imports this module to check a fetch)
BN_EPS = 1e-3  # TensorFlow's batch-norm default
BN_MOMENTUM = 0.01  # TensorFlow's moving-average decay 0.99, in torch's convention
N_MELS = 96
FILTERS = 128
PATCH_FRAMES = 187
EMBEDDING_DIM = 256  # pool5: 2 time steps x 1 mel band x 128 channels
#: Each convolution's max-pool: (kernel, stride) over (time, mel).
POOLS = (((4, 1), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((4, 4), (4, 4)))


class MusicnnVgg(nn.Module):
    """musicnn's VGG baseline on (batch, 187, 96) log-mel patches: :meth:`embedding` gives
    the 256-d flattened last pool, :meth:`forward` the 50 tag logits."""

    def __init__(self, n_tags: int = 50):
        super().__init__()
        self.input_bn = nn.BatchNorm2d(1, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.convs = nn.ModuleList([nn.Conv2d(1 if i == 0 else FILTERS, FILTERS, 3, padding=1) for i in range(5)])
        self.bns = nn.ModuleList([nn.BatchNorm2d(FILTERS, eps=BN_EPS, momentum=BN_MOMENTUM) for _ in range(5)])
        self.conv_dropout = nn.Dropout(0.25)
        self.dropout = nn.Dropout(0.5)
        self.tags = nn.Linear(EMBEDDING_DIM, n_tags)

    def embedding(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, 187, 96) log-mel -> (batch, 256): the last pool, flattened as TensorFlow does."""
        if x.ndim != 3 or x.shape[1] != PATCH_FRAMES or x.shape[2] != N_MELS:
            raise ValueError(f"musicnn's VGG expects (batch, {PATCH_FRAMES}, {N_MELS}) log-mel patches (3 s, its "
                             f"only input length), got {tuple(x.shape)}")
        z = self.input_bn(x.unsqueeze(1))  # (B, 1, time, mel): TF's (B, time, mel, 1)
        for i, (conv, bn, (kernel, stride)) in enumerate(zip(self.convs, self.bns, POOLS, strict=True)):
            if i:
                z = self.conv_dropout(z)
            z = F.max_pool2d(bn(F.relu(conv(z))), kernel, stride)
        return z.permute(0, 2, 3, 1).flatten(1)  # (B, C, T, F) -> TF's (B, T, F, C) order

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tags(self.dropout(self.embedding(x)))


# ---------------------------------------------------------------------------
# TensorFlow variable names -> state dict
# ---------------------------------------------------------------------------

CONVS = {f"convs.{i}": f"{i + 1}CNN" for i in range(5)}
BATCH_NORMS = {"input_bn": "batch_normalization",
               **{f"bns.{i}": f"batch_normalization_{i + 1}" for i in range(5)}}
_BN_FIELDS = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"}


def tf_variable_names() -> list[str]:
    """The checkpoint variables the VGG network is made of (no optimizer state)."""
    names = [f"{tf}/{field}" for tf in BATCH_NORMS.values() for field in _BN_FIELDS.values()]
    return names + [f"{tf}/{field}" for tf in (*CONVS.values(), "dense") for field in ("kernel", "bias")]


def state_dict_from_tf(tensors: dict[str, np.ndarray], n_tags: int = 50) -> dict[str, torch.Tensor]:
    """Map a VGG checkpoint's variables onto :class:`MusicnnVgg`'s state dict (kernels HWIO
    -> OIHW, the dense kernel (in, out) -> (out, in)); a missing variable or a wrong shape
    is a :class:`CheckpointError`."""
    with torch.device("meta"):
        template = MusicnnVgg(n_tags).state_dict()

    def take(name: str, shape: tuple[int, ...]) -> np.ndarray:
        return variable(tensors, name, shape, "musicnn VGG")

    state: dict[str, np.ndarray] = {}
    for module, tf in BATCH_NORMS.items():
        for field, tf_field in _BN_FIELDS.items():
            state[f"{module}.{field}"] = take(f"{tf}/{tf_field}", tuple(template[f"{module}.{field}"].shape))
    for module, tf in CONVS.items():
        out_ch, in_ch, kh, kw = template[f"{module}.weight"].shape
        state[f"{module}.weight"] = take(f"{tf}/kernel", (kh, kw, in_ch, out_ch)).transpose(3, 2, 0, 1)
        state[f"{module}.bias"] = take(f"{tf}/bias", (out_ch,))
    out_f, in_f = template["tags.weight"].shape
    state["tags.weight"] = take("dense/kernel", (in_f, out_f)).T
    state["tags.bias"] = take("dense/bias", (out_f,))
    result = {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in state.items()}
    for module in BATCH_NORMS:
        result[f"{module}.num_batches_tracked"] = torch.tensor(0, dtype=torch.long)
    return result


def load_vgg(prefix: str | os.PathLike, strict: bool = True, n_tags: int = 50) -> MusicnnVgg:
    """The VGG network with the weights of the checkpoint at ``prefix`` (a checkpoint
    folder), in eval mode; optimizer state skipped unread, and (``strict``) a checkpoint
    with variables the network does not have (another network's) refused."""
    index_path, _ = checkpoint_paths(prefix)
    names = tf_variable_names()
    check_variables(prefix, names, "musicnn VGG", strict)
    try:
        state = state_dict_from_tf(read_tf_checkpoint(prefix, names=names), n_tags)
    except CheckpointError as exc:
        raise CheckpointError(f"{index_path}: {exc}") from None
    model = MusicnnVgg(n_tags)
    model.load_state_dict(state, strict=True)
    return model.eval()


def read_vgg_file(path) -> dict:
    """A VGG checkpoint folder as :class:`MusicnnVgg`'s state dict (the reader of
    :func:`~.weights.load_pretrained`)."""
    return state_dict_from_tf(read_tf_checkpoint(path, names=tf_variable_names()))


class VggEmbedding(MusicnnVgg):
    """The VGG network up to its 256-d embedding (the tag layer dropped once the weights are in)."""

    def __init__(self):
        super().__init__()
        del self.tags

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embedding(x)


def build_musicnn_vgg(n_classes: int = 10, pretrained: bool = True, frozen: bool = True, dropout: float = 0.5,
                      weights: str = "musicnn_vgg"):
    """A VGG network's 256-d embedding (frozen by default) and a new head, dropout 0.5 and
    Linear(256, ``n_classes``). ``weights``: the :data:`~.weights.WEIGHTS` entry,
    ``musicnn_vgg`` (MSD) or ``musicnn_vgg_mtt`` (MagnaTagATune); with ``pretrained`` the
    weights must be on this machine (a :class:`~gtzan_core.errors.ConfigError` names the fetch)."""
    from .layers import Dropout
    from .pretrained import FineTuneModel
    from .weights import tagger_embedding

    backbone, status = tagger_embedding(MusicnnVgg(), VggEmbedding(), weights, pretrained, read_vgg_file)
    head = nn.Sequential(Dropout(dropout), nn.Linear(EMBEDDING_DIM, n_classes))
    return FineTuneModel(backbone, head, frozen), status
