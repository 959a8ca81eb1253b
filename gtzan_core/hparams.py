"""Hyperparameters: named recipes in ``hparams.yaml`` merged with overrides.

A recipe (``paper``: the values of the paper's code; ``studio``: ours, tuned for a
CPU) gives every model its settings: the recipe's ``defaults``, then the model's
own section. :func:`make_config` applies overrides on top, and the resulting
:class:`TrainConfig` knows which values differ from its recipe
(:meth:`TrainConfig.recipe_changes`), so a run records e.g. "paper, epochs 1".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .knobs import KNOBS, check_knobs, default as _d, recipe_keys, unnamed_defaults
from .models import get_spec

#: Knowledge distillation's knobs (gtzan_core/distillation.py): the soft targets' temperature and weight;
#: they count as a change only on a run that names a ``teacher``.
DISTILL_KEYS = ("kd_temperature", "kd_alpha")


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
    #: the knobs: each one's type, default, bounds and help are declared once in gtzan_core/knobs.py
    lr: float = _d("lr")
    batch_size: int = _d("batch_size")
    epochs: int = _d("epochs")
    patience: int = _d("patience")
    weight_decay: float = _d("weight_decay")
    standardize: bool = _d("standardize")
    reshuffle: bool = _d("reshuffle")
    pretrained: bool = _d("pretrained")
    freeze_backbone: bool = _d("freeze_backbone")
    variant: str | None = _d("variant")
    optimizer: str = _d("optimizer")
    warmup_epochs: int = _d("warmup_epochs")
    schedule: str = _d("schedule")
    time_mask: int = _d("time_mask")
    freq_mask: int = _d("freq_mask")
    mixup: float = _d("mixup")
    depth: int | None = _d("depth")
    width: int | None = _d("width")
    dropout: float | None = _d("dropout")
    #: knowledge distillation (gtzan_core/distillation.py): a finished run whose predictions on this
    #: run's training clips are its soft targets (None: none), their temperature and weight alpha
    teacher: str | None = _d("teacher")
    kd_temperature: float = _d("kd_temperature")
    kd_alpha: float = _d("kd_alpha")
    device: str = "auto"
    seed: int = _d("seed")
    val_frac: float = 0.15
    test_frac: float = 0.15
    # False: the run never looks at its test set (a search's trial: it is evaluated on
    # validation; the study's best trial is tested once, after the study ends)
    evaluate_test: bool = True
    #: the values of declared knobs that have no field above yet (a knob just added to
    #: gtzan_core/knobs.py: validated and recorded like the others; read with :meth:`value`)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict:
        d = asdict(self)
        if not d["extra"]:
            del d["extra"]  # a record keeps the shape it always had
        return d

    def value(self, name: str) -> Any:
        """Knob ``name``'s value here: its field, else :attr:`extra`, else its declared default."""
        if name in _FIELDS:
            return getattr(self, name)
        return self.extra.get(name, KNOBS[name].default)

    def validate(self) -> TrainConfig:
        get_spec(self.model)
        unknown = set(self.extra) - set(KNOBS)
        if unknown:
            raise ConfigError(f"unknown setting(s) {', '.join(sorted(unknown))}")
        check_knobs({**self.extra, **asdict(self)})
        if not (0 < self.val_frac < 1 and 0 < self.test_frac < 1 and self.val_frac + self.test_frac < 1):
            raise ConfigError("val/test fractions must be in (0, 1) and sum to less than 1")
        self._validate_recipe_knobs()
        if self.variant is not None and get_spec(self.model).variants:
            from .models.weights import backbone_weights

            backbone_weights(self.model, self.variant)  # validates
        return self

    def _validate_recipe_knobs(self) -> None:
        """What no single knob's declaration can say: the knobs against the model and each other."""
        spec = get_spec(self.model)
        if (self.time_mask or self.freq_mask) and spec.kind.mask_axes is None:
            raise ConfigError(f"{spec.title} reads {spec.input_kind} input: it has no time and frequency axes to mask")
        if (self.time_mask or self.freq_mask) and spec.frozen_backbone and self.freeze_backbone:
            raise ConfigError(f"{spec.title} trains a head on its frozen backbone's cached outputs: time and "
                              "frequency masks need the whole network trained (unfreeze it)")
        if self.teacher is not None:
            if not isinstance(self.teacher, str) or not self.teacher.strip():
                raise ConfigError(f"teacher must be a run id (got {self.teacher!r})")
            if spec.fit is not None or (spec.frozen_backbone and self.freeze_backbone):
                raise ConfigError(f"{spec.title} cannot learn from a teacher: distillation trains the MFCC models, "
                                  "the CNN and the Transformer (a whole network, by epochs)")
        given = [k.name for k in KNOBS.values() if k.group == "architecture" and self.value(k.name) is not None]
        unused = [k for k in given if k not in spec.config_options]
        if unused:
            raise ConfigError(f"{spec.title} takes no {', '.join(unused)} option")

    def recipe_changes(self, hparams: dict | None = None) -> dict:
        """The recipe settings this config changes: {name: value here}. The knobs declared
        ``recorded_unnamed`` (the Transformer's) count as changes against their defaults when
        the recipe does not name them."""
        try:
            base = model_defaults(self.model, self.recipe, hparams)
        except ConfigError:
            return {}
        base = {**unnamed_defaults(), **base}
        changes = {k: self.value(k) for k in recipe_keys() if k in base and base[k] != self.value(k)}
        if self.teacher is None:  # the temperature and alpha mean nothing without a teacher
            return {k: v for k, v in changes.items() if k not in DISTILL_KEYS}
        return {"teacher": self.teacher, **changes, **{k: self.value(k) for k in DISTILL_KEYS}}

    def model_options(self) -> dict:
        """The architecture options this config gives its model's builder (``ModelSpec.config_options``)."""
        spec = get_spec(self.model)
        return {k: self.value(k) for k in spec.config_options if self.value(k) is not None}


