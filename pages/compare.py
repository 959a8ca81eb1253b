import streamlit as st

from gtzan_core.webapp import ensure_app_navigation

ensure_app_navigation()  # a bookmarked page URL as a fresh server's first request: run it inside app.py

import pandas as pd  # noqa: E402

from gtzan_core import GENRES  # noqa: E402
from gtzan_core.evaluation import report_frame  # noqa: E402
from gtzan_core.plots import confusion_figure, figure_text  # noqa: E402
from gtzan_core.runs import RunRecord  # noqa: E402
from gtzan_core.tables import compare_frame, external_frame, paper_frame, report_table, strings  # noqa: E402
from gtzan_core.webapp import (  # noqa: E402
    current_user,
    finished_runs,
    identity_sidebar,
    md_code,
    md_frame,
    md_text,
    run_label,
    split_warning_text,
    stopped_by_hand,
    store,
    training_text,
)
from gtzan_core.webapp.listening import disagreement_table, listen_panel, map_panel  # noqa: E402


def _delta_colour(v: float) -> str:
    """Green where the run beats the first one by more than 0.02 F1, red where it trails."""
    if v != v or abs(v) <= 0.02:  # NaN or a tie
        return ""
    return "background-color: rgba(46,125,50,0.45)" if v > 0 else "background-color: rgba(198,40,40,0.45)"


identity_sidebar()
runs = {r.run_id: r for r in finished_runs()}
if len(runs) < 1:
    st.info("No finished runs yet. Train a model on the **Train** page, then come back to compare.")
    st.page_link("pages/train.py", label="Go to Train", icon="🏋️")
    st.stop()

from gtzan_core.webapp.search import best_trial_links  # noqa: E402

best_trial_links(store(), current_user(), "compare")  # a search's best trial, one click away
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

st.table(md_frame(compare_frame([runs[rid] for rid in chosen], level)), hide_index=True, border="horizontal")
st.caption("Test-set scores, 3 decimals: accuracy, macro F1 (every genre counts the same) and weighted F1 (by "
           "support); test items are tracks at track level, 3 s segments at segment level.")
external = external_frame([runs[rid] for rid in chosen], level)
if not external.empty:
    st.subheader("Evaluated on other folders")
    st.table(md_frame(external), hide_index=True, border="horizontal")
    st.caption("Each audio file of the folder is one clip, predicted as Predict does (the run's windows, averaged); "
               "files that could not be read, labels outside GTZAN's ten and tracks the run trained or was chosen "
               "on are left out (counted). Beside it, the run's own test accuracy on its split. Made with `python -m "
               "gtzan_core evaluate RUN --data FOLDER`.")
for rid in chosen:
    if stopped_by_hand(runs[rid]):
        st.warning(f"**{md_text(runs[rid].title)}** ({md_code(rid)}) was "
                   f"{md_text(training_text(runs[rid]))}: its numbers are those of its best epoch before the stop, not "
                   "of a model trained to its end.", icon="⏹️")

cols = st.columns(min(len(chosen), 3))
for k, rid in enumerate(chosen):
    r = runs[rid]
    m = RunRecord.of(r).evaluation.at(level)
    with cols[k % len(cols)]:
        st.markdown(f"**{md_text(r.title)}** · {md_code(rid)}")
        st.caption(md_text(training_text(r)))
        if weak := split_warning_text(r):
            st.warning(md_text(weak), icon="⚠️")
        event = st.plotly_chart(confusion_figure(m, f"{level}-level confusion", clickable=True),
                                key=f"cm-{rid}-{level}", width="stretch", on_select="rerun", selection_mode="points")
        st.table(md_frame(report_table(m)), border="horizontal")  # every row drawn: the averages too, no scroll
        listen_panel(r, level, f"{rid}-{level}", event=event)
        with st.expander("🗺️ Map of how it hears its dataset"):
            map_panel(r, rid)
        for ev in RunRecord.of(r).external_evaluations:
            if ev.scores is None:
                continue
            st.markdown(f"**Evaluated on {md_text(ev.name)}** · {ev.n_scored} clips, accuracy "
                        f"{ev.scores.accuracy:.3f}" + (" (a handful: no accuracy claim)" if ev.n_scored < 30 else ""))
            event = st.plotly_chart(confusion_figure(ev.scores, figure_text(f"clip-level confusion on {ev.name}"),
                                                     clickable=True),
                                    key=f"cm-ext-{rid}-{ev.folder}", width="stretch", on_select="rerun",
                                    selection_mode="points")
            st.table(md_frame(report_table(ev.scores)), border="horizontal")
            listen_panel(r, "track", f"{rid}-ext-{ev.folder}", folder=ev.folder, event=event)

if len(chosen) > 1:
    first = runs[chosen[0]]
    for rid in chosen[1:]:
        table = disagreement_table(first, runs[rid])
        if table is None:
            continue
        st.subheader(f"Where {md_text(run_label(first))} and {md_text(run_label(runs[rid]))} disagree", anchor=False)
        if table.empty:
            st.caption("No test track that one gets right and the other wrong (or they tested other tracks).")
        else:
            shown = table.assign(right=table["right"].map({"a": "first", "b": "second"}))
            st.dataframe(shown.rename(columns={"a": "first predicts", "b": "second predicts",
                                               "right": "right: the"}), hide_index=True, width="stretch",
                         key=f"disagree-{rid}")
            st.caption("Test tracks both runs predicted (track level) where exactly one of them is right.")

st.subheader("Per-class F1, difference to the first run")
f1 = pd.DataFrame({md_text(f"{runs[rid].title} · {rid[-6:]}"):  # st.table: Markdown
                   report_frame(RunRecord.of(runs[rid]).evaluation.at(level))["f1"]
                   .reindex(list(GENRES)) for rid in chosen})
if f1.shape[1] > 1:
    delta = f1.sub(f1.iloc[:, 0], axis=0).iloc[:, 1:].add_prefix("Δ ")
    table = pd.concat([f1, delta], axis=1)
    shown = strings(table)
    st.table(shown.style.apply(lambda _: table[delta.columns].map(_delta_colour), axis=None,
                               subset=list(delta.columns)), border="horizontal")
else:
    st.table(strings(f1), border="horizontal")

with st.expander("The paper's reported results for these models (its own protocol)"):
    models = list(dict.fromkeys(runs[rid].model for rid in chosen))
    st.caption("GTZAN. The MFCC models' figures come from a leaky segment split; every figure was early-stopped "
               "on its test set. Not comparable with honest track-split numbers. The Reproduction page sets them "
               "beside runs of the same protocol.")
    paper = paper_frame(models)
    if paper.empty:
        st.caption("The paper has no figures for these models.")
    else:
        st.table(paper, hide_index=True, border="horizontal")
