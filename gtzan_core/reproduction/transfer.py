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

    def record_fields(self, config: TrainConfig) -> dict:
        condition, pretrained_on = self.conditions[self.configs.index(config)]
        return {"transfer": {"id": self.id, "condition": condition, "pretrained_on": pretrained_on,
                             "seed": config.seed, "seeds": self.seeds, "protocol": self.protocol,
                             "created": self.created}}


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
    music, on photos, on nothing)."""
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
        })
    return pd.DataFrame(rows)


def transfer_display(table: pd.DataFrame) -> pd.DataFrame:
    """The transfer table as display strings, percentages with their sd."""
    def pct(v, sd):
        if v != v:
            return "—"
        return f"{100 * v:.1f} %" + (f" ± {100 * sd:.1f}" if sd == sd else "")

    return pd.DataFrame({
        "pretrained on": table["pretrained_on"], "model": table["title"], "condition": table["condition"],
        "track accuracy": [pct(v, s)
                           for v, s in zip(table["track_accuracy"], table["track_accuracy_sd"], strict=False)],
        "macro F1": [pct(v, s) for v, s in zip(table["macro_f1"], table["macro_f1_sd"], strict=False)],
        "test tracks": [", ".join(map(str, n)) or "—" for n in table["test_tracks"]],
        "seeds": [f"{d}/{n}" for d, n in zip(table["seeds_done"], table["seeds"], strict=False)],
    })


def transfer_command(args) -> str:
    """The command line that remakes a transfer study (the options that change its figures)."""
    import shlex

    parts = ["python", "-m", "gtzan_core", "transfer"] + (["--data", args.data] if args.data else [])
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
                     skipped=plan.skipped)
    return write_result(doc, args.result)
