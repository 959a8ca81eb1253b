"""musicnn's front end at inference (eval mode, no gradients) as a few matrix products,
shared by every network that hears the same patches.

:class:`~gtzan_core.models.musicnn.Musicnn`'s front end is five convolutions of the
normalised (time x 96) log-mel, each followed by ReLU, a frozen batch norm and the max over
frequency. Run as ``F.conv2d`` they write a (batch, filters, time, 96) map that is read once
by the max: on a 2-core CPU they reached 2-25 GMAC/s (``bench/musicnn_convs.py``), the
(k x 1) temporal ones the slowest, most of the time spent writing and reading that map.
Here the same arithmetic runs as one ``torch.mm`` per kernel shape over a few rows of
windows at a time (a window matrix of 0.5-2 MB, filled from an ``as_strided`` view of the
input), each product reduced over frequency at once, so no full map is ever written:

* **one product for all networks.** The input batch norm is a per-network scalar map
  ``a * x + c``; it is folded into the filters (``a * W``), and with zero padding in time
  only, ``c`` adds to a filter's output ``c`` times the sum of its taps that fall inside
  the clip: a term :func:`_edge` that depends on time alone, so it commutes with the max
  over frequency and is added after it. The networks' filters of one shape are then
  columns of one matrix, applied to the raw log-mel once.
* **max only.** Where a filter's batch-norm scale is negative the release's layers take
  the min over frequency (ReLU then the norm is non-increasing there); that filter's
  column is negated, its max taken, and the sign put back.
* **one window matrix for the three temporal shapes.** The (128, 64, 32) x 1 filters with
  TensorFlow's "same" padding read windows nested in one another: the 64- and 32-frame
  windows are columns 32-95 and 48-79 of the 128-frame window; each product reads its
  columns of the one matrix (a strided view, not a copy).
* only the live filters are computed (:data:`~gtzan_core.models.musicnn.DEAD_WEIGHT`): a
  dead one outputs its constant.

The result equals the release's layers to float rounding (the tests compare them on random
and on the real weights, to 1e-4 relative or better).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

#: Rows of windows a product reads at a time (a few MB: the window matrix and the product
#: stay in the cache instead of going to memory and back).
ROWS = 1024


def bn_affine(bn: nn.BatchNorm1d | nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """A frozen batch norm as ``x * scale + shift`` per channel."""
    assert bn.running_var is not None and bn.running_mean is not None
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return scale, bn.bias - bn.running_mean * scale


@dataclass
class _Branch:
    """One front-end branch of one network, ready for the shared products."""

    live: torch.Tensor  # (filters,) bool
    columns: torch.Tensor  # (kt * kf, live) the live filters, times the input norm's scale and the max's sign
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
    columns = (w * (in_scale * sign)[:, None, None]).flatten(1).T.contiguous()
    offset = in_shift * _edge(w, branch.pad_time, frames) + bias[live][:, None]
    return _Branch(live, columns, sign, offset, scale, shift, F.relu(bias) * scale + shift)


def _timbral_max(xp: torch.Tensor, columns: torch.Tensor, kernel: tuple[int, int]) -> torch.Tensor:
    """max over frequency of the (kt x kf) windows of ``xp`` (B, T + kt - 1, 96) times
    ``columns`` (kt * kf, n): (B, T, n)."""
    b, tp, nf = xp.shape
    kt, kf = kernel
    t, v, n = tp - kt + 1, nf - kf + 1, columns.shape[1]
    out = xp.new_empty(b, t, n)
    step = max(1, ROWS // v)
    windows = xp.new_empty(step * v, kt * kf)
    products = xp.new_empty(step * v, n)
    for i in range(b):
        for t0 in range(0, t, step):
            rows = min(step, t - t0)
            view = xp.as_strided((rows, v, kt, kf), (nf, 1, nf, 1), xp.storage_offset() + i * tp * nf + t0 * nf)
            w = windows[: rows * v]
            w.view(rows, v, kt, kf).copy_(view)
            z = torch.mm(w, columns, out=products[: rows * v])
            torch.amax(z.view(rows, v, n), dim=1, out=out[i, t0:t0 + rows])
    return out


def _temporal_max(xp: torch.Tensor, parts: list[tuple[int, int, torch.Tensor]]) -> list[torch.Tensor]:
    """max over frequency of (k x 1) filters over time: ``xp`` (B, T + longest - 1, 96),
    ``parts`` (first column of the window, k, columns (k, n)), all read from one matrix of
    windows as long as the longest; one (B, n, T) per part. Each product is taken as
    (n, k) @ (k, rows): the filters are few (n ~ 50), and MKL runs this orientation ~1.5x
    faster than (rows, k) @ (k, n) (``bench/musicnn_convs.py``)."""
    b, tp, nf = xp.shape
    length = max(start + k for start, k, _ in parts)
    t = tp - length + 1
    outs = [xp.new_empty(b, cols.shape[1], t) for _, _, cols in parts]
    filters = [cols.T.contiguous() for _, _, cols in parts]
    step = max(1, ROWS // nf)
    windows = xp.new_empty(step * nf, length)
    products = [xp.new_empty(len(f), step * nf) for f in filters]
    for i in range(b):
        for t0 in range(0, t, step):
            rows = min(step, t - t0)
            view = xp.as_strided((rows, nf, length), (nf, 1, nf), xp.storage_offset() + i * tp * nf + t0 * nf)
            w = windows[: rows * nf]
            w.view(rows, nf, length).copy_(view)
            for (start, k, _), f, buf, out in zip(parts, filters, products, outs, strict=True):
                z = torch.mm(f, w[:, start:start + k].T, out=buf[:, : rows * nf])
                torch.amax(z.view(len(f), rows, nf), dim=2, out=out[i, :, t0:t0 + rows])
    return outs


def _one_thread(fn, xs: torch.Tensor):
    """``fn(xs)`` with one intra-op thread in this thread (see :func:`_in_parallel`)."""
    torch.set_num_threads(1)
    return fn(xs)


def in_parallel(fn, x: torch.Tensor) -> torch.Tensor:
    """``fn(x)`` (a tensor per patch), the patches split among as many Python threads as
    torch has intra-op threads, each running with **one** intra-op thread; the parts joined.

    The products are many small calls (~1 ms each). Run with torch's two OpenMP threads,
    each call is a parallel region that waits for both threads: on a shared 2-core box,
    where one of them is often descheduled, the front end of a 32-patch batch took 13
    CPU-s instead of 1.5 (load ~6). Patches split among threads share nothing but the
    end, so neither waits on the other; a quiet machine still uses its cores. torch's
    thread count is put back afterwards."""
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
        widths = [plan[i].columns.shape[1] for plan in plans]
        for n, part in enumerate(torch.split(merged, widths, dim=1)):
            tops[n][i] = part

    timbral = [i for i, k in enumerate(kernels) if k[1] > 1]
    temporal = [i for i, k in enumerate(kernels) if k[1] == 1]
    columns = [torch.cat([plan[i].columns for plan in plans], dim=1) for i in range(len(kernels))]

    def maxes(xs: torch.Tensor) -> dict[int, torch.Tensor]:  # each branch's (b, n, T), all networks' filters
        out = {}
        for i in timbral:
            out[i] = (_timbral_max(F.pad(xs, (0, 0, *pads[i])), columns[i], kernels[i]).transpose(1, 2)
                      if columns[i].shape[1] else xs.new_empty(len(xs), 0, frames))
        if temporal:
            before = max(pads[i][0] for i in temporal)
            after = max(pads[i][1] for i in temporal)
            parts = [(before - pads[i][0], kernels[i][0], columns[i]) for i in temporal]
            out.update(zip(temporal, _temporal_max(F.pad(xs, (0, 0, before, after)), parts), strict=True))
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
