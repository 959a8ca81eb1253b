"""Explanation latency: batched occlusion (all occluded copies in a few large
forward passes, as the Predict page runs it) vs one forward pass per occluded copy
of the clip's input, for each model on a 30 s clip; and Grad-CAM for the conv models.

    python bench/explain.py [--models mlp,cnn,...] [--device cpu|cuda] [--repeats 3]

Weights are random (timing does not depend on them). The reference feeds each
occluded copy of the whole model input (the clip's ten 3 s segments, or its one
30 s image) as its own forward pass. Last line: ``ratio: X.XX`` (geometric mean
of reference / batched over the models run).
"""

import argparse
import math

import numpy as np
from _common import machine, timed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="mlp,cnn,lstm,gru,squeezenet,vgg19,resnext")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    import torch

    from gtzan_core.data.synth import synth_track
    from gtzan_core.explain.gradcam import CONV_MODELS, gradcam_map
    from gtzan_core.explain.inputs import model_input
    from gtzan_core.explain.occlusion import occlusion_map
    from gtzan_core.models import build_model, get_spec

    print(f"machine: {machine()}")
    y = synth_track("jazz", 30.0, seed=3)
    ratios = []
    print(f"{'model':10s} {'input':>16s} {'copies':>6s} {'per copy':>9s} {'batched':>8s} {'ratio':>6s} {'Grad-CAM':>9s}")
    for name in args.models.split(","):
        spec = get_spec(name)
        options = {"pretrained": False} if spec.input_kind == "image" else {}
        torch.manual_seed(0)
        model, _ = build_model(name, 10, **options)
        model = model.to(args.device).eval()
        meta = {"model": name, "image_params": {"size": spec.image_size}}
        inp = model_input(y, meta, spec.input_kind)
        inp.x = inp.x.to(args.device)
        repeats = args.repeats if spec.input_kind == "mfcc" or name == "squeezenet" else 1
        batched, _ = timed(lambda: occlusion_map(model, inp), repeats=repeats, warmup=1)
        naive, _ = timed(lambda: naive_occlusion(model, inp), repeats=repeats)
        same = np.allclose(occlusion_map(model, inp), naive_occlusion(model, inp), atol=1e-5)
        n_copies = _copies(inp)
        cam = ""
        if name in CONV_MODELS:
            t, _ = timed(lambda: gradcam_map(model, name, inp, 0), repeats=repeats)
            cam = f"{t:8.2f}s"
        ratios.append(naive / batched)
        shape = "x".join(str(d) for d in inp.x.shape)
        print(f"{name:10s} {shape:>16s} {n_copies:6d} {naive:8.2f}s {batched:7.2f}s {naive / batched:6.2f} {cam:>9s}"
              + ("" if same else "  (maps differ!)"), flush=True)
    print(f"ratio: {math.exp(sum(map(math.log, ratios)) / len(ratios)):.2f}")


def naive_occlusion(model, inp):
    """The reference: each occluded copy of the input is built and run on its own
    (default memory layout), the scores laid out like ``occlusion_map``'s."""
    import torch

    from gtzan_core.explain.occlusion import IMAGE_GRID, _patches
    from gtzan_core.inputs import get_kind

    MFCC_PATCH = get_kind("mfcc").occlusion_patch
    x = inp.x.float()
    with torch.no_grad():
        base = torch.softmax(model(x), -1)
        if inp.kind == "mfcc":
            n, frames, coefs = x.shape
            rows, cols, fill, (H, W) = (_patches(frames, MFCC_PATCH[0]), _patches(coefs, MFCC_PATCH[1]),
                                        x.mean(1, keepdim=True), (frames, coefs))
        else:
            n, _, size, _ = x.shape
            rows = cols = _patches(size, -(-size // IMAGE_GRID))
            fill, (H, W) = x.mean((2, 3), keepdim=True), (size, size)
        scores = np.zeros((base.shape[1], n, H, W), np.float32)
        for r0, r1 in rows:
            for c0, c1 in cols:
                occluded = x.clone()
                if inp.kind == "mfcc":
                    occluded[:, r0:r1, c0:c1] = fill[:, :, c0:c1].expand(-1, r1 - r0, -1)
                else:
                    occluded[:, :, r0:r1, c0:c1] = fill
                drop = (base - torch.softmax(model(occluded), -1)).T.numpy()  # (C, n)
                scores[:, :, r0:r1, c0:c1] = drop[:, :, None, None]
    return scores


def _copies(inp) -> int:
    from gtzan_core.explain.occlusion import IMAGE_GRID
    from gtzan_core.inputs import get_kind

    MFCC_PATCH = get_kind("mfcc").occlusion_patch
    if inp.kind == "mfcc":
        _, frames, coefs = inp.x.shape
        return -(-frames // MFCC_PATCH[0]) * -(-coefs // MFCC_PATCH[1])
    return IMAGE_GRID * IMAGE_GRID


if __name__ == "__main__":
    main()
