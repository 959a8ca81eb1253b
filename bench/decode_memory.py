"""Memory of decoding a hostile audio file (issue 30): the decode before bounded decoding
(every channel read whole as float32, mixed down, then resampled) against the studio's
streamed decode, on the issue's decode bomb, a WAV of the same shape and a normal clip;
then four bombs uploaded at once to one server process.

    python bench/decode_memory.py [--wav-seconds 60] [--repeats 1] [--before DIR] [--parts decode,cli,page,concurrent]

Files (written into a temporary folder; the FLAC takes ~20 s to write):

- the bomb: a 2 MB FLAC, 8 channels at 384 kHz, 10 minutes of near-silence;
- the same shape as a 16-bit WAV, ``--wav-seconds`` long (the full 10 minutes would be
  3.7 GB on disk and ~7.4 GB decoded the old way: give ``--wav-seconds 600`` where
  there is room);
- a normal clip: 30 s of a synthetic rock track, 44.1 kHz stereo, 16-bit WAV.

1. **The decode alone**, each in a fresh process that reports its peak RSS growth over
   its own baseline (``tests/helpers/audio_bombs.py``'s measuring child: the kernel's
   high-water mark reset at the baseline), the clip made at 22.05 and 16 kHz as a
   prediction with musicnn asks for it. "before" is the old decode (``sf.read`` of up to
   10 minutes, ``mean(axis=1)``, ``librosa.resample``), "ours" is ``decode_audio``.
2. **The CLI**, ``python -m gtzan_core predict FILE`` on the checkout's run store (the
   starter model): the process's peak RSS (``ru_maxrss`` from ``wait4``), with the
   studio's torch and model loaded. With ``--before DIR`` (a checkout of an older commit,
   e.g. ``git archive afc16e8 | tar -x -C /tmp/before``) the same command is run there too.
3. **The Predict page**: the app's own script run by Streamlit's ``AppTest`` in one
   process (the checkout's run store: the starter model), a normal clip uploaded first
   (models loaded, first calls made), then the bomb: the process's peak RSS before and
   after the bomb's upload, and what the page showed. With ``--before DIR`` also there.
4. **Four uploads at once** in one server-like process: four threads hand the bomb's
   bytes to ``gtzan_core.webapp.decode_upload`` (what the Predict page calls; one decode
   at a time per process) and predict with the starter model, as four visitors'
   scripts do in one Streamlit server; the same without the decoding turn (four
   streamed decodes in parallel) for comparison. Reported: the process's peak RSS and its
   growth over the warm baseline (models loaded, one normal clip predicted).

Last line: ``ratio:`` the old decode's peak growth / ours, on the bomb.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, machine

from tests.helpers import decode_growth, write_bomb

CONCURRENT = r"""
import io, json, sys, threading, time, logging
logging.disable(logging.WARNING)  # Streamlit's "no script run context" notes: these threads are not a page
from gtzan_core.audio import decode_audio
from gtzan_core.inference import predict
from gtzan_core.runs import RunStore
from gtzan_core.webapp.uploads import decode_upload
def status_mb(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith(field + ":"))
mode, bomb, normal, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
store = RunStore()
predict(open(normal, "rb").read(), None, store)  # warm: torch, the models, first calls
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
except OSError:
    pass
base = status_mb("VmRSS")
data = open(bomb, "rb").read()
out, start = [], threading.Barrier(n)
def visitor(k):
    start.wait()
    t0 = time.perf_counter()
    if mode == "turn":
        decoded = decode_upload(data, f"bomb-{k}.flac")
    else:
        blob = io.BytesIO(data); blob.name = f"bomb-{k}.flac"
        decoded = decode_audio(blob, max_seconds=600)
    t1 = time.perf_counter()
    pred = predict(decoded, None, store)
    out.append((t1 - t0, time.perf_counter() - t0, len(pred.results)))
threads = [threading.Thread(target=visitor, args=(k,)) for k in range(n)]
t0 = time.perf_counter()
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps({"peak_mb": status_mb("VmHWM"), "base_mb": base, "growth_mb": status_mb("VmHWM") - base,
                  "wall_s": time.perf_counter() - t0, "decode_s": sorted(o[0] for o in out),
                  "total_s": sorted(o[1] for o in out), "models": [o[2] for o in out]}))
"""


PAGE = r"""
import json, logging, sys, time
from pathlib import Path
logging.disable(logging.WARNING)
from streamlit.testing.v1 import AppTest
def status_mb(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith(field + ":"))
at = AppTest.from_file("app.py", default_timeout=1800)
at.switch_page("pages/predict.py")
at.run()
at.file_uploader[0].set_value(("normal.wav", Path(sys.argv[2]).read_bytes(), "audio/wav")).run()
warm, t0 = status_mb("VmHWM"), time.perf_counter()
at.file_uploader[0].set_value(("bomb.flac", Path(sys.argv[1]).read_bytes(), "audio/flac")).run()
print(json.dumps({"warm_mb": warm, "peak_mb": status_mb("VmHWM"), "wall_s": time.perf_counter() - t0,
                  "shown": ([e.value for e in at.error] + [c.value for c in at.caption])[:1],
                  "exception": bool(at.exception)}))
