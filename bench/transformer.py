"""The spectrogram Transformer's (AST's) forward time per 30 s clip on this machine's CPU,
beside the paper's CNN, measured side by side in one run.

Each model takes a 30 s clip as the studio feeds it: the CNN 10 MFCC segments of
130 x 13, the AST 10 log-mel patches of 187 x 96 (musicnn's input). Timed: the model's
forward pass over the clip's rows in one batch (torch.inference_mode, float32, CPU),
the two models **interleaved** (CNN, AST, CNN, AST, ...) so that both see the same load
on a shared machine; the median and the minimum of ``--repeats`` each after a warm-up;
also the input extraction of the same clip and the parameter counts. Prints ``ratio:
X.XX`` (AST / CNN, medians) last.

    python bench/transformer.py [--repeats 20] [--threads N]
"""

from __future__ import annotations

import argparse

import numpy as np
from _common import machine, timed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = ap.parse_args()
    import torch

    from gtzan_core.audio import DecodedAudio
    from gtzan_core.data.synth import synth_track
    from gtzan_core.features import MFCCParams, mfcc_segments
    from gtzan_core.inputs.musicnn import musicnn_rows
    from gtzan_core.mel_patches import MusicnnParams
    from gtzan_core.models import build_model, count_parameters

    if args.threads:
        torch.set_num_threads(args.threads)
    print(machine(), f"torch threads {torch.get_num_threads()}")
    mfcc = MFCCParams()
    y = synth_track("rock", seconds=30.0, seed=0)
    decoded = DecodedAudio(np.asarray(y, np.float32), mfcc.sr)
    inputs = {
        "cnn": lambda: torch.from_numpy(mfcc_segments(decoded.y, mfcc.sr, mfcc)),
        "ast": lambda: torch.from_numpy(musicnn_rows(decoded, MusicnnParams())[0]),
    }
    names = ("cnn", "ast")
    models, xs, runs = {}, {}, {n: [] for n in names}
    for name in names:
        models[name] = build_model(name, frames=130, n_mfcc=13)[0].eval()
        xs[name] = inputs[name]().float()
    with torch.inference_mode():
        for i in range(3 + args.repeats):  # 3 warm-up rounds
            for name in names:
                t, _ = timed(lambda m=models[name], x=xs[name]: m(x), repeats=1)
                if i >= 3:
                    runs[name].append(t)
    med = {n: float(np.median(runs[n])) for n in names}
    for name in names:
        t_input, _ = timed(inputs[name], repeats=5, warmup=1)
        print(f"{name}: input {tuple(xs[name].shape)}, {count_parameters(models[name]):,} parameters; forward per "
              f"30 s clip: median {med[name] * 1000:.1f} ms, min {min(runs[name]) * 1000:.1f} ms "
              f"({args.repeats} runs); input extraction {t_input * 1000:.1f} ms")
    print(f"min ratio (AST / CNN): {min(runs['ast']) / min(runs['cnn']):.2f}")
    print(f"ratio: {med['ast'] / med['cnn']:.2f}")


if __name__ == "__main__":
    main()
