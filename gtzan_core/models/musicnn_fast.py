"""musicnn's front end at inference (eval mode, no gradients): every network that hears
the same patches convolved at once, a few patches at a time, only the live filters.

:class:`~gtzan_core.models.musicnn.Musicnn`'s front end is five convolutions of the
normalised (time x 96) log-mel, each followed by ReLU, a frozen batch norm and the max over
frequency. Run over a whole batch, ``F.conv2d`` writes a (batch, filters, time, 96) map
that the max reads once: tens to hundreds of MB, written to memory and read back; on a
2-core CPU the convolutions ran at 2-25 GMAC/s that way (``bench/musicnn_convs.py``),
the (k x 1) temporal ones the slowest. Here:

* **a few patches a convolution** (:data:`PATCHES`): the map of two patches stays in the
  cache until the max over the bands has read it (the timbral convolutions went from ~16
  to ~28 GMAC/s, the temporal ones from ~10 to ~14; an explicit im2col with one
  ``torch.mm``, ``F.conv1d`` with the bands in the batch and FFTs measured no faster);
* **one convolution for all networks.** The input batch norm is a per-network scalar map
  ``a * x + c``; it is folded into the filters (``a * W``), and with zero padding in time
  only, ``c`` adds to a filter's output ``c`` times the sum of its taps that fall inside
  the clip: a term (:func:`_edge`) that depends on time alone, so it commutes with the max
  over frequency and is added after it. The networks' filters of one shape are then one
  weight tensor, applied to the raw log-mel once;
* **max only.** Where a filter's batch-norm scale is negative the release's layers take
  the min over frequency (ReLU then the norm is non-increasing there); that filter is
  negated, its max taken, and the sign put back;
* **the temporal shapes share one padded input**, each reading its span of it;
* only the live filters are computed (:data:`~gtzan_core.models.musicnn.DEAD_WEIGHT`): a
  dead one outputs its constant.

The result equals the release's layers to float rounding (the tests compare them on random
and on the real weights, to 1e-5 relative on the embeddings).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

#: Patches a convolution reads at a time: its (patches, filters, T, bands) output (~4-8 MB
#: a patch for both networks' filters) stays in the cache until the max over the bands has
#: read it, instead of going to memory and back for a whole batch.
PATCHES = 2


def bn_affine(bn: nn.BatchNorm1d | nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """A frozen batch norm as ``x * scale + shift`` per channel."""
    assert bn.running_var is not None and bn.running_mean is not None
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return scale, bn.bias - bn.running_mean * scale


@dataclass
class _Branch:
    """One front-end branch of one network, ready for the shared convolutions."""

    live: torch.Tensor  # (filters,) bool
    filters: torch.Tensor  # (live, 1, kt, kf) the live filters, times the input norm's scale and the max's sign
    sign: torch.Tensor  # (live,) +1 where the max over frequency is taken, -1 where the min
    offset: torch.Tensor  # (live, T) what the input norm's shift and the conv's bias add (time only)
    scale: torch.Tensor  # (filters,) the branch norm as x * scale + shift
    shift: torch.Tensor
    const: torch.Tensor  # (filters,) a dead filter's output


def _edge(weight: torch.Tensor, pad_time: tuple[int, int], frames: int) -> torch.Tensor:
    """(live, T): for each filter, the sum of its taps that fall inside a clip of ``frames``
    frames (zero padding in time only): what a constant input of 1 gives at each frame."""
    taps = weight.sum(dim=2)  # (live, kt): summed over frequency
    if not len(taps):
        return weight.new_zeros(0, frames)
    inside = F.pad(weight.new_ones(1, 1, frames), pad_time)
    return F.conv1d(inside, taps[:, None, :])[0]


def _plan(branch, in_scale: torch.Tensor, in_shift: torch.Tensor, frames: int) -> _Branch:
    weight = branch.conv.weight.detach()[:, 0]  # (filters, kt, kf)
    bias = branch.conv.bias.detach()
    scale, shift = (t.detach() for t in bn_affine(branch.bn))
    live = branch.live()
    w = weight[live]
    sign = torch.where(scale[live] >= 0, 1.0, -1.0)
    filters = (w * (in_scale * sign)[:, None, None])[:, None].contiguous()
    offset = in_shift * _edge(w, branch.pad_time, frames) + bias[live][:, None]
    return _Branch(live, filters, sign, offset, scale, shift, F.relu(bias) * scale + shift)


def _band_max(xp: torch.Tensor, filters: torch.Tensor) -> torch.Tensor:
    """max over the bands of ``filters`` (n, 1, kt, kf) across ``xp`` (B, T + kt - 1, 96)
    (no padding added): (B, n, T), :data:`PATCHES` patches a convolution, so that its
    (patches, n, T, bands) output stays in the cache until the max has read it."""
    b, tp, _ = xp.shape
    out = xp.new_empty(b, len(filters), tp - filters.shape[2] + 1)
    if not len(filters):
        return out
    for i in range(0, b, PATCHES):
        torch.amax(F.conv2d(xp[i:i + PATCHES, None], filters), dim=3, out=out[i:i + PATCHES])
    return out


def _one_thread(fn, xs: torch.Tensor):
    """``fn(xs)`` with one intra-op thread in this thread (see :func:`_in_parallel`)."""
    torch.set_num_threads(1)
    return fn(xs)


def in_parallel(fn, x: torch.Tensor) -> torch.Tensor:
    """``fn(x)`` (a tensor per patch), the patches split among as many Python threads as
    torch has intra-op threads, each running with **one** intra-op thread; the parts joined.

    The front end is many small calls (two patches each). Run with torch's two OpenMP
    threads, each call is a parallel region that waits for both threads: on a shared
    2-core box, where one of them is often descheduled, the front end of a 32-patch batch
    took 13 CPU-s instead of 1.5 (load ~6; measured on this path's first, im2col version).
    Patches split among threads share nothing but the end, so neither waits on the other;
    a quiet machine still uses its cores. torch's thread count is put back afterwards."""
    threads = torch.get_num_threads()
    workers = max(1, min(threads, len(x)))
    try:
        if workers == 1:
            return _one_thread(fn, x)
        with ThreadPoolExecutor(workers) as pool:
            return torch.cat(list(pool.map(lambda xs: _one_thread(fn, xs), torch.tensor_split(x, workers))))
    finally:
        torch.set_num_threads(threads)


def front_ends(nets: Sequence, x: torch.Tensor) -> list[torch.Tensor]:
    """Each network's front end, (B, 561, T), for the same raw log-mel ``x`` (B, T, 96);
    ``nets``: :class:`~gtzan_core.models.musicnn.Musicnn` in eval mode, called without
    gradients. Equals ``torch.cat([branch(input_bn(x)) ...], dim=1)`` of each network."""
    x = x.detach().contiguous()
    b, frames, _ = x.shape
    plans = []
    for net in nets:
        in_scale, in_shift = (t.detach()[0] for t in bn_affine(net.input_bn))
        plans.append([_plan(br, in_scale, in_shift, frames) for br in (*net.timbral, *net.temporal)])
    branches0 = (*nets[0].timbral, *nets[0].temporal)
    kernels = [tuple(br.conv.kernel_size) for br in branches0]
    pads = [br.pad_time for br in branches0]
    tops: list[list[torch.Tensor | None]] = [[None] * len(kernels) for _ in nets]

    def split(i: int, merged: torch.Tensor) -> None:  # (B, n, T): each network's filters
        widths = [len(plan[i].filters) for plan in plans]
        for n, part in enumerate(torch.split(merged, widths, dim=1)):
            tops[n][i] = part

    timbral = [i for i, k in enumerate(kernels) if k[1] > 1]
    temporal = [i for i, k in enumerate(kernels) if k[1] == 1]
    filters = [torch.cat([plan[i].filters for plan in plans]) for i in range(len(kernels))]

    def maxes(xs: torch.Tensor) -> dict[int, torch.Tensor]:  # each branch's (b, n, T), all networks' filters
        out = {}
        for i in timbral:
            out[i] = _band_max(F.pad(xs, (0, 0, *pads[i])), filters[i])
        if temporal:  # one padded input for the three: each reads its own span of it
            before = max(pads[i][0] for i in temporal)
            after = max(pads[i][1] for i in temporal)
            xp = F.pad(xs, (0, 0, before, after))
            for i in temporal:
                start = before - pads[i][0]
                out[i] = _band_max(xp[:, start:start + frames + kernels[i][0] - 1], filters[i])
        return out

    for i, merged in maxes(x).items():
        split(i, merged)

    fronts = []
    for plan, net_tops in zip(plans, tops, strict=True):
        pieces = []
        for br, top in zip(plan, net_tops, strict=True):
            out = br.const[None, :, None].expand(b, -1, frames).clone()
            if top is not None and top.shape[1]:
                pre = top * br.sign[None, :, None] + br.offset[None]
                out[:, br.live] = F.relu(pre) * br.scale[br.live][None, :, None] + br.shift[br.live][None, :, None]
            pieces.append(out)
        fronts.append(torch.cat(pieces, dim=1))
    return fronts
