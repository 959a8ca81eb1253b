"""The paper's closing question, answered with runs: would networks pretrained on
data closer to music do better than ImageNet ones, and does transfer learning help?

A *transfer study* trains, on one dataset and one honest split, every model that
can read it under the condition that isolates what pretraining brings:

=====================  ===============================  =====================================
pretrained on          model / condition                what it shows
=====================  ===============================  =====================================
music (MSD)            musicnn · frozen, new head       music features as they come
music (MSD)            musicnn · fine-tuned             the whole network adapted to GTZAN
music (MagnaTagATune)  musicnn_mtt · frozen, new head   the same network trained on other tags
music (MSD + MTT)      musicnn_both · frozen, new head  both embeddings side by side, one head
music (MSD, MTT)       musicnn_vgg, musicnn_vgg_mtt     the wheel's VGG baselines on the same tags
photos (ImageNet)      EfficientNet-Lite0 · frozen      photo features on spectrogram pictures
nothing                musicnn · random init, frozen    the same architecture without its weights
nothing                EfficientNet-Lite0 · random init the same, for the photo network
nothing                MLP, CNN, LSTM, GRU              the paper's models from scratch (MFCCs)
nothing                VGG19, ResNeXt, SqueezeNet       the paper's image models, random init (no
                                                        ImageNet weights can be fetched offline)
nothing                AST, with / without masks, mixup a spectrogram Transformer from scratch
=====================  ===============================  =====================================

Audio models join when the dataset has audio, image models when it has pictures
(its PNGs, or pictures drawn from its audio). Every run records ``transfer: {id,
condition, pretrained_on, seed, seeds}`` and its changes to the recipe, so the
table (:func:`transfer_table`) is gathered from the run store like a reproduction.

A study may also be tested on a labelled folder of other material (``--test-data``,
e.g. the 37 full 30 s GTZAN clips beside the 2-3 s excerpts it trains on). Every
track of the training data whose id the folder holds is left out of the study
before any split is made (:func:`leave_out_test_tracks`), so no run trains, stops
early or is chosen on a track it is tested on; each finished run is then evaluated
on the folder as Predict answers (every clip's windows, their probabilities
averaged: :func:`~gtzan_core.external.evaluate_folder`), and the table gains that
folder's accuracy beside the split's own test figure.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..hparams import TrainConfig, make_config
from ..models import MODELS
from ..runs.record import RunRecord, Scores, dataset_of

#: (model, condition, what it was pretrained on, config changes); in table order.
CONDITIONS = [
    ("musicnn", "frozen, new head", "music (MSD)", {}),
    ("musicnn", "fine-tuned", "music (MSD)", {"freeze_backbone": False, "lr": 1e-4, "patience": 5}),
    ("musicnn_mtt", "frozen, new head", "music (MagnaTagATune)", {}),
    ("musicnn_both", "frozen, new head", "music (MSD + MagnaTagATune)", {}),
    ("musicnn_vgg", "frozen, new head", "music (MSD)", {}),
    ("musicnn_vgg_mtt", "frozen, new head", "music (MagnaTagATune)", {}),
    ("efficientnet_lite0", "frozen, new head", "photos (ImageNet)", {}),
    ("musicnn", "random init, frozen", "nothing", {"pretrained": False}),
    ("efficientnet_lite0", "random init, frozen", "nothing", {"pretrained": False}),
    *((m, "from scratch", "nothing", {}) for m in ("mlp", "cnn", "lstm", "gru")),
    *((m, "random init, frozen", "nothing", {"pretrained": False}) for m in ("vgg19", "resnext", "squeezenet")),
    # the spectrogram Transformer from scratch on the same log-mel as musicnn, with its recipe's
    # masks and mixup, and without them (do they close the gap to the CNN?)
    ("ast", "from scratch", "nothing", {}),
    ("ast", "from scratch, no masks or mixup", "nothing", {"time_mask": 0, "freq_mask": 0, "mixup": 0.0}),
]


@dataclass
class TransferPlan:
    id: str
    configs: list[TrainConfig]
    conditions: list[tuple[str, str]]  # (condition, pretrained_on) of each config
    seeds: int
    protocol: str
    created: float = field(default_factory=time.time)
    skipped: dict[str, list[str]] = field(default_factory=dict)
    #: the folder it is tested on besides its split (``--test-data``): name, folder, left_out (track ids)
    test_data: dict | None = None

    def record_fields(self, config: TrainConfig) -> dict:
        condition, pretrained_on = self.conditions[self.configs.index(config)]
        test = ({"test_data": self.test_data["folder"], "left_out": len(self.test_data["left_out"])}
                if self.test_data else {})
        return {"transfer": {"id": self.id, "condition": condition, "pretrained_on": pretrained_on,
                             "seed": config.seed, "seeds": self.seeds, "protocol": self.protocol,
                             "created": self.created, **test}}


def read_test_folder(folder) -> tuple:
    """The labelled folder a study is tested on (``<genre>/<files>`` or the Kaggle layout,
    :func:`~gtzan_core.external.scan_folder`) and the track ids of its files in a GTZAN
    genre's folder; a folder without any is a :class:`~gtzan_core.errors.DatasetError`."""
    from ..audio import printable
    from ..errors import DatasetError
    from ..external import genre_of, scan_folder, track_id

    found = scan_folder(folder)
    ids = frozenset(track_id(path) for path, label in found.files if genre_of(label, {}) is not None)
    if not ids:
        raise DatasetError(f"{printable(found.root)}: no file in a folder named after a GTZAN genre: nothing to "
                           "test on")
    return found, ids


