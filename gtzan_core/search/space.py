"""Search spaces: each model's default space is declared once in ``hparams.yaml``
(``search_spaces: {model: {setting: {type: ..., ...}}}``); a study may narrow it
(within its bounds), never widen it, and only over the knobs declared searchable
(``search`` in :mod:`gtzan_core.knobs`)."""

from __future__ import annotations

import math

from .. import knobs
from ..errors import ConfigError
from ..hparams import load_hparams

TYPES = ("loguniform", "uniform", "int", "categorical")


def searchable() -> tuple[str, ...]:
    """The settings a space may search: the knobs declared with a ``search`` distribution."""
    return tuple(k.name for k in knobs.KNOBS.values() if k.search)


def architecture() -> tuple[str, ...]:
    """The architecture's knobs: searched only for a model whose builder takes them
    (``ModelSpec.config_options``: the Transformer's depth, width and dropout)."""
    return tuple(k.name for k in knobs.group_knobs("architecture"))


def default_space(model: str, hparams: dict | None = None) -> dict:
    """``model``'s default search space from ``hparams.yaml``, checked."""
    from ..models import get_spec

    spec = get_spec(model)
    hp = load_hparams() if hparams is None else hparams
    spaces = hp.get("search_spaces") or {}
    if model not in spaces:
        raise ConfigError(f"hparams.yaml declares no search space for {model!r} (search_spaces: {model}: ...)")
    space = check_space(spaces[model], model)
    foreign = [name for name in space if name in architecture() and name not in spec.config_options]
    if foreign:
        raise ConfigError(f"{model}: its search space names {', '.join(foreign)}, which {spec.title} does not take "
                          f"(only {', '.join(spec.config_options) or 'none of them'})")
    return space


def check_space(space, where: str = "search space") -> dict:
    """``space`` as plain data, each entry checked: a known type over a searchable setting
    with sane bounds; a :class:`ConfigError` names the first problem."""
    if not isinstance(space, dict) or not space:
        raise ConfigError(f"{where}: a search space is a mapping of settings to ranges")
    out = {}
    for name, entry in space.items():
        if name not in searchable():
            raise ConfigError(f"{where}: {name!r} is not a searchable setting ({', '.join(searchable())})")
        if not isinstance(entry, dict) or entry.get("type") not in TYPES:
            raise ConfigError(f"{where}: {name} needs a type, one of {', '.join(TYPES)}")
        typ = entry["type"]
        if typ == "categorical":
            choices = entry.get("choices")
            if not isinstance(choices, list) or not choices or not all(_number(c) for c in choices):
                raise ConfigError(f"{where}: {name} needs a list of numeric choices")
            _within_bounds(name, choices, where)
            out[name] = {"type": typ, "choices": list(choices)}
            continue
        low, high = entry.get("low"), entry.get("high")
        if not (_number(low) and _number(high)) or not low <= high:
            raise ConfigError(f"{where}: {name} needs numbers low <= high (got {low!r}, {high!r})")
        if typ == "loguniform" and low <= 0:
            raise ConfigError(f"{where}: {name} is log-uniform, so its low bound must be positive (got {low})")
        if typ == "int" and not (float(low).is_integer() and float(high).is_integer()):
            raise ConfigError(f"{where}: {name} is an integer range; its bounds must be whole numbers")
        out[name] = {"type": typ, "low": int(low) if typ == "int" else float(low),
                     "high": int(high) if typ == "int" else float(high)}
        _within_bounds(name, [out[name]["low"], out[name]["high"]], where)
    return out


def _within_bounds(name: str, values: list, where: str) -> None:
    """Every value a space can draw for ``name`` lies within the setting's declared bounds
    (:data:`gtzan_core.knobs.KNOBS`): a space never reaches a value a run would refuse."""
    bound = knobs.KNOBS[name].bound
    for value in values if bound else []:
        if (problem := bound.problem(name, value)):
            raise ConfigError(f"{where}: {name}'s range: {problem}")


