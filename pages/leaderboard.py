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
           "there is none). Paper rows were early-stopped on their test set (the MFCC ones on a leaky segment split): "
           "compare them with runs of the paper protocol, or use the Reproduction page.")
# Empty cells stay blank (not "None"): paper rows have no epochs, a running run no accuracy yet.
numbers = {"segment_acc": "{:.3f}", "track_acc": "{:.3f}", "macro_f1": "{:.3f}", "track_macro_f1": "{:.3f}",
           "train_s": "{:.0f}", "params": "{:,.0f}", "epochs": "{:.0f}"}
styled = board.style.format(numbers, na_rep="").format(lambda v: "" if v is None else v, na_rep="",
                                                       subset=[c for c in board.columns if c not in numbers])
event = st.dataframe(
    styled, key="board", on_select="rerun", selection_mode="multi-row", hide_index=True,
    column_config={"segment_acc": "seg acc", "track_acc": "track acc", "macro_f1": "macro F1",
                   "track_macro_f1": "track F1", "train_s": "train s"},
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
