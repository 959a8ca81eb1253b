"""Hyperparameters: ``hparams.yaml`` (per-model defaults) merged with overrides."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import yaml

from .errors import ConfigError
from .models import get_spec


def hparams_path() -> Path:
    env = os.environ.get("GTZAN_STUDIO_HPARAMS")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "hparams.yaml"


@dataclass
class TrainConfig:
    model: str
    protocol: str = "track"
    lr: float = 1e-3
    batch_size: int = 32
    epochs: int = 100
    patience: int = 10
    weight_decay: float = 0.0
    standardize: bool = True
    pretrained: bool = True
    freeze_backbone: bool = True
    variant: str | None = None
    device: str = "auto"
    seed: int = 0
    val_frac: float = 0.15
    test_frac: float = 0.15

    def as_dict(self) -> dict:
        return asdict(self)

    def validate(self) -> "TrainConfig":
        get_spec(self.model)
        for name in ("lr", "batch_size", "epochs"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name.replace('_', '-')} must be positive (got {getattr(self, name)})")
        if self.patience < 1:
            raise ConfigError(f"patience must be at least 1 (got {self.patience})")
        if not (0 < self.val_frac < 1 and 0 < self.test_frac < 1 and self.val_frac + self.test_frac < 1):
            raise ConfigError("val/test fractions must be in (0, 1) and sum to less than 1")
        return self


def load_hparams(path: str | Path | None = None) -> dict:
    path = Path(path) if path else hparams_path()
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: hyperparameter file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of model names to settings")
    return data


def model_defaults(model: str, hparams: dict | None = None) -> dict:
    """The merged defaults for ``model``: ``defaults`` then the model's own section."""
    get_spec(model)
    hp = load_hparams() if hparams is None else hparams
    merged = dict(hp.get("defaults") or {})
    merged.update(hp.get(model) or {})
    known = {f.name for f in fields(TrainConfig)}
    unknown = set(merged) - known
    if unknown:
        raise ConfigError(f"hparams for {model!r}: unknown key(s) {', '.join(sorted(unknown))}")
    return merged


def make_config(model: str, hparams: dict | None = None, **overrides) -> TrainConfig:
    """A :class:`TrainConfig` from hparams.yaml with ``overrides`` (``None`` = keep default)."""
    values = model_defaults(model, hparams)
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in fields(TrainConfig)}
    bad = set(values) - known
    if bad:
        raise ConfigError(f"unknown setting(s) {', '.join(sorted(bad))}")
    return TrainConfig(model=model, **{k: v for k, v in values.items() if k != "model"}).validate()
