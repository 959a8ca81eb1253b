"""The Train form's hyperparameters: one expander per chosen model (never one per model
the studio knows: nine of them whatever was picked), its values the recipe's defaults
from ``hparams.yaml`` (:func:`gtzan_core.hparams.model_defaults`)."""

from __future__ import annotations

import streamlit as st

from ..bounds import BOUNDS
from ..distillation import can_learn
from ..hparams import model_defaults
from ..models import MODELS


def bounded(name: str) -> dict:
    """A number field's ``min_value`` and ``max_value``: setting ``name``'s declared bounds
    (:data:`gtzan_core.bounds.BOUNDS`, the ones every entry point checks), typed as the field is."""
    b = BOUNDS[name]
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
            c1, c2, c3, c4 = st.columns(4)
            overrides[name] = dict(
                lr=c1.number_input("learning rate", value=float(d["lr"]), format="%.5f", **bounded("lr"),
                                   key=f"lr-{k}"),
                batch_size=c2.number_input("batch size", value=int(d["batch_size"]), **bounded("batch_size"),
                                           key=f"bs-{k}"),
                epochs=c3.number_input("max epochs", value=int(d["epochs"]), **bounded("epochs"), key=f"ep-{k}"),
                patience=c4.number_input("patience", value=int(d["patience"]), **bounded("patience"),
                                         key=f"pa-{k}"),
            )
            if spec.kind.standardize_label:
                overrides[name]["standardize"] = st.toggle(spec.kind.standardize_label,
                                                           value=bool(d["standardize"]), key=f"st-{k}")
            elif spec.frozen_backbone:
                c1, c2 = st.columns(2)
                overrides[name]["pretrained"] = c1.toggle("pretrained weights", value=bool(d["pretrained"]),
                                                          key=f"pt-{k}")
                overrides[name]["freeze_backbone"] = c2.toggle("freeze backbone", value=bool(d["freeze_backbone"]),
                                                               key=f"fr-{k}")
                if spec.variants:
                    titles = dict(spec.variants)
                    overrides[name]["variant"] = st.selectbox("backbone", list(titles), key=f"va-{k}",
                                                              format_func=titles.get)
            if "mixup" in d:  # the Transformer's recipe knobs (hparams.yaml), each one a recorded change
                overrides[name].update(transformer_knobs(d, k))
            if teachers is not None and can_learn(spec):
                overrides[name].update(teacher_knobs(teachers, d, k))
    return overrides


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


def transformer_knobs(d: dict, k: str) -> dict:
    """The Transformer recipe's knobs and architecture, as the recipe sets them."""
    c1, c2, c3, c4 = st.columns(4)
    knobs = dict(
        weight_decay=c1.number_input("weight decay (AdamW)", value=float(d["weight_decay"]), **bounded("weight_decay"),
                                     format="%.4f", key=f"wd-{k}"),
        warmup_epochs=c2.number_input("warm-up epochs", value=int(d["warmup_epochs"]), **bounded("warmup_epochs"),
                                      key=f"wu-{k}"),
        schedule=c3.selectbox("after warm-up", ["cosine", "constant"], index=0 if d["schedule"] == "cosine" else 1,
                              key=f"sc-{k}"),
        mixup=c4.number_input("mixup alpha (0: off)", value=float(d["mixup"]), **bounded("mixup"), key=f"mx-{k}"),
    )
    c1, c2, c3, c4, c5 = st.columns(5)
    knobs.update(
        time_mask=c1.number_input("time mask (frames, 0: off)", value=int(d["time_mask"]), **bounded("time_mask"),
                                  key=f"tm-{k}"),
        freq_mask=c2.number_input("frequency mask (bands)", value=int(d["freq_mask"]), **bounded("freq_mask"),
                                  key=f"fm-{k}"),
        depth=c3.number_input("depth (blocks)", value=int(d["depth"]), **bounded("depth"), key=f"de-{k}"),
        width=c4.number_input("width (x4 heads)", value=int(d["width"]), **bounded("width"), step=4, key=f"wi-{k}"),
        dropout=c5.number_input("dropout", value=float(d["dropout"]), **bounded("dropout"), key=f"do-{k}"),
    )
    return knobs

