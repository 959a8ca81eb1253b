"""Spectrogram pictures: the studio's Kaggle-style renderer vs the librosa.display +
matplotlib reference, side by side, and how alike each is to the real Kaggle PNGs.

    python bench/render.py [--sample ../shared/data/gtzan-real-sample] [--repeats 5]

Speed: ms per 30 s clip (audio in memory -> 432 x 288 RGB picture), median over
``--repeats`` passes over the clips, both drawing the same clips in the same run.
Likeness (when the real sample is there): per real pair, the pixel correlation with
the Kaggle PNG at each model's input size (224² VGG19, 256² ResNeXt/SqueezeNet) over
the whole picture and inside the plot box, for the studio's picture, the reference
and the studio's first renderer (``fullbleed-v1``). Last line: ``ratio: reference /
studio`` (ms per clip).
"""

import argparse
from pathlib import Path

import numpy as np

from _common import ROOT, machine, synth_tracks, timed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sample", default=str(ROOT.parent / "shared" / "data" / "gtzan-real-sample"))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--clips", type=int, default=10, help="synthetic clips to time when the sample is absent")
    args = ap.parse_args()

    from gtzan_core import GENRES
    from gtzan_core.audio import load_audio
    from gtzan_core.features import ImageParams, MFCCParams, read_image_file, render_spectrogram_image
    from gtzan_core.spectrogram.reference import render_reference
    from gtzan_core.spectrogram.similarity import similarity

    sample = Path(args.sample)
    pairs = [(g, sample / "genres_original" / g / f"{g}.00000.wav", sample / "images_original" / g / f"{g}00000.png")
             for g in GENRES]
    real = all(w.is_file() and p.is_file() for _, w, p in pairs)
    if real:
        clips = [load_audio(w) for _, w, _ in pairs]
        source = f"{len(clips)} real GTZAN clips ({sample})"
    else:
        import tempfile

        folder = synth_tracks(Path(tempfile.mkdtemp(prefix="bench-render-")), args.clips)
        clips = [load_audio(p) for p in sorted(folder.rglob("*.wav"))]
        source = f"{len(clips)} synthetic 30 s clips (real sample not found: no likeness figures)"
    print(f"machine: {machine()}")
    print(f"clips: {source}")

    mp, kaggle, legacy = MFCCParams(), ImageParams(), ImageParams(style="fullbleed-v1")
    render_spectrogram_image(clips[0], mp, kaggle), render_reference(clips[0])  # warm-up: imports, FFT plans
    t_ours, _ = timed(lambda: [render_spectrogram_image(y, mp, kaggle) for y in clips], args.repeats)
    t_ref, _ = timed(lambda: [render_reference(y) for y in clips], args.repeats)
    ms_ours, ms_ref = t_ours / len(clips) * 1000, t_ref / len(clips) * 1000
    print(f"studio (numpy/OpenCV, kaggle style): {ms_ours:7.1f} ms per clip")
    print(f"reference (librosa.display + matplotlib): {ms_ref:7.1f} ms per clip")

    if real:
        print("\npixel correlation with the Kaggle PNG (whole picture / inside the plot box)")
        print(f"{'clip':10s} {'studio 224':>15s} {'studio 256':>15s} {'reference 224':>15s} {'fullbleed-v1 224':>17s}")
        worst = {224: [1.0, 1.0], 256: [1.0, 1.0]}
        for (genre, _, png), y in zip(pairs, clips):
            kag = read_image_file(png)
            ours = render_spectrogram_image(y, mp, kaggle)
            cells = []
            for size in (224, 256):
                s = similarity(ours, kag, size)
                worst[size] = [min(worst[size][0], s.whole), min(worst[size][1], s.inside)]
                cells.append(f"{s.whole:.4f}/{s.inside:.4f}")
            r = similarity(render_reference(y), kag, 224)
            o = similarity(render_spectrogram_image(y, mp, legacy), kag, 224)
            print(f"{genre:10s} {cells[0]:>15s} {cells[1]:>15s} {r.whole:.4f}/{r.inside:.4f}".ljust(60)
                  + f" {o.whole:.4f}/{o.inside:.4f}")
        for size, (w, i) in worst.items():
            print(f"worst pair at {size}²: whole {w:.4f}, inside {i:.4f}")
    print(f"ratio: {ms_ref / ms_ours:.2f}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
