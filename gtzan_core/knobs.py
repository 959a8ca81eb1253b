"""Every training knob, declared once: its name, type, bounds or choices, default, help,
group, which models' Train form shows it and how a search samples it.

A light module (no PyTorch), so that an import can check a file's numbers before anything
heavy loads. Everything else is made from :data:`KNOBS`:

* validation (:func:`knob_problems`, :func:`check_knobs`): ``TrainConfig.validate``, recipes
  files, job records, search spaces and imported runs all pass the same check;
* the ``train`` command's flags (``gtzan_core.cli.parser.add_knob_flags``);
* the Train form's widgets (``gtzan_core.webapp.hyperparameters``);
* the recipe diff (:func:`recipe_keys`, :func:`unnamed_defaults`: what a run records as
  changed from its recipe);
* the search's searchable settings (``gtzan_core.search.space``);
* the documentation's table (:func:`knobs_table`, ``docs/reference/knobs.md``).

The values of each recipe stay in ``hparams.yaml`` (per recipe and model), and so do the
models' default search spaces; ``TrainConfig`` takes its defaults from here. How to add a
knob: ``docs/architecture.md``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError


@dataclass(frozen=True)
class Bound:
    """A numeric setting's declared range (both ends included; always finite)."""

    low: float
    high: float
    integer: bool = False

    def problem(self, name: str, value) -> str | None:
        """Why ``value`` is no value of setting ``name`` (None: it is one)."""
        label = name.replace("_", "-")
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return f"{label} must be a number (got {value!r})"
        if self.integer and not isinstance(value, numbers.Integral):
            return f"{label} must be a whole number (got {value!r})"
        if not math.isfinite(value):
            return f"{label} must be a finite number (got {value!r})"
        if not self.low <= value <= self.high:
            return f"{label} must be between {_num(self.low)} and {_num(self.high)} (got {_num(value)})"
        return None

    def text(self) -> str:
        return f"{_num(self.low)} to {_num(self.high)}"


def _num(value: float) -> str:
    return str(value) if isinstance(value, numbers.Integral) else f"{value:g}"


def _every_model(spec) -> bool:
    return True