def _number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def narrow(default: dict, edited: dict) -> dict:
    """``edited`` (a study's space: a subset of ``default``'s settings, each within its
    bounds or a subset of its choices), checked against ``default``; a
    :class:`ConfigError` says what goes beyond it."""
    edited = check_space(edited, "the edited search space")
    for name, entry in edited.items():
        base = default.get(name)
        if base is None:
            raise ConfigError(f"{name} is not in this model's search space ({', '.join(default)})")
        if entry["type"] != base["type"]:
            raise ConfigError(f"{name} is searched as {base['type']}, not {entry['type']}")
        if entry["type"] == "categorical":
            extra = [c for c in entry["choices"] if c not in base["choices"]]
            if extra:
                raise ConfigError(f"{name}: {extra} not among the allowed choices {base['choices']}")
        elif entry["low"] < base["low"] or entry["high"] > base["high"]:
            raise ConfigError(f"{name}: [{entry['low']:g}, {entry['high']:g}] goes beyond its bounds "
                              f"[{base['low']:g}, {base['high']:g}]")
    return edited


def distributions(space: dict) -> dict:
    """Optuna's distributions for a checked ``space``."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out = {}
    for name, e in space.items():
        if e["type"] == "categorical":
            out[name] = CategoricalDistribution(e["choices"])
        elif e["type"] == "int":
            out[name] = IntDistribution(e["low"], e["high"])
        else:
            out[name] = FloatDistribution(e["low"], e["high"], log=e["type"] == "loguniform")
    return out


def space_text(space: dict) -> list[str]:
    """One line per setting: "lr: log-uniform 1e-05 .. 0.01"."""
    lines = []
    for name, e in space.items():
        if e["type"] == "categorical":
            lines.append(f"{name}: one of {', '.join(map(str, e['choices']))}")
        else:
            label = {"loguniform": "log-uniform", "uniform": "uniform", "int": "integer"}[e["type"]]
            lines.append(f"{name}: {label} {e['low']:g} .. {e['high']:g}")
    return lines


def clip_epochs(space: dict, limit: int | None, recipe_epochs: int) -> tuple[dict, str | None]:
    """``space`` within an instance's ``limit`` of epochs per job (None: no limit), and a
    note of what was clipped (None: nothing). A range whose top is over the limit is cut
    to it; a space without epochs whose recipe trains longer gets epochs fixed at the
    limit; a range that starts over the limit, or choices all over it, is refused naming
    the bound (a study that could never queue a trial would wait for ever)."""
    if limit is None:
        return space, None
    space = {k: dict(v) for k, v in space.items()}
    e = space.get("epochs")
    if e is None:
        if recipe_epochs <= limit:
            return space, None
        space["epochs"] = {"type": "int", "low": limit, "high": limit}
        return space, f"epochs fixed at this instance's limit of {limit} per job (the recipe trains up to " \
                      f"{recipe_epochs})"
    if e["type"] == "categorical":
        kept = [c for c in e["choices"] if c <= limit]
        if not kept:
            raise ConfigError(f"the search space's epochs choices {e['choices']} are all over this instance's limit "
                              f"of {limit} epochs per job: choose at most {limit}")
        if len(kept) == len(e["choices"]):
            return space, None
        space["epochs"] = {"type": "categorical", "choices": kept}
        return space, f"epochs choices over this instance's limit of {limit} per job dropped"
    if e["low"] > limit:
        raise ConfigError(f"the search space's epochs start at {e['low']:g}, over this instance's limit of {limit} "
                          f"epochs per job: lower its low bound to at most {limit}")
    if e["high"] <= limit:
        return space, None
    space["epochs"] = {**e, "high": limit if e["type"] == "int" else float(limit)}
    return space, f"epochs {e['low']:g}..{e['high']:g} clipped to {e['low']:g}..{limit} (this instance's limit per job)"
