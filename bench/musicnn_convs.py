"""musicnn's front-end convolutions, each timed the ways it can run on the CPU.

    python bench/musicnn_convs.py [--batch 32] [--repeats 3] [--threads 1 2]

For each front-end branch of ``MSD_musicnn`` and ``MTT_musicnn`` (the real weights'
live filters, :meth:`~gtzan_core.models.musicnn._FrontEndConv.live`) and for both
networks' live filters of one kernel shape together (one call for the pair), on a
``--batch`` of (187 x 96) patches, one line per way:

* ``conv2d``: ``F.conv2d`` as the release's layers (and the inference path before
  ``gtzan_core.models.musicnn_fast``) call it: the full (batch, filters, time, bands) map;
* ``im2col+mm``: the windows as an ``as_strided`` view copied once into a matrix, then
  one ``torch.mm`` with the filters (no Python loop over filters);
* ``conv1d``: (k x 1) temporal filters only: ``F.conv1d`` over time with the 96 bands
  folded into the batch;
* ``fft``: temporal filters only: ``torch.fft.rfft`` of each band, times the filters'
  spectra, ``irfft``;
* ``conv2d+max`` against ``2 patches+max``: what the front end needs, the max over the
  bands, through ``conv2d`` over the batch then ``amax`` (before) or as
  :mod:`gtzan_core.models.musicnn_fast` runs it (``conv2d`` over two patches at a time,
  their map reduced while it is in the cache: no full map written).

Each prints its median CPU seconds (``time.process_time``: the machine is shared, and
CPU time moves less with its load than wall time), the multiply-adds it stands for (the filters' own
arithmetic: output positions x kernel size x filters) and GMAC/s (multiply-adds a
CPU-second). A plain ``torch.mm`` of a comparable size is printed first: what the BLAS
reaches on this machine. The outputs of the ways are checked against ``conv2d``.
"""

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from _common import machine

from gtzan_core.models.musicnn import load_musicnn, musicnn_checkpoint
from gtzan_core.models.musicnn_fast import _band_max


def median_seconds(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return statistics.median(times)


def im2col_mm(xp: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """(B, Tp, 96) padded input, (F, kt, kf) filters -> (B, T, 96 - kf + 1, F)."""
    b, tp, nf = xp.shape
    f, kt, kf = w.shape
    t, v = tp - kt + 1, nf - kf + 1
    s = xp.stride()
    cols = xp.as_strided((b, t, v, kt, kf), (s[0], s[1], s[2], s[1], s[2])).reshape(b * t * v, kt * kf)
    return torch.mm(cols, w.reshape(f, kt * kf).T).view(b, t, v, f)


def conv1d_time(xp: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """(B, Tp, 96), (F, k, 1) -> (B, F, T, 96) with the bands folded into the batch."""
    b, tp, nf = xp.shape
    z = F.conv1d(xp.transpose(1, 2).reshape(b * nf, 1, tp), w[:, None, :, 0])
    return z.view(b, nf, len(w), -1).permute(0, 2, 3, 1)


def fft_time(xp: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    b, tp, nf = xp.shape
    k = w.shape[1]
    n = 1 << (tp - 1).bit_length()
    xs = torch.fft.rfft(xp.transpose(1, 2), n=n)  # (B, 96, n/2+1)
    ws = torch.fft.rfft(w[:, :, 0].flip(1), n=n)  # correlation = convolution with the flipped kernel
    z = torch.fft.irfft(xs[:, None] * ws[None, :, None], n=n)[..., k - 1:tp]  # (B, F, 96, T)
    return z.transpose(2, 3)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    nets = {name: load_musicnn(musicnn_checkpoint(name)) for name in ("MSD_musicnn", "MTT_musicnn")}
    print(f"machine: {machine()}; batch {args.batch} patches of 187 x 96; median of {args.repeats}")
    x = torch.randn(args.batch, 187, 96) + 2
    for threads in args.threads:
        torch.set_num_threads(threads)
        a, b = torch.randn(4096, 512), torch.randn(512, 256)
        sec = median_seconds(lambda a=a, b=b: torch.mm(a, b), args.repeats)
        print(f"threads {threads}: plain torch.mm (4096 x 512) @ (512 x 256): "
              f"{4096 * 512 * 256 / sec / 1e9:.1f} GMAC/s")
        for i, label in enumerate(("timbral 7x38", "timbral 7x67", "temporal 128x1", "temporal 64x1", "temporal 32x1")):
            ws = {}
            for name, net in nets.items():
                branch = (*net.timbral, *net.temporal)[i]
                ws[name] = branch.conv.weight.detach()[branch.live()][:, 0]
            ws["both"] = torch.cat([ws["MSD_musicnn"], ws["MTT_musicnn"]])
            branch = (*nets["MSD_musicnn"].timbral, *nets["MSD_musicnn"].temporal)[i]
            xp = F.pad(x, (0, 0, *branch.pad_time))
            for name, w in ws.items():
                kt, kf = w.shape[1:]
                macs = args.batch * 187 * (97 - kf) * kt * kf * len(w)
                ref = F.conv2d(xp[:, None], w[:, None])
                ways = {"conv2d": lambda xp=xp, w=w: F.conv2d(xp[:, None], w[:, None]),
                        "im2col+mm": lambda xp=xp, w=w: im2col_mm(xp, w)}
                ways["conv2d+max"] = lambda xp=xp, w=w: F.conv2d(xp[:, None], w[:, None]).amax(dim=3)
                ways["2 patches+max"] = lambda xp=xp, w=w: _band_max(xp, w[:, None].contiguous())
                if kf == 1:
                    ways["conv1d"] = lambda xp=xp, w=w: conv1d_time(xp, w)
                    ways["fft"] = lambda xp=xp, w=w: fft_time(xp, w)
                cells = []
                for way, fn in ways.items():
                    out = fn()
                    out = out.permute(0, 3, 1, 2) if way == "im2col+mm" else out
                    r = ref.amax(dim=3) if way.endswith("+max") else ref
                    err = float((out - r).abs().max() / r.abs().max())
                    sec = median_seconds(fn, args.repeats)
                    cells.append(f"{way} {sec * 1e3:.0f} ms {macs / sec / 1e9:.1f} GMAC/s (rel. err {err:.0e})")
                print(f"  {label} {name} ({len(w)} live filters, {macs / args.batch / 1e6:.0f} MMAC a patch): "
                      + "; ".join(cells), flush=True)


if __name__ == "__main__":
    main()