def leave_out_test_tracks(dataset, test_ids, test_name: str):
    """``dataset`` without every track whose id is in ``test_ids`` (a test folder's),
    and the ids left out (sorted). A dataset every track of which is in the test folder
    is refused: nothing would be left to train on."""
    from ..errors import ConfigError

    overlap = sorted(set(dataset.tracks["track_id"].astype(str)) & set(test_ids))
    if overlap and len(overlap) == len(dataset.tracks):
        raise ConfigError(f"every track of the training data ({len(overlap)}) is in the test folder {test_name}: "
                          "nothing is left to train on (test on a folder of other tracks)")
    if not overlap:
        return dataset, []
    return dataset.without_tracks(overlap, f"the test folder {test_name} holds them"), overlap


def plan_transfer(dataset, seeds: int = 3, protocol: str = "track", epochs: int | None = None,
                  recipe: str = "studio", models: list[str] | None = None, device: str = "auto",
                  fine_tune: bool = True, random_init: bool = True) -> TransferPlan:
    """The runs of a transfer study on ``dataset``: each condition of :data:`CONDITIONS`
    whose model can read the dataset (``models``: only these), for seeds 0..seeds-1,
    with ``recipe`` (default: the studio's) and ``epochs`` capping its maximum;
    ``fine_tune`` False leaves out the fine-tuned conditions (the slow ones on a CPU);
    ``random_init`` False the pretrained models' random-init conditions (each a backbone
    pass of its own per seed, where the pretrained backbone's pass is made once)."""
    from ..errors import ConfigError

    if seeds < 1:
        raise ConfigError(f"seeds must be at least 1 (got {seeds})")
    unknown = [m for m in models or [] if m not in MODELS]
    if unknown:
        raise ConfigError(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    configs, conditions = [], []
    for seed in range(seeds):
        for model, condition, pretrained_on, changes in CONDITIONS:
            spec = MODELS[model]
            if models and model not in models or (spec.needs_audio and not dataset.has_audio):
                continue
            if not fine_tune and changes.get("freeze_backbone") is False:
                continue
            if not random_init and changes.get("pretrained") is False:
                continue
            changes = dict(changes)
            if epochs:
                changes["epochs"] = epochs
            configs.append(make_config(model, recipe=recipe, protocol=protocol, device=device, seed=seed, **changes))
            conditions.append((condition, pretrained_on))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return TransferPlan(f"transfer-{stamp}-{secrets.token_hex(2)}", configs, conditions, seeds, protocol)


def screen_transfer(plan: TransferPlan, dataset, allow_weak: bool = False) -> TransferPlan:
    """Leave out the runs whose split cannot say anything (see ``screen_splits``)."""
    from ..splits import planned_problems_of

    kept, kept_conditions = [], []
    for config, condition, problems in zip(plan.configs, plan.conditions, planned_problems_of(plan.configs, dataset),
                                           strict=False):
        if problems and not allow_weak:
            plan.skipped[f"{config.model} / {condition[0]}"] = problems
        else:
            kept.append(config)
            kept_conditions.append(condition)
    plan.configs, plan.conditions = kept, kept_conditions
    return plan


def transfer_records(store, transfer_id: str) -> list[dict]:
    return sorted((r for r in store.list() if (r.get("transfer") or {}).get("id") == transfer_id),
                  key=lambda r: r.get("created", 0))


def evaluate_test_data(plan: TransferPlan, records: list[dict], store, device: str = "cpu",
                       on_file=None) -> list[dict]:
    """Each finished run of ``records`` evaluated on the plan's test folder (saved with the
    run, as ``evaluate RUN --data FOLDER`` does); the records read again. Without a test
    folder: ``records`` as they are."""
    from ..external import evaluate_folder

    if not plan.test_data:
        return records
    finished = [r["run_id"] for r in records if _track_scores(r) is not None]
    if finished:
        evaluate_folder(finished, plan.test_data["folder"], store, device=device, on_file=on_file)
    return [store.read(r["run_id"]) for r in records]


def list_transfers(store) -> list[dict]:
    """One summary per transfer study in the store, newest first."""
    groups: dict[str, list[dict]] = {}
    for r in store.list():
        tid = (r.get("transfer") or {}).get("id")
        if tid:
            groups.setdefault(tid, []).append(r)
    out = []
    for tid, runs in groups.items():
        out.append({"id": tid, "created": min(r.get("created", 0) for r in runs), "runs": len(runs),
                    "finished": sum(r.evaluated for r in runs),
                    "active": sum(r.active for r in runs),
                    "dataset": dataset_of(runs)})
    return sorted(out, key=lambda d: d["created"], reverse=True)


def _track_scores(record) -> Scores | None:
    ev = RunRecord.of(record).evaluation
    return ev.track if ev else None


def _folder_evaluation(record, folder: str):
    """The run's evaluation on ``folder`` (its resolved path), or None."""
    return next((ev for ev in RunRecord.of(record).external_evaluations if ev.folder == folder and ev.scores),
                None)


def _mean_sd(values: list[float]) -> tuple[float, float]:
    arr = np.asarray(values, dtype=float)
    if not len(arr):
        return float("nan"), float("nan")
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else float("nan")


def transfer_table(records: list[dict]) -> pd.DataFrame:
    """One row per model and condition: track-level test accuracy and macro F1 (mean,
    sd over the finished seeds), validation accuracy at the kept epoch (mean, sd: what a
    choice among the rows may read; :func:`~gtzan_core.ensemble.validation_accuracy`),
    test tracks per seed, seeds, epochs, in the order of :data:`CONDITIONS` (pretrained on
    music, on photos, on nothing). Runs tested on a folder besides their split
    (``transfer.test_data``) add that folder's clip accuracy and macro F1 (mean, sd over
    the seeds evaluated there), its clips scored per seed and the most clips dropped as
    seen in training (0: none was)."""
    from ..ensemble import validation_accuracy

    order = {(m, c): k for k, (m, c, _, _) in enumerate(CONDITIONS)}
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        t = r.get("transfer") or {}
        groups.setdefault((r.get("model"), t.get("condition"), t.get("pretrained_on")), []).append(r)
    rows = []
    for (model, condition, pretrained_on), runs in sorted(groups.items(), key=lambda kv: order.get(kv[0][:2], 99)):
        done = [t for t in (_track_scores(r) for r in runs) if t is not None]
        acc, acc_sd = _mean_sd([t.accuracy for t in done])
        f1, f1_sd = _mean_sd([t.macro_f1 for t in done])
        vals = [v for v in (validation_accuracy(r) for r in runs if _track_scores(r) is not None) if v is not None]
        val, val_sd = _mean_sd(vals)
        rows.append({
            "pretrained_on": pretrained_on, "model": model, "title": MODELS[model].title if model in MODELS else model,
            "condition": condition, "track_accuracy": acc, "track_accuracy_sd": acc_sd, "macro_f1": f1,
            "macro_f1_sd": f1_sd, "val_accuracy": val, "val_accuracy_sd": val_sd,
            "test_tracks": sorted({t.n for t in done}),
            "seeds_done": len(done), "seeds": len(runs),
            "epochs": [RunRecord.of(r).epochs_run for r in runs if _track_scores(r) is not None],
            "padded": max((r.get("padded_inputs") or {}).get("tracks", 0) for r in runs),
            "train_seconds": float(np.mean([r.get("train_seconds") or 0 for r in done])) if done else float("nan"),
            **_test_data_columns(runs),
        })
    return pd.DataFrame(rows)


def _test_data_columns(runs: list[dict]) -> dict:
    """The test folder's columns of one row (none when its runs were tested on no folder)."""
    folder = next((t["test_data"] for t in ((r.get("transfer") or {}) for r in runs) if t.get("test_data")), None)
    if folder is None:
        return {}
    evs = [ev for ev in (_folder_evaluation(r, folder) for r in runs) if ev is not None]
    acc, acc_sd = _mean_sd([ev.scores.accuracy for ev in evs])
    f1, f1_sd = _mean_sd([ev.scores.macro_f1 for ev in evs])
    return {"test_data_accuracy": acc, "test_data_accuracy_sd": acc_sd, "test_data_macro_f1": f1,
            "test_data_macro_f1_sd": f1_sd, "test_data_clips": sorted({ev.n_scored for ev in evs}),
            "test_data_seeds": len(evs), "test_data_dropped": max((ev.n_dropped for ev in evs), default=0),
            "test_data_refused": max((ev.n_refused for ev in evs), default=0)}


def transfer_display(table: pd.DataFrame) -> pd.DataFrame:
    """The transfer table as display strings, percentages with their sd."""
    def pct(v, sd):
        if v != v:
            return "—"
        return f"{100 * v:.1f} %" + (f" ± {100 * sd:.1f}" if sd == sd else "")

    out = pd.DataFrame({
        "pretrained on": table["pretrained_on"], "model": table["title"], "condition": table["condition"],
        "track accuracy": [pct(v, s)
                           for v, s in zip(table["track_accuracy"], table["track_accuracy_sd"], strict=False)],
        "macro F1": [pct(v, s) for v, s in zip(table["macro_f1"], table["macro_f1_sd"], strict=False)],
        "test tracks": [", ".join(map(str, n)) or "—" for n in table["test_tracks"]],
        "seeds": [f"{d}/{n}" for d, n in zip(table["seeds_done"], table["seeds"], strict=False)],
    })
    if "test_data_accuracy" in table:
        out["test folder accuracy"] = [pct(v, s) for v, s in zip(table["test_data_accuracy"],
                                                                  table["test_data_accuracy_sd"], strict=False)]
        out["test folder macro F1"] = [pct(v, s) for v, s in zip(table["test_data_macro_f1"],
                                                                 table["test_data_macro_f1_sd"], strict=False)]
        out["test folder clips"] = [", ".join(map(str, n)) if isinstance(n, list) and n else "—"
                                    for n in table["test_data_clips"]]
    return out


def transfer_command(args) -> str:
    """The command line that remakes a transfer study (the options that change its figures)."""
    import shlex

    parts = ["python", "-m", "gtzan_core", "transfer"] + (["--data", args.data] if args.data else [])
    if getattr(args, "test_data", None):
        parts += ["--test-data", args.test_data]
    parts += ["--protocol", args.protocol, "--recipe", args.recipe, "--seeds", str(args.seeds)]
    if args.models:
        parts += ["--models", *args.models]
    if args.no_fine_tune:
        parts.append("--no-fine-tune")
    if getattr(args, "no_random_init", False):
        parts.append("--no-random-init")
    if args.epochs:
        parts += ["--epochs", str(args.epochs)]
    if args.image_source != "auto":
        parts += ["--image-source", args.image_source]
    if args.allow_weak_split:
        parts.append("--allow-weak-split")
    return shlex.join(parts + ["--result", args.result])


def write_transfer_result(args, dataset, table: pd.DataFrame, plan: TransferPlan, wall: float):
    """A transfer study's table as a result file (:mod:`.result_files`) at ``args.result``."""
    import json

    from .result_files import new_result, write_result

    rows = json.loads(table.to_json(orient="records"))
    folder = str(dataset.root).rstrip("/").rsplit("/", 1)[-1]
    doc = new_result("transfer", f"Does pretraining help? · {dataset.label} · {folder}",
                     transfer_command(args), list(range(args.seeds)), rows, study=plan.id, protocol=args.protocol,
                     recipe=args.recipe, dataset={**dataset.run_info(), "tracks": int(len(dataset.tracks))},
                     device=plan.configs[0].device if plan.configs else None, wall_seconds=round(wall, 1),
                     skipped=plan.skipped, **({"test_data": plan.test_data} if plan.test_data else {}))
    return write_result(doc, args.result)
