"""Hyperparameters: named recipes in ``hparams.yaml`` merged with overrides.

A recipe (``paper``: the values of the paper's code; ``studio``: ours, tuned for a
CPU) gives every model its settings: the recipe's ``defaults``, then the model's
own section. :func:`make_config` applies overrides on top, and the resulting
:class:`TrainConfig` knows which values differ from its recipe
(:meth:`TrainConfig.recipe_changes`), so a run records e.g. "paper, epochs 1".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

import yaml

from .errors import ConfigError
from .models import get_spec

#: Settings a recipe may set (the rest of TrainConfig is per run: protocol, device, seed...).
RECIPE_KEYS = ("lr", "batch_size", "epochs", "patience", "weight_decay", "standardize", "reshuffle",
               "pretrained", "freeze_backbone", "variant")


def hparams_path() -> Path:
    """``$GTZAN_STUDIO_HPARAMS``, else the recipes packaged with the library (in a checkout
    ``gtzan_core/hparams.yaml`` is a link to the repository's ``hparams.yaml``; a wheel
    carries the file itself, so an installed studio needs no checkout)."""
    from . import settings

    env = settings.get("GTZAN_STUDIO_HPARAMS")
    return Path(env) if env else Path(__file__).resolve().with_name("hparams.yaml")


@dataclass
class TrainConfig:
    model: str
    recipe: str = "paper"
    protocol: str = "track"
    lr: float = 1e-3
    batch_size: int = 32
    epochs: int = 100
    patience: int = 10
    weight_decay: float = 0.0
    standardize: bool = False
    reshuffle: bool = True  # a new sample order every epoch (False: the paper's MFCC loop, one order)
    pretrained: bool = True
    freeze_backbone: bool = True
    variant: str | None = None
    device: str = "auto"
    seed: int = 0
    val_frac: float = 0.15
    test_frac: float = 0.15
    # False: the run never looks at its test set (a search's trial: it is evaluated on
    # validation; the study's best trial is tested once, after the study ends)
    evaluate_test: bool = True

    def as_dict(self) -> dict:
        return asdict(self)

    def validate(self) -> TrainConfig:
        get_spec(self.model)
        for name in ("lr", "batch_size", "epochs"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name.replace('_', '-')} must be positive (got {getattr(self, name)})")
        if self.patience < 1:
            raise ConfigError(f"patience must be at least 1 (got {self.patience})")
        if not (0 < self.val_frac < 1 and 0 < self.test_frac < 1 and self.val_frac + self.test_frac < 1):
            raise ConfigError("val/test fractions must be in (0, 1) and sum to less than 1")
        if self.variant is not None and get_spec(self.model).variants:
            from .models.weights import backbone_weights

            backbone_weights(self.model, self.variant)  # validates
        return self

    def recipe_changes(self, hparams: dict | None = None) -> dict:
        """The recipe settings this config changes: {name: value here}."""
        try:
            base = model_defaults(self.model, self.recipe, hparams)
        except ConfigError:
            return {}
        return {k: getattr(self, k) for k in RECIPE_KEYS if k in base and base[k] != getattr(self, k)}


def load_hparams(path: str | Path | None = None) -> dict:
    path = Path(path) if path else hparams_path()
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: hyperparameter file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("recipes"), dict) or not data["recipes"]:
        raise ConfigError(f"{path}: expected a 'recipes' mapping of recipe names to per-model settings")
    return data


def recipes(hparams: dict | None = None) -> dict[str, str]:
    """Recipe name -> description, the default recipe first."""
    hp = load_hparams() if hparams is None else hparams
    names = sorted(hp["recipes"], key=lambda n: n != default_recipe(hp))
    return {n: str((hp["recipes"][n] or {}).get("description", "")) for n in names}


def default_recipe(hparams: dict | None = None) -> str:
    hp = load_hparams() if hparams is None else hparams
    name = hp.get("default_recipe") or next(iter(hp["recipes"]))
    if name not in hp["recipes"]:
        raise ConfigError(f"default_recipe {name!r} is not one of the recipes ({', '.join(hp['recipes'])})")
    return name


def model_defaults(model: str, recipe: str | None = None, hparams: dict | None = None) -> dict:
    """The merged settings of ``recipe`` (default: the file's default recipe) for
    ``model``: the recipe's ``defaults`` then the model's own section."""
    get_spec(model)
    hp = load_hparams() if hparams is None else hparams
    recipe = recipe or default_recipe(hp)
    if recipe not in hp["recipes"]:
        raise ConfigError(f"unknown recipe {recipe!r}; choose one of {', '.join(hp['recipes'])}")
    section = hp["recipes"][recipe] or {}
    merged = dict(section.get("defaults") or {})
    merged.update(section.get(model) or {})
    unknown = set(merged) - set(RECIPE_KEYS)
    if unknown:
        raise ConfigError(f"recipe {recipe!r} for {model!r}: unknown key(s) {', '.join(sorted(unknown))}")
    return merged


def make_config(model: str, recipe: str | None = None, hparams: dict | None = None, **overrides) -> TrainConfig:
    """A :class:`TrainConfig` from ``recipe`` with ``overrides`` (``None`` = keep the recipe's value)."""
    hp = load_hparams() if hparams is None else hparams
    recipe = recipe or default_recipe(hp)
    values = model_defaults(model, recipe, hp)
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in fields(TrainConfig)}
    bad = set(values) - known
    if bad:
        raise ConfigError(f"unknown setting(s) {', '.join(sorted(bad))}")
    values.pop("model", None)
    values["recipe"] = recipe
    return TrainConfig(model=model, **values).validate()


def recipe_label(record_or_config) -> str:
    """"paper" or "paper, epochs 1, lr 0.001": the recipe and what a run changed."""
    if isinstance(record_or_config, TrainConfig):
        name, changes = record_or_config.recipe, record_or_config.recipe_changes()
    else:
        name = record_or_config.get("recipe") or (record_or_config.get("config") or {}).get("recipe") or "—"
        changes = record_or_config.get("recipe_changes") or {}
    return ", ".join([name, *(f"{k.replace('_', ' ')} {v}" for k, v in changes.items())])
