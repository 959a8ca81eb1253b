import streamlit as st

from gtzan_core.webapp import show_error, store

st.title("🏆 Leaderboard")
include_paper = st.toggle("Show the paper's reported results (leaky protocol) as reference rows", value=True)
board = store().leaderboard(include_paper=include_paper)
if not (board.status != "reference").any():
    st.info("No runs of your own yet. Train a model on the **Train** page"
            + (" — meanwhile, here are the paper's numbers." if include_paper else "."))
    st.page_link("pages/train.py", label="Go to Train", icon="🏋️")
    if board.empty:
        st.stop()

st.caption("Click rows to select them, then compare. Sorted by track-level test accuracy (segment level where "
           "there is none). Paper rows use its leaky segment split and are not comparable with track splits.")
event = st.dataframe(
    board, key="board", on_select="rerun", selection_mode="multi-row", hide_index=True,
    column_config={
        "segment_acc": st.column_config.NumberColumn("seg acc", format="%.3f"),
        "track_acc": st.column_config.NumberColumn("track acc", format="%.3f"),
        "macro_f1": st.column_config.NumberColumn("macro F1", format="%.3f"),
        "track_macro_f1": st.column_config.NumberColumn("track F1", format="%.3f"),
        "train_s": st.column_config.NumberColumn("train s", format="%.0f"),
        "params": st.column_config.NumberColumn("params", format="%d"),
    },
)
selected = [board.iloc[i]["run_id"] for i in event.selection.rows]
real = [rid for rid in selected if not rid.startswith("paper:")]
c1, c2 = st.columns([1, 3])
if c1.button("Compare selected", type="primary", disabled=len(real) < 2):
    st.session_state["compare_ids"] = real
    st.switch_page("pages/compare.py")
c2.caption(f"{len(real)} run(s) selected" + (" — select at least two runs" if len(real) < 2 else ""))

with st.expander("Delete runs"):
    deletable = [rid for rid in board.run_id if not rid.startswith("paper:")]
    victim = st.selectbox("Run", deletable, index=None, placeholder="choose a run")
    confirm = st.checkbox("Yes, delete its checkpoint and record")
    if st.button("Delete", disabled=not (victim and confirm)):
        try:
            store().delete(victim)
            st.success(f"Deleted {victim}")
            st.rerun()
        except Exception as exc:
            show_error(exc)
