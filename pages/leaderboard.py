import streamlit as st

from gtzan_core.webapp import (can_modify_run, check_modify_run, current_user, ensure_app_navigation, finished_runs,
                               identity_sidebar, run_label, show_error, store)


def share_section() -> None:
    """Export a run (zip, or ONNX) and import one: works with no runs of one's own too."""
    with st.expander("Share a run: export or import"):
        from gtzan_core.share import export_archive, import_archive, onnx_available, onnx_bundle

        st.caption("An export is one zip: the run's record, checkpoint, feature parameters and a model card "
                   "(MODEL_CARD.md with its confusion matrix). Import it on another machine, here or with "
                   "`python -m gtzan_core import FILE.zip`; archives are checked before anything is written.")
        exportable = {r["run_id"]: r for r in finished_runs() if store().checkpoint_path(r["run_id"]).is_file()}
        left, right = st.columns(2)
        with left:
            rid = st.selectbox("Run to export", list(exportable), index=None, placeholder="choose a finished run",
                               format_func=lambda r: run_label(exportable[r]), key="export-run")
            formats = ["zip (import elsewhere)"] + (["ONNX (use outside the studio)"] if onnx_available() else [])
            fmt = st.radio("Format", formats, key="export-format", horizontal=True)
            if not onnx_available():
                st.caption("ONNX export needs the optional packages: `pip install onnx onnxruntime`.")
            if st.button("Prepare export", key="export", disabled=rid is None):
                try:
                    with st.spinner("Packing the run…"):
                        if fmt.startswith("zip"):
                            st.session_state["export-blob"] = (f"{rid}.zip", export_archive(store(), rid),
                                                               "application/zip")
                        else:
                            st.session_state["export-blob"] = (f"{rid}-onnx.zip", onnx_bundle(store(), rid),
                                                               "application/zip")
                except Exception as exc:
                    show_error(exc)
            blob = st.session_state.get("export-blob")
            if blob and blob[0].startswith(rid or "\0"):
                st.download_button(f"Download {blob[0]} ({len(blob[1]) / 1e6:.1f} MB)", blob[1], file_name=blob[0],
                                   mime=blob[2], key="export-download")
        with right:
            upload = st.file_uploader("Run archive to import", type=["zip"], key="import-zip",
                                      max_upload_size=1600)  # a VGG19 run is ~420 MB; audio stays at 50 MB
            if st.button("Import", key="import", disabled=upload is None):
                try:
                    result = import_archive(upload.getvalue(), store(), name=upload.name)
                    title = result.record.get("title", result.record.get("model"))
                    done = f"Imported {result.run_id} ({title}) from {upload.name}"
                    st.session_state["leaderboard-flash"] = [("success", done)] + [("warning", w)
                                                                                   for w in result.warnings]
                    st.rerun()
                except Exception as exc:
                    show_error(exc)

ensure_app_navigation()  # a bookmarked page URL as a fresh server's first request: run it inside app.py
identity_sidebar()
st.title("🏆 Leaderboard")
if flash := st.session_state.pop("leaderboard-flash", None):
    for kind, text in flash:
        getattr(st, kind)(text)
include_paper = st.toggle("Show the paper's reported results (leaky protocol) as reference rows", value=True)
board = store().leaderboard(include_paper=include_paper)
owners = sorted({o for o in board.owner.dropna() if o})
if owners:
    me = current_user()
    options = ["everyone"] + (["mine"] if me else []) + [o for o in owners if o != me]
    who = st.selectbox("Owner", options, key="board-owner",
                       format_func=lambda o: {"everyone": "everyone's runs", "mine": f"mine ({me})"}.get(o, o))
    if who != "everyone":
        keep = board.owner == (me if who == "mine" else who)
        board = board[keep | (board.status == "reference")].reset_index(drop=True)
if not (board.status != "reference").any():
    st.info("No runs of your own yet. Train a model on the **Train** page"
            + (" — meanwhile, here are the paper's numbers." if include_paper else "."))
    st.page_link("pages/train.py", label="Go to Train", icon="🏋️")
    if board.empty:
        share_section()
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
                   "track_macro_f1": "track F1", "train_s": "train s", "split_warning": "split"},
)
selected = [board.iloc[i]["run_id"] for i in event.selection.rows]
real = [rid for rid in selected if not rid.startswith("paper:")]
c1, c2 = st.columns([1, 3])
if c1.button("Compare selected", type="primary", disabled=len(real) < 2):
    st.session_state["compare_ids"] = real
    st.switch_page("pages/compare.py")
c2.caption(f"{len(real)} run(s) selected" + (" — select at least two runs" if len(real) < 2 else ""))

with st.expander("Delete runs"):
    deletable = [row.run_id for row in board.itertuples() if row.status != "reference"
                 and can_modify_run({"run_id": row.run_id, "owner": row.owner})]
    victim = st.selectbox("Run", deletable, index=None, placeholder="choose a run", key="delete-run")
    confirm = st.checkbox("Yes, delete its checkpoint and record", key="delete-confirm")
    if st.button("Delete", disabled=not (victim and confirm), key="delete"):
        try:
            check_modify_run(store().read(victim), "delete")
            store().delete(victim)
            st.success(f"Deleted {victim}")
            st.rerun()
        except Exception as exc:
            show_error(exc)

share_section()
