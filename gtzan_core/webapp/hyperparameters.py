"""The Train form's hyperparameters: one expander per chosen model (never one per model
the studio knows: nine of them whatever was picked), its values the recipe's defaults
from ``hparams.yaml`` (:func:`gtzan_core.hparams.model_defaults`). The fields are made
from the knobs' declarations (:data:`gtzan_core.knobs.KNOBS`): each knob the model takes
(``Knob.takes``), one row of at most four fields per knob group, its label, bounds, format
and widget key (``{key}-{model}-{recipe}``) declared there."""

from __future__ import annotations

import streamlit as st

from ..hparams import model_defaults
from ..knobs import GROUPS, KNOBS, Knob, can_learn, group_knobs
from ..models import MODELS
from .kinds import standardize_label

ROW = 4  # fields per row
#: the knobs whose field is labelled in the words of the model's input kind (webapp/kinds.py)
KIND_WORDED = {"standardize": lambda spec: standardize_label(spec.kind) or "standardise the input"}


def bounded(name: str) -> dict:
    """A number field's ``min_value`` and ``max_value``: knob ``name``'s declared bounds
    (:data:`gtzan_core.knobs.KNOBS`, the ones every entry point checks), typed as the field is."""
    b = KNOBS[name].bound
    assert b is not None, name
    cast = int if b.integer else float
    return {"min_value": cast(b.low), "max_value": cast(b.high)}


def hyperparameter_inputs(models: list[str], recipe: str, teachers: dict[str, str] | None = None) -> dict[str, dict]:
    """Draw the hyperparameters of the chosen ``models`` under ``recipe`` (inside the
    Train form) and return each model's overrides for its :func:`~gtzan_core.hparams.make_config`.
    ``teachers``: the runs that can teach on this dataset (run id -> label,
    :func:`gtzan_core.distillation.teacher_choices`), offered to the models that can learn from
    one. With no model chosen, one line says where they will appear."""
    if not models:
        st.caption("Choose one or more models above: their hyperparameters appear here.")
        return {}
    overrides: dict[str, dict] = {}
    for name in models:
        spec = MODELS[name]
        d = model_defaults(name, recipe)
        k = f"{name}-{recipe}"  # new defaults when the recipe changes
        with st.expander(f"{spec.title} hyperparameters ({recipe} recipe)"):
            overrides[name] = {}
            for group in GROUPS:
                shown = [knob for knob in group_knobs(group) if knob.form and knob.takes(spec)]
                for start in range(0, len(shown), ROW):
                    row = shown[start:start + ROW]
                    columns = st.columns(len(row)) if len(row) > 1 else [st.container()]
                    for knob, column in zip(row, columns, strict=True):
                        overrides[name][knob.name] = _field(column, knob, spec, d.get(knob.name, knob.default),
                                                            f"{knob.widget_key}-{k}")
            if teachers is not None and can_learn(spec):  # the teacher's choices are runs: drawn apart
                overrides[name].update(teacher_knobs(teachers, d, k))
    return overrides


def _field(where, knob: Knob, spec, value, key: str):
    """One knob's field, showing ``value`` (the recipe's); returns what the visitor left there."""
    label = KIND_WORDED[knob.name](spec) if knob.name in KIND_WORDED else knob.form_label(spec)
    if knob.type is bool:
        return where.toggle(label, value=bool(value), key=key)
    if knob.options is not None or knob.choices:
        titles = dict(knob.options(spec)) if knob.options is not None else {c: c for c in knob.choices}
        options = list(titles)
        index = options.index(value) if value in options else 0
        return where.selectbox(label, options, index=index, key=key, format_func=titles.get)
    cast = int if knob.type is int else float
    extra = {"format": knob.format} if knob.format else {}
    if knob.step is not None:
        extra["step"] = cast(knob.step)
    return where.number_input(label, value=None if value is None else cast(value), **bounded(knob.name), **extra,
                              key=key)


def teacher_knobs(teachers: dict[str, str], d: dict, k: str) -> dict:
    """Knowledge distillation: a teacher run (none by default), its soft targets' temperature and weight."""
    c1, c2, c3 = st.columns([2, 1, 1])
    teacher = c1.selectbox("teacher (knowledge distillation)", [None, *teachers], key=f"te-{k}",
                           format_func=lambda r: "none" if r is None else teachers[r],
                           help="A finished run on this dataset whose predictions on the training split (never "
                                "validation or test) become soft targets beside the labels.")
    return dict(
        teacher=teacher,
        kd_temperature=c2.number_input("temperature T", value=float(d.get("kd_temperature", 4.0)),
                                       **bounded("kd_temperature"), key=f"kt-{k}", disabled=not teachers),
        kd_alpha=c3.number_input("teacher weight alpha", value=float(d.get("kd_alpha", 0.5)), **bounded("kd_alpha"),
                                 key=f"ka-{k}", disabled=not teachers),
    )
