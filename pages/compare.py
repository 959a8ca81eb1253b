import pandas as pd
import streamlit as st

from gtzan_core import GENRES
from gtzan_core import paper_results
from gtzan_core.evaluation import report_frame
from gtzan_core.hparams import recipe_label
from gtzan_core.plots import confusion_figure
from gtzan_core.webapp import (ensure_app_navigation, finished_runs, identity_sidebar, run_label,
                               split_warning_text)



def _delta_colour(v: float) -> str:
    """Green where the run beats the first one by more than 0.02 F1, red where it trails."""
    if v != v or abs(v) <= 0.02:  # NaN or a tie
        return ""
    return "background-color: rgba(46,125,50,0.45)" if v > 0 else "background-color: rgba(198,40,40,0.45)"


ensure_app_navigation()  # a bookmarked page URL as a fresh server's first request: run it inside app.py
identity_sidebar()
st.title("⚖️ Compare runs")
runs = {r["run_id"]: r for r in finished_runs()}
if len(runs) < 1:
    st.info("No finished runs yet. Train a model on the **Train** page, then come back to compare.")
    st.page_link("pages/train.py", label="Go to Train", icon="🏋️")
    st.stop()

preselected = [rid for rid in st.session_state.get("compare_ids", []) if rid in runs]
default = preselected or list(runs)[:2]
chosen = st.multiselect("Runs", list(runs), default=default, format_func=lambda rid: run_label(runs[rid]))
level = st.radio("Level", ["track", "segment"], horizontal=True,
                 help="track: the segment probabilities of each track averaged; segment: every 3 s segment")
if len(chosen) < 2:
    st.info("Choose at least two runs to compare them side by side." if len(runs) > 1
            else "Only one finished run so far; it is shown alone. Train another to compare.")
if not chosen:
    st.stop()

summary = []
for rid in chosen:
    r = runs[rid]
    m = r["evaluation"].get(level) or r["evaluation"]["segment"]
    summary.append({"run": rid, "model": r.get("title"), "protocol": r.get("protocol_label") or r["protocol"],
                    "recipe": recipe_label(r),
                    "dataset": (r.get("dataset") or {}).get("label"), "accuracy": m["accuracy"],
                    "macro F1": m["macro_f1"], "weighted F1": m["weighted_f1"], "n": m["n"],
                    "split": "⚠️ weak" if r.get("split_warnings") else "ok"})
st.dataframe(pd.DataFrame(summary).style.highlight_max(subset=["accuracy", "macro F1"], color="#2e7d32")
             .format(precision=3), hide_index=True)

cols = st.columns(min(len(chosen), 3))
for k, rid in enumerate(chosen):
    r = runs[rid]
    m = r["evaluation"].get(level) or r["evaluation"]["segment"]
    with cols[k % len(cols)]:
        st.markdown(f"**{r.get('title')}** · `{rid}`")
        if weak := split_warning_text(r):
            st.warning(weak, icon="⚠️")
        st.plotly_chart(confusion_figure(m, f"{level}-level confusion"), key=f"cm-{rid}-{level}",
                        width="stretch")
        st.dataframe(report_frame(m).style.format(precision=3), key=f"rep-{rid}-{level}")

st.subheader("Per-class F1, difference to the first run")
f1 = pd.DataFrame({runs[rid].get("title") + " · " + rid[-6:]:
                   report_frame(runs[rid]["evaluation"].get(level) or runs[rid]["evaluation"]["segment"])["f1"]
                   .reindex(list(GENRES)) for rid in chosen})
if f1.shape[1] > 1:
    delta = f1.sub(f1.iloc[:, 0], axis=0).iloc[:, 1:].add_prefix("Δ ")
    table = pd.concat([f1, delta], axis=1)
    st.dataframe(table.style.format(precision=3).map(_delta_colour, subset=list(delta.columns)))
else:
    st.dataframe(f1.style.format(precision=3))

with st.expander("The paper's reported results for these models (its own protocol)"):
    models = list(dict.fromkeys(runs[rid]["model"] for rid in chosen))
    rows = [{"model": m, "protocol": paper_results.paper_protocol_label(m), **paper_results.summary(m)}
            for m in models if m in paper_results.paper_results()]
    st.caption("GTZAN. The MFCC models' figures come from a leaky segment split; every figure was early-stopped "
               "on its test set. Not comparable with honest track-split numbers. The Reproduction page sets them "
               "beside runs of the same protocol.")
    st.dataframe(pd.DataFrame(rows), hide_index=True)
