"""A 30 s upload through Predict's default answer: decode + every shipped starter + combine.

    python bench/default_answer.py [--repeats 5] [--device cpu]

Uses the starters in ``checkpoints/`` (musicnn's head needs musicnn's weights on this
machine: ``python -m gtzan_core weights --fetch musicnn``, else only the EfficientNet-
Lite0 fallback is timed, and the output says so). The upload is the bytes of a real
30 s GTZAN clip from ``../shared/data/gtzan-real-sample`` when present (else a 30 s
synthetic mp3), handed over as an upload is: bytes, decoded by ``predict``. Times
``predict(...)`` + ``Prediction.answer()`` cold (model cache cleared: checkpoints read,
backbones loaded) and warm (models cached, what every upload after the first costs).
Also prints the process's CPU seconds per warm upload (what the answer costs on a machine
nobody else is using) and the load average. Last line: ``default answer warm: X s
(target 1 s)``.
"""

import argparse
import os
import statistics
import time

from _common import ROOT, machine


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    from gtzan_core.inference import clear_model_cache, default_selection, predict
    from gtzan_core.runs import RunStore

    store = RunStore(ROOT / "checkpoints")
    run_ids, missing = default_selection(store)
    clips = sorted((ROOT.parent / "shared" / "data" / "gtzan-real-sample" / "genres_original").glob("*/*.00000.wav"))
    if clips:
        data, what = clips[0].read_bytes(), f"{clips[0].name} (real GTZAN, wav)"
    else:
        import io

        import soundfile as sf

        from gtzan_core.data.synth import synth_track

        buf = io.BytesIO()
        sf.write(buf, synth_track("rock", 30.0, seed=9), 22050, format="MP3")
        data, what = buf.getvalue(), "30 s synthetic mp3"
    print(f"machine: {machine()}")
    print(f"upload: {what}, {len(data) // 1024} KiB; device {args.device}")
    print(f"starters predicting: {', '.join(run_ids)}")
    for rid, why in missing.items():
        print(f"left out (weights absent): {rid}: {why}")

    def once():
        pred = predict(data, run_ids, store, device=args.device, unavailable=missing)
        return pred, pred.answer()

    cold = []
    for _ in range(max(1, args.repeats // 2)):
        clear_model_cache()
        t0 = time.perf_counter()
        once()
        cold.append(time.perf_counter() - t0)
    once()
    warm, cpu = [], []
    for _ in range(args.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        pred, answer = once()
        warm.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    from gtzan_core.audio import decode_audio

    decode = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        decode_audio(data)
        decode.append(time.perf_counter() - t0)
    alone = {}
    for rid in run_ids:  # each starter alone, warm (decode included)
        ts = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            predict(data, [rid], store, device=args.device)
            ts.append(time.perf_counter() - t0)
        alone[rid] = statistics.median(ts)
    print(f"decode alone: median {statistics.median(decode):.2f} s; each starter alone (decode included): "
          + ", ".join(f"{rid} {t:.2f} s" for rid, t in alone.items()))
    print(f"answer: {answer.top} by {answer.answered_by}; weights "
          + ", ".join(f"{r['run_id']} {r['weight']:.2f}" for r in answer.runs))
    print(f"cold (models loaded each time): median {statistics.median(cold):.2f} s "
          f"({', '.join(f'{t:.2f}' for t in cold)})")
    print(f"warm, each: {', '.join(f'{t:.2f}' for t in warm)}")
    print(f"warm, CPU seconds of this process each (all its threads): {', '.join(f'{t:.2f}' for t in cpu)}")
    print(f"load average now: {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    print(f"default answer warm: {statistics.median(warm):.2f} s median (target 1 s)")


if __name__ == "__main__":
    main()
