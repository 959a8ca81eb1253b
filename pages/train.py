import time

import streamlit as st

from gtzan_core.hparams import make_config, model_defaults
from gtzan_core.jobs import job_progress
from gtzan_core.models import MODELS
from gtzan_core.models.pretrained import imagenet_weights_available
from gtzan_core.plots import loss_figure
from gtzan_core.splits import PROTOCOLS
from gtzan_core.webapp import data_path, dataset_summary, job_manager, show_error, store

st.title("🏋️ Train")
summary = None
try:
    summary = dataset_summary(data_path())
    st.caption(f"Dataset: **{summary['dataset']}** · {summary['tracks']} tracks")
except Exception as exc:
    show_error(exc)

with st.form("train"):
    models = st.multiselect("Models", list(MODELS), default=["cnn"], format_func=lambda m: MODELS[m].title)
    protocol = st.radio("Protocol", list(PROTOCOLS), format_func=lambda p: f"{p}: {PROTOCOLS[p]}")
    device = st.selectbox("Device", ["auto", "cpu", "cuda"], help="auto = GPU when there is one")
    image_source = st.radio(
        "Spectrograms for VGG19 / ResNeXt / SqueezeNet", ["auto", "render"], horizontal=True,
        format_func=lambda s: {"auto": "the dataset's PNGs when it has them (as the paper)",
                               "render": "always rendered from audio (matches what uploads get)"}[s])
    overrides = {}
    for name in MODELS:
        d = model_defaults(name)
        with st.expander(f"{MODELS[name].title} hyperparameters (from hparams.yaml)"):
            c1, c2, c3, c4 = st.columns(4)
            overrides[name] = dict(
                lr=c1.number_input("learning rate", value=float(d["lr"]), format="%.5f", min_value=1e-7, key=f"lr-{name}"),
                batch_size=c2.number_input("batch size", value=int(d["batch_size"]), min_value=1, key=f"bs-{name}"),
                epochs=c3.number_input("max epochs", value=int(d["epochs"]), min_value=1, key=f"ep-{name}"),
                patience=c4.number_input("patience", value=int(d["patience"]), min_value=1, key=f"pa-{name}"),
            )
            if MODELS[name].input_kind == "image":
                c1, c2 = st.columns(2)
                overrides[name]["pretrained"] = c1.toggle("ImageNet weights", value=bool(d["pretrained"]), key=f"pt-{name}")
                overrides[name]["freeze_backbone"] = c2.toggle("freeze backbone", value=bool(d["freeze_backbone"]),
                                                               key=f"fr-{name}")
    submitted = st.form_submit_button("Start training", type="primary")

missing = [m for m in models if MODELS[m].input_kind == "image" and not imagenet_weights_available(m)]
if missing:
    st.warning(f"ImageNet weights are not on this machine for {', '.join(missing)} (no internet to fetch them): "
               "these runs start from random initialisation and are marked `pretrained: false`.")
if protocol == "paper":
    st.warning("The paper protocol is leaky (segments of one track on both sides, early stopping on the test set); "
               "its accuracies are inflated and labelled as such.")

if submitted:
    if not models:
        st.error("Pick at least one model.")
    else:
        try:
            for name in models:
                cfg = make_config(name, protocol=protocol, device=device, **overrides[name])
                run_id = job_manager().submit(cfg, data_path(), image_source)
                st.toast(f"Queued {MODELS[name].title}: {run_id}")
        except Exception as exc:
            show_error(exc)


def _eta(seconds):
    return "—" if seconds is None else time.strftime("%M:%S", time.gmtime(seconds))


@st.fragment(run_every=1.0)
def jobs_panel():
    manager = job_manager()
    records = store().list()
    recent = [r for r in records if r.get("status") in ("queued", "running")
              or time.time() - r.get("finished", 0) < 3600][:12]
    if not recent:
        st.info("No jobs yet. Pick models above and press **Start training**; jobs keep running when you switch "
                "pages or close the tab.")
        return
    for r in recent:
        rid, status = r["run_id"], r.get("status")
        with st.container(border=True):
            head, btn = st.columns([5, 1])
            badge = {"queued": "🕒", "running": "🏃", "finished": "✅", "cancelled": "⏹️", "failed": "❌"}.get(status, "")
            data = (r.get("dataset") or {}).get("label", "?")
            head.markdown(f"**{r.get('title', r['model'])}** · {r.get('protocol')} · {data} · `{rid}` — {badge} {status}")
            if status in ("queued", "running"):
                if btn.button("Stop", key=f"stop-{rid}"):
                    try:
                        manager.cancel(rid)
                    except Exception as exc:
                        show_error(exc)
            if status == "queued":
                pos = manager.queue_position(rid)
                st.caption(f"Waiting in the queue{f' (position {pos})' if pos else ''}: one job trains at a time.")
            prog = job_progress(r)
            phase = r.get("phase")
            if status == "running" and phase in ("features", "backbone pass") and r.get("progress"):
                p = r["progress"]
                st.progress(p["done"] / max(p["total"], 1), text=f"{p['message']} {p['done']}/{p['total']}")
            elif status in ("running", "finished", "cancelled"):
                st.progress(prog["fraction"], text=f"epoch {prog['epoch']}/{prog['total']} · ETA {_eta(prog['eta'])}")
            if r.get("history"):
                st.plotly_chart(loss_figure(r["history"]), key=f"chart-{rid}", width="stretch")
            if status == "failed":
                st.error(r.get("error", "failed"))
            ev = r.get("evaluation")
            if ev:
                c1, c2, c3 = st.columns(3)
                c1.metric("test accuracy (segment)", f"{ev['segment']['accuracy']:.3f}")
                if "track" in ev:
                    c2.metric("test accuracy (track)", f"{ev['track']['accuracy']:.3f}")
                c3.metric("macro F1", f"{ev['segment']['macro_f1']:.3f}")
            if r.get("pretrained") is False and r.get("input_kind") == "image":
                st.caption(f"⚠️ {r.get('weights_note', 'random initialisation')}")


st.subheader("Jobs")
jobs_panel()