"""


def page_peak(bomb: Path, normal: Path, checkout: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", PAGE, str(bomb), str(normal)], cwd=checkout,
                          env={**os.environ, "PYTHONPATH": str(checkout)}, capture_output=True, text=True,
                          timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.splitlines()[-1])


def normal_clip(path: Path) -> Path:
    import numpy as np
    import soundfile as sf
    import soxr

    from gtzan_core.data.synth import synth_track

    y = soxr.resample(synth_track("rock", 30.0, 0, 0), 22050, 44100)
    sf.write(path, np.stack([y, 0.8 * y], axis=1), 44100, subtype="PCM_16")
    return path


def cli_peak(path: Path, checkout: Path) -> dict:
    """``python -m gtzan_core predict path`` run in ``checkout``: peak RSS (MB), wall time, last line."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "gtzan_core", "predict", str(path)], cwd=checkout,
                            env={**os.environ, "PYTHONPATH": str(checkout)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    lines = [l for l in out.strip().splitlines() if l.strip()]
    return {"peak_mb": usage.ru_maxrss / 1024, "wall_s": time.perf_counter() - t0, "rc": proc.returncode,
            "first": lines[0] if lines else "", "last": lines[-1] if lines else ""}


def concurrent(mode: str, bomb: Path, normal: Path, n: int) -> dict:
    done = subprocess.run([sys.executable, "-c", CONCURRENT, mode, str(bomb), str(normal), str(n)], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--wav-seconds", type=float, default=60.0, help="length of the 8-channel 384 kHz WAV")
    ap.add_argument("--repeats", type=int, default=1, help="decodes per file and mode (the old one takes ~8 GB)")
    ap.add_argument("--before", type=Path, help="an older checkout to run the CLI and the page in too (before)")
    ap.add_argument("--parts", default="decode,cli,page,concurrent", help="which measurements, comma-separated")
    ap.add_argument("--uploads", type=int, default=4)
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="bench-decode-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        bomb = write_bomb(work / "bomb.flac", seconds=600.0)
        print(f"wrote the bomb in {time.perf_counter() - t0:.1f} s")
        wav = write_bomb(work / "bomb.wav", seconds=args.wav_seconds)
        normal = normal_clip(work / "normal.wav")
        files = [(f"8 ch × 384 kHz × 600 s FLAC ({bomb.stat().st_size / 2**20:.1f} MB)", bomb),
                 (f"8 ch × 384 kHz × {args.wav_seconds:g} s WAV ({wav.stat().st_size / 2**20:.0f} MB)", wav),
                 (f"normal: 44.1 kHz stereo × 30 s WAV ({normal.stat().st_size / 2**20:.1f} MB)", normal)]
        ratios = []
        if "decode" in parts:
            print("\n1. the decode alone: peak RSS growth of a fresh process (its baseline ~40 MB), median of "
                  f"{args.repeats}")
            for label, path in files:
                got = {}
                for mode in ("reference", "streamed"):
                    runs = [decode_growth(path, mode) for _ in range(args.repeats)]
                    got[mode] = {"growth": statistics.median(r["growth_mb"] for r in runs),
                                 "wall": statistics.median(r["wall_s"] for r in runs),
                                 "all": [round(r["growth_mb"], 1) for r in runs], "seconds": runs[0]["seconds"]}
                ref, ours = got["reference"], got["streamed"]
                ratio = ref["growth"] / max(ours["growth"], 1.0)
                ratios.append(ratio)
                print(f"  {label}: {ours['seconds']:.1f} s of clip\n"
                      f"    before (whole read, mean, resample): +{ref['growth']:,.0f} MB {ref['all']}, {ref['wall']:.1f} s\n"
                      f"    ours (streamed, bounded):            +{ours['growth']:,.1f} MB {ours['all']}, "
                      f"{ours['wall']:.1f} s\n"
                      f"    ratio {ratio:.1f}")
        checkouts = [(where, checkout) for where, checkout in (("before", args.before), ("ours", ROOT)) if checkout]
        if "cli" in parts:
            print("\n2. the CLI: python -m gtzan_core predict FILE, peak RSS of the process")
            for label, path in files:
                for where, checkout in checkouts:
                    got = cli_peak(path, checkout)
                    print(f"  {label} [{where}]: peak {got['peak_mb']:,.0f} MB, {got['wall_s']:.1f} s, "
                          f"rc {got['rc']}: {got['first']} / {got['last']}")
        if "page" in parts:
            print("\n3. the Predict page (AppTest, one process): the bomb uploaded after a normal clip")
            for where, checkout in checkouts:
                got = page_peak(bomb, normal, checkout)
                print(f"  [{where}] peak {got['peak_mb']:,.0f} MB (warm, after the normal clip: {got['warm_mb']:,.0f} "
                      f"MB), {got['wall_s']:.1f} s, exception {got['exception']}: {got['shown']}")
        if "concurrent" in parts:
            print(f"\n4. {args.uploads} bomb uploads at once in one process (threads, as a Streamlit server's "
                  "sessions), each decoded and predicted with the starter model")
            for mode, label in (("turn", "decode_upload (one decode at a time)"),
                                ("free", "no turn (streamed decodes in parallel)")):
                got = concurrent(mode, bomb, normal, args.uploads)
                print(f"  {label}: peak {got['peak_mb']:,.0f} MB, +{got['growth_mb']:,.0f} MB over the warm "
                      f"{got['base_mb']:,.0f} MB; wall {got['wall_s']:.1f} s; decode done after "
                      f"{', '.join(f'{s:.1f}' for s in got['decode_s'])} s; prediction after "
                      f"{', '.join(f'{s:.1f}' for s in got['total_s'])} s")
    if ratios:
        print(f"ratio: {ratios[0]:.0f}")


if __name__ == "__main__":
    main()
