"""Frozen-backbone fine-tuning: one epoch running the backbone every epoch (the
paper's way) vs training the head on cached backbone outputs (ours).

    python bench/finetune.py [--images 64] [--models squeezenet,vgg19] [--device cpu]

Both train the same head with Adam on the same images at the model's input size
(224² VGG19, 256² ResNeXt and SqueezeNet; batch 16, ``--batch 50`` for the paper's). The
one-off caching pass is reported separately. Last line: ``ratio:`` the smallest
per-epoch speed-up over the models.
"""

import argparse

import numpy as np
import torch

from _common import machine, timed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--models", default="squeezenet,vgg19")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch", type=int, default=16, help="batch size (the paper recipe uses 50)")
    args = ap.parse_args()

    from gtzan_core.features import normalize_images
    from gtzan_core.models import build_model, get_spec
    from gtzan_core.training import backbone_outputs, run_epoch

    device = torch.device(args.device)
    rng = np.random.default_rng(0)
    labels = torch.from_numpy(rng.integers(0, 10, args.images)).to(device)
    order = torch.arange(args.images, device=device)
    print(f"machine: {machine()}")
    print(f"images: {args.images} at each model's input size, batch {args.batch}, device {device}")
    ratios = []
    bs = args.batch
    for name in args.models.split(","):
        size = get_spec(name).image_size
        images = rng.integers(0, 256, (args.images, size, size, 3), dtype=np.uint8)
        torch.manual_seed(0)
        model, _ = build_model(name, pretrained=False)
        model = model.to(device)
        x_img = torch.from_numpy(images).to(device)

        prep_full = normalize_images
        opt = torch.optim.Adam(model.head.parameters(), lr=1e-3)
        run_epoch(model, opt, x_img, labels, order[:bs], bs, prep_full, device)  # warm-up
        t_paper, _ = timed(lambda: run_epoch(model, opt, x_img, labels, order, bs, prep_full, device), args.repeats)

        t_cache, _ = timed(lambda: backbone_outputs(model.backbone, images, device), 1)
        feats = backbone_outputs(model.backbone, images, device).to(device)
        opt = torch.optim.Adam(model.head.parameters(), lr=1e-3)
        run_epoch(model.head, opt, feats, labels, order[:bs], bs, lambda x: x, device)  # warm-up
        t_ours, _ = timed(lambda: run_epoch(model.head, opt, feats, labels, order, bs, lambda x: x, device),
                          max(args.repeats, 5))
        ratio = t_paper / t_ours
        ratios.append(ratio)
        print(f"{name:10s} ({size}²) backbone every epoch: {t_paper:.3f} s/epoch | caching pass (once): {t_cache:.3f} s | "
              f"head on cached outputs: {t_ours:.4f} s/epoch | speed-up per epoch {ratio:.1f}x")
    print(f"ratio: {min(ratios):.2f}")


if __name__ == "__main__":
    main()