_FIELDS = frozenset(f.name for f in fields(TrainConfig))


def load_hparams(path: str | Path | None = None) -> dict:
    path = Path(path) if path else hparams_path()
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: hyperparameter file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({yaml_problem(exc)})") from None
    if not isinstance(data, dict) or not isinstance(data.get("recipes"), dict) or not data["recipes"]:
        raise ConfigError(f"{path}: expected a 'recipes' mapping of recipe names to per-model settings")
    return data


def yaml_problem(exc: Exception) -> str:
    """A YAML error in one line: what is wrong and where ("line 3, column 7: mapping values
    are not allowed here"), never the several lines of context PyYAML prints."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return " ".join(f"{where}{problem}".split())


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
    unknown = set(merged) - set(recipe_keys())
    if unknown:
        raise ConfigError(f"recipe {recipe!r} for {model!r}: unknown key(s) {', '.join(sorted(unknown))}")
    check_knobs(merged, f"recipe {recipe!r} for {model!r}: ")
    return merged


def make_config(model: str, recipe: str | None = None, hparams: dict | None = None, **overrides) -> TrainConfig:
    """A :class:`TrainConfig` from ``recipe`` with ``overrides`` (``None`` = keep the recipe's value)."""
    hp = load_hparams() if hparams is None else hparams
    recipe = recipe or default_recipe(hp)
    values = model_defaults(model, recipe, hp)
    values.update({k: v for k, v in overrides.items() if v is not None})
    bad = set(values) - (_FIELDS - {"extra"}) - set(KNOBS)
    if bad:
        raise ConfigError(f"unknown setting(s) {', '.join(sorted(bad))}")
    values.pop("model", None)
    values["recipe"] = recipe
    extra = {k: values.pop(k) for k in list(values) if k not in _FIELDS}  # knobs declared without a field yet
    return TrainConfig(model=model, **values, extra=extra).validate()


def setting_text(value) -> str:
    """A setting's value as people read it: a fraction with 3 significant digits
    (``0.000443``, ``3.83e-05``, ``0.3``), anything else as it is (``64``, ``cosine``,
    ``True``). Every label of a recipe's changes or a search's trial reads it."""
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def recipe_label(record_or_config) -> str:
    """"paper" or "paper, epochs 1, lr 0.000443": the recipe and what a run changed
    (values: :func:`setting_text`)."""
    if isinstance(record_or_config, TrainConfig):
        name, changes = record_or_config.recipe, record_or_config.recipe_changes()
    else:
        name = record_or_config.get("recipe") or (record_or_config.get("config") or {}).get("recipe") or "—"
        changes = record_or_config.get("recipe_changes") or {}
    return ", ".join([name, *(f"{k.replace('_', ' ')} {setting_text(v)}" for k, v in changes.items())])
