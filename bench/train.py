"""From-scratch models: one training epoch with a naive DataLoader over
per-sample tensors vs ours (the whole split as one tensor on the device,
indexed per batch, loss sums kept on the device).

    python bench/train.py [--segments 2000] [--repeats 3] [--device cpu] [--e2e]

Both use the model's batch size from hparams.yaml. ``--e2e`` also trains the four
models to early stop on the demo set (track protocol) and reports the total.
Last line: ``ratio:`` the geometric mean of the per-model speed-ups.
"""

import argparse
import math
import time

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from _common import machine, timed

MODELS = ("mlp", "cnn", "lstm", "gru")


class PerSample(Dataset):
    """The usual tutorial dataset: one (tensor, label) pair per segment."""

    def __init__(self, x, y):
        self.items = [(torch.tensor(a), int(b)) for a, b in zip(x, y)]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def naive_epoch(model, opt, loader, device):
    model.train()
    total = 0.0
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)
        loss = torch.nn.functional.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item()  # a host sync per batch
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--segments", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--e2e", action="store_true")
    ap.add_argument("--big-batch", type=int, default=256, help="also time ours at this batch size")
    args = ap.parse_args()

    from gtzan_core.hparams import make_config
    from gtzan_core.models import build_model
    from gtzan_core.training import run_epoch

    device = torch.device(args.device)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.segments, 130, 13)).astype(np.float32)
    y = rng.integers(0, 10, args.segments)
    print(f"machine: {machine()}")
    print(f"segments: {args.segments} (130 x 13), device {device}")
    ratios = []
    for name in MODELS:
        bs = make_config(name).batch_size
        torch.manual_seed(0)
        model, _ = build_model(name)
        model = model.to(device)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        loader = DataLoader(PerSample(x, y), batch_size=bs, shuffle=True)
        naive_epoch(model, opt, loader, device)  # warm-up
        t_naive, _ = timed(lambda: naive_epoch(model, opt, loader, device), args.repeats)
        xd, yd = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)

        def ours():
            order = torch.randperm(len(xd), device=device)
            loss, _, _ = run_epoch(model, opt, xd, yd, order, bs, lambda t: t, device)
            loss.item()  # one sync per epoch

        ours()
        t_ours, _ = timed(ours, args.repeats)
        ratios.append(t_naive / t_ours)

        def ours_big():
            order = torch.randperm(len(xd), device=device)
            run_epoch(model, opt, xd, yd, order, args.big_batch, lambda t: t, device)[0].item()

        ours_big()
        t_big, _ = timed(ours_big, args.repeats)
        print(f"{name:5s} batch {bs:3d}: naive DataLoader {t_naive:.3f} s/epoch | ours {t_ours:.3f} s/epoch | "
              f"{t_naive / t_ours:.2f}x | ours at batch {args.big_batch}: {t_big:.3f} s/epoch ({t_naive / t_big:.2f}x)")

    if args.e2e:
        from gtzan_core.data import open_dataset
        from gtzan_core.feature_cache import load_features
        from gtzan_core.runs import RunStore
        from gtzan_core.jobs import train
        import tempfile

        fs = load_features(open_dataset(None))
        store = RunStore(tempfile.mkdtemp(prefix="bench-train-"))
        t0 = time.perf_counter()
        for name in MODELS:
            t1 = time.perf_counter()
            rec = train(make_config(name, device=args.device), fs, store)
            ev = rec["evaluation"]
            print(f"e2e {name:5s}: {rec['epochs_run']:3d} epochs, {time.perf_counter() - t1:6.1f} s, test acc "
                  f"segment {ev['segment']['accuracy']:.3f} / track {ev['track']['accuracy']:.3f}")
        print(f"e2e total for the four from-scratch models on the demo set: {time.perf_counter() - t0:.1f} s")
    print(f"ratio: {math.exp(np.mean(np.log(ratios))):.2f}")


if __name__ == "__main__":
    main()
