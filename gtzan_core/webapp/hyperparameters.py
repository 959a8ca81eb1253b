"""The Train form's hyperparameters: one expander per chosen model (never one per model
the studio knows: nine of them whatever was picked), its values the recipe's defaults
from ``hparams.yaml`` (:func:`gtzan_core.hparams.model_defaults`)."""

from __future__ import annotations

import streamlit as st

from ..hparams import model_defaults
from ..models import MODELS


def hyperparameter_inputs(models: list[str], recipe: str) -> dict[str, dict]:
    """Draw the hyperparameters of the chosen ``models`` under ``recipe`` (inside the
    Train form) and return each model's overrides for its :func:`~gtzan_core.hparams.make_config`.
    With no model chosen, one line says where they will appear."""
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
                lr=c1.number_input("learning rate", value=float(d["lr"]), format="%.5f", min_value=1e-7, key=f"lr-{k}"),
                batch_size=c2.number_input("batch size", value=int(d["batch_size"]), min_value=1, key=f"bs-{k}"),
                epochs=c3.number_input("max epochs", value=int(d["epochs"]), min_value=1, key=f"ep-{k}"),
                patience=c4.number_input("patience", value=int(d["patience"]), min_value=1, key=f"pa-{k}"),
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
    return overrides