@dataclass(frozen=True)
class Knob:
    """One training setting. ``type`` is ``int``, ``float``, ``bool`` or ``str``; a number
    has a ``bound``, a ``str`` its ``choices`` (``variant``'s come from each model:
    ``ModelSpec.variants``)."""

    name: str
    type: type
    default: Any
    help: str
    group: str  # a key of GROUPS
    bound: Bound | None = None
    choices: tuple[str, ...] = ()
    #: choices that depend on the model: ``(value, title)`` pairs of a ModelSpec, the default first
    options: Callable[[Any], tuple[tuple[str, str], ...]] | None = None
    #: the Train form shows it for the models this is true of (a ModelSpec); ``models`` narrows by name
    applies: Callable[[Any], bool] = _every_model
    models: tuple[str, ...] | None = None
    #: how a search samples it by default (loguniform, uniform, int, categorical); None: never searched
    search: str | None = None
    #: a recipe may set it (and a run records a value changed from its recipe's)
    recipe: bool = True
    #: counted as a change against ``default`` when the run's recipe does not name it
    recorded_unnamed: bool = False
    #: the ``train`` command's flag (None: ``--name-with-dashes``); ``cli=False``: no flag.
    #: ``negate``: a flag without a value that sets the knob to False (``--unfreeze``)
    cli: bool = True
    flag: str | None = None
    negate: bool = False
    cli_help: str | None = None
    #: the Train form: shown at all, the field's label (None: the name), its widget key's prefix
    #: (``{key}-{model}-{recipe}``), a number format and step
    form: bool = True
    label: str | Callable[[Any], str] | None = None
    key: str | None = None
    format: str | None = None
    step: float | None = None

    @property
    def flag_name(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    @property
    def widget_key(self) -> str:
        return self.key or self.name

    def takes(self, spec) -> bool:
        """Whether the Train form shows it for model ``spec``."""
        return (self.models is None or spec.name in self.models) and bool(self.applies(spec))

    def form_label(self, spec) -> str:
        label = self.label(spec) if callable(self.label) else self.label
        return label or self.name.replace("_", " ")

    def problem(self, value) -> str | None:
        """Why ``value`` is no value of this knob (None: it is one, or unset)."""
        if value is None:
            return None
        if self.bound is not None:
            return self.bound.problem(self.name, value)
        if self.choices and value not in self.choices:
            return f"{self.name} must be one of {', '.join(self.choices)} (got {value!r})"
        return None


#: The knobs' groups, in the order the CLI's help, the Train form and the docs show them.
GROUPS: dict[str, str] = {
    "training": "training (default: the recipe's values)",
    "input": "the input",
    "pretrained": "pretrained models (image models, musicnn)",
    "optimiser": "optimiser and learning-rate schedule (the Transformer's recipe)",
    "augmentation": "batch augmentation (the Transformer's recipe)",
    "architecture": "architecture (models whose builder takes it: ModelSpec.config_options)",
    "distillation": "knowledge distillation (the MFCC models, the CNN, the Transformer)",
    "run": "the run",
}


def _standardisable(spec) -> bool:
    return bool(spec.kind.standardizes)


def _frozen_backbone(spec) -> bool:
    return bool(spec.frozen_backbone and not spec.kind.standardizes)


def can_learn(spec) -> bool:
    """Whether model ``spec`` can learn from a teacher (gtzan_core/distillation.py): a whole
    network trained by epochs (the MFCC models, the CNN, the Transformer), not a head on a
    frozen backbone or a scikit-learn fit."""
    return spec.fit is None and not spec.frozen_backbone


def _has_variants(spec) -> bool:
    return bool(spec.variants)


def _option(name: str) -> Callable[[Any], bool]:
    return lambda spec: name in spec.config_options


_TRANSFORMER = ("ast",)  # the models whose recipe sets the optimiser, schedule and augmentation knobs

_DECLARED = [
    Knob("lr", float, 1e-3, "learning rate", "training", Bound(1e-7, 10.0), search="loguniform",
         label="learning rate", key="lr", format="%.5f"),
    Knob("batch_size", int, 32, "samples per batch", "training", Bound(1, 4096, integer=True),
         search="categorical", label="batch size", key="bs"),
    Knob("epochs", int, 100, "the most epochs (early stopping may end sooner)", "training",
         Bound(1, 10_000, integer=True), search="int", label="max epochs", key="ep"),
    Knob("patience", int, 10, "epochs without a better validation loss before training stops", "training",
         Bound(1, 10_000, integer=True), search="int", label="patience", key="pa"),
    Knob("standardize", bool, False, "standardise the input on the training split's statistics", "input",
         applies=_standardisable, cli=False, key="st"),  # its label is the kind's (webapp/kinds.py)
    Knob("reshuffle", bool, True, "a new sample order every epoch (off: the paper's MFCC loop, one order)",
         "input", cli=False, form=False),
    Knob("pretrained", bool, True, "start from the pretrained weights", "pretrained", applies=_frozen_backbone,
         negate=True, flag="--no-pretrained",
         cli_help="pretrained models: start from random initialisation (a control)", label="pretrained weights",
         key="pt"),
    Knob("freeze_backbone", bool, True, "train only the new head on the frozen backbone", "pretrained",
         applies=_frozen_backbone, negate=True, flag="--unfreeze",
         cli_help="pretrained models (image models, musicnn): fine-tune the whole backbone",
         label="freeze backbone", key="fr"),
    Knob("variant", str, None, "the backbone variant (ModelSpec.variants; ResNeXt)", "pretrained",
         applies=_has_variants, options=lambda spec: spec.variants,
         cli_help="resnext: resnext101_32x8d_wsl (default, the paper's), resnext101_32x8d or resnext50_32x4d "
                  "(ImageNet, for smaller machines)", label="backbone", key="va"),
    Knob("weight_decay", float, 0.0, "weight decay (L2 with adam, decoupled with adamw)", "optimiser",
         Bound(0.0, 1.0), models=_TRANSFORMER, search="loguniform", label="weight decay (AdamW)", key="wd",
         format="%.4f"),
    Knob("optimizer", str, "adam", "the optimiser", "optimiser", choices=("adam", "adamw"), models=_TRANSFORMER,
         recorded_unnamed=True, label="optimiser", key="op"),
    Knob("warmup_epochs", int, 0, "linear learning-rate warm-up over this many epochs", "optimiser",
         Bound(0, 10_000, integer=True), models=_TRANSFORMER, recorded_unnamed=True, search="int",
         label="warm-up epochs", key="wu"),
    Knob("schedule", str, "constant", "after the warm-up: a constant or cosine-decayed lr", "optimiser",
         choices=("constant", "cosine"), models=_TRANSFORMER, recorded_unnamed=True, label="after warm-up",
         key="sc"),
    Knob("mixup", float, 0.0, "mixup's Beta(alpha, alpha) (0: off)", "augmentation", Bound(0.0, 10.0),
         models=_TRANSFORMER, recorded_unnamed=True, search="uniform", label="mixup alpha (0: off)", key="mx"),
    Knob("time_mask", int, 0, "SpecAugment: the widest time mask, in frames (0: off)", "augmentation",
         Bound(0, 1_000, integer=True), models=_TRANSFORMER, recorded_unnamed=True, search="int",
         label="time mask (frames, 0: off)", key="tm"),
    Knob("freq_mask", int, 0, "SpecAugment: the widest frequency mask, in bands (0: off)", "augmentation",
         Bound(0, 1_000, integer=True), models=_TRANSFORMER, recorded_unnamed=True, search="int",
         label="frequency mask (bands)", key="fm"),
    Knob("depth", int, None, "Transformer blocks (default: the builder's)", "architecture",
         Bound(1, 24, integer=True), applies=_option("depth"), search="int", recorded_unnamed=True,
         cli_help="ast: Transformer blocks", label="depth (blocks)", key="de"),
    Knob("width", int, None, "embedding width, a multiple of its 4 heads (default: the builder's)",
         "architecture", Bound(4, 768, integer=True), applies=_option("width"), search="categorical",
         recorded_unnamed=True, cli_help="ast: embedding width (a multiple of its 4 heads)",
         label="width (x4 heads)", key="wi", step=4),
    Knob("dropout", float, None, "dropout (default: the builder's)", "architecture", Bound(0.0, 0.9),
         applies=_option("dropout"), search="uniform", recorded_unnamed=True, cli_help="ast: dropout",
         label="dropout", key="do"),
    # Knowledge distillation: the teacher is a run of the store, so the Train form draws its picker
    # (webapp/hyperparameters.teacher_knobs) rather than a generic field; temperature and alpha count as
    # changed only on a run that names a teacher (TrainConfig.recipe_changes).
    Knob("teacher", str, None, "a finished run on the same dataset whose predictions on the training split are "
         "soft targets beside the labels", "distillation", applies=can_learn, recipe=False, form=False,
         cli_help="a finished run on the same dataset whose predictions on the training split are soft targets "
                  "(e.g. a musicnn head run)"),
    Knob("kd_temperature", float, 4.0, "the soft targets' temperature T", "distillation", Bound(0.1, 100.0),
         applies=can_learn, recorded_unnamed=True, form=False, label="temperature T", key="kt"),
    Knob("kd_alpha", float, 0.5, "the soft targets' weight: alpha * T^2 * KL + (1 - alpha) * cross-entropy",
         "distillation", Bound(0.0, 1.0), applies=can_learn, recorded_unnamed=True, form=False,
         label="teacher weight alpha", key="ka"),
    # The Transformer's size is bounded above (AST-Base is 12 blocks of width 768); what a job's memory
    # may be is the budget's (gtzan_core/training/memory.py, GTZAN_STUDIO_MAX_JOB_MB).
    Knob("seed", int, 0, "the split's, the initialisation's and the batches' seed", "run",
         Bound(0, 2**32 - 1, integer=True), recipe=False, form=False),
]

#: The registry: every knob by name, in declaration order.
KNOBS: dict[str, Knob] = {k.name: k for k in _DECLARED}


def knob(name: str) -> Knob:
    return KNOBS[name]


def default(name: str) -> Any:
    """A knob's default (``TrainConfig``'s field defaults read it: the value when no recipe names it)."""
    return KNOBS[name].default


def bounds() -> dict[str, Bound]:
    """Every numeric knob's bounds, by name."""
    return {k.name: k.bound for k in KNOBS.values() if k.bound is not None}


def recipe_keys() -> tuple[str, ...]:
    """The settings a recipe may set (the rest of a TrainConfig is per run)."""
    return tuple(k.name for k in KNOBS.values() if k.recipe)


def unnamed_defaults() -> dict[str, Any]:
    """The knobs a run's recipe diff compares with their default when the recipe does not name them."""
    return {k.name: k.default for k in KNOBS.values() if k.recorded_unnamed}


def group_knobs(group: str) -> list[Knob]:
    return [k for k in KNOBS.values() if k.group == group]


def knob_problems(values: Mapping, where: str = "") -> list[str]:
    """What is wrong with the settings in ``values`` (those :data:`KNOBS` declares; ``None``
    counts as unset), one line each, prefixed by ``where``."""
    problems = []
    for k in KNOBS.values():
        if (problem := k.problem(values.get(k.name))):
            problems.append(f"{where}{problem}")
    return problems


def check_knobs(values: Mapping, where: str = "") -> None:
    """Raise :class:`ConfigError` naming the first setting of ``values`` outside its declaration."""
    problems = knob_problems(values, where)
    if problems:
        raise ConfigError(problems[0])


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def knobs_table(models: Mapping | None = None) -> str:
    """The documentation's tables of knobs (Markdown, one per group; ``docs/gen.py``), from
    :data:`KNOBS`; ``models``: the model registry (name -> ModelSpec) whose forms show each knob."""
    out = []
    for group, title in GROUPS.items():
        declared = group_knobs(group)
        if not declared:
            continue
        out += [f"## {title[0].upper()}{title[1:]}", "",
                "| knob | `train` flag | type | range | default | Train form shows it for | search | what it does |",
                "|---|---|---|---|---|---|---|---|"]
        for k in declared:
            flag = f"`{k.flag_name}`" if k.cli else "—"
            rng = k.bound.text() if k.bound else (", ".join(k.choices) if k.choices else "—")
            default_text = "—" if k.default is None else f"`{k.default}`"
            if not k.form:
                shown = "—"
            elif models is None:
                shown = "its models"
            else:
                names = [n for n, spec in models.items() if k.takes(spec)]
                shown = "every model" if len(names) == len(models) else (", ".join(names) or "—")
            out.append(f"| `{k.name}` | {flag} | {k.type.__name__} | {_cell(rng)} | {default_text} | "
                       f"{_cell(shown)} | {k.search or '—'} | {_cell(k.help)} |")
        out.append("")
    return "\n".join(out).rstrip()
