import streamlit as st

from gtzan_core.webapp import ensure_app_navigation

ensure_app_navigation()  # a bookmarked page URL as a fresh server's first request: run it inside app.py

from gtzan_core.audit import read_audit  # noqa: E402
from gtzan_core.classroom import PermissionDenied, check_import  # noqa: E402
from gtzan_core.classroom.quota import check_storage  # noqa: E402
from gtzan_core.runs import RunRecord  # noqa: E402
from gtzan_core.runs.trash import (  # noqa: E402
    empty_trash,
    list_trash,
    move_to_trash,
    purge_entry,
    purge_expired,
    restore_run,
    trash_days,
    usage_by_owner,
)
from gtzan_core.share.archive import MAX_ARCHIVE, MB  # noqa: E402
from gtzan_core.tables import (  # noqa: E402
    RUN_NUMBER_FORMATS,
    audit_frame,
    damaged_frame,
    ended_trial,
    paper_frame,
    runs_frame,
    storage_frame,
    trash_frame,
    unfinished_frame,
)
from gtzan_core.webapp import (  # noqa: E402
    can_modify_run,
    check_modify_run,
    current_user,
    finished_runs,
    identity_sidebar,
    is_admin,
    job_progress,
    md_frame,
    md_text,
    plain_frame,
    plain_text,
    run_grid,
    run_label,
    run_records,
    settings,
    show_error,
    store,
)


def share_section() -> None:
    """Export a run (zip, or ONNX) and import one: works with no runs of one's own too."""
    with st.expander("Share a run: export or import"):
        from gtzan_core.share import export_archive, import_archive, onnx_available, onnx_bundle

        st.caption("An export is one zip: the run's record, checkpoint, feature parameters and a model card "
                   "(MODEL_CARD.md with its confusion matrix). Import it on another machine, here or with "
                   "`python -m gtzan_core import FILE.zip`; archives are checked before anything is written, and "
                   "an imported run belongs to whoever imports it.")
        exportable = {r.run_id: r for r in finished_runs() if store().checkpoint_path(r.run_id).is_file()}
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
            conf, me, admin = settings(), current_user(), is_admin()
            try:
                check_import(conf, me, admin)
            except PermissionDenied as exc:
                st.caption(f"Import: {md_text(exc)}.")
                return
            # a VGG19 run is ~420 MB; audio stays at 50 MB
            upload = st.file_uploader("Run archive to import", type=["zip"], key="import-zip",
                                      max_upload_size=MAX_ARCHIVE // MB)
            if st.button("Import", key="import", disabled=upload is None):
                try:  # the upload is read in place (a file object), never copied; the importer owns the run
                    result = import_archive(upload, store(), name=upload.name, who=me,
                                            check_quota=lambda size: check_storage(conf, me, store(), admin,
                                                                                   adding=size))
                    title = RunRecord.of(result.record).title
                    done = f"Imported {result.run_id} ({title}) from {upload.name}"
                    st.session_state["leaderboard-flash"] = [("success", md_text(done))] + [
                        ("warning", md_text(w)) for w in result.warnings]
                    st.rerun()
                except Exception as exc:
                    show_error(exc)


def promotion_section(records: list) -> None:
    """The admin promotes a run to the class: it then enters every visitor's default answer
    on Predict (otherwise only its owner's); a claimed import must be measured first."""
    from gtzan_core.claims import promote, promoted, shipped_starter

    with st.expander("Promote runs to the class (admin)"):
        st.caption("On a class instance a visitor's default answer on Predict holds the shipped starters, their own "
                   "runs and the runs promoted here. An imported run must be measured here first "
                   "(python -m gtzan_core evaluate RUN --data FOLDER).")
        ids = [r.run_id for r in records if r.evaluated and not shipped_starter(r)]
        pick = st.selectbox("Run", ids, index=None, placeholder="choose a run", key="promote-run")
        if pick is not None:
            is_on = promoted(next(r for r in records if r.run_id == pick))
            label = "Withdraw from the class" if is_on else "Promote to the class"
            if st.button(label, key="promote"):
                try:
                    promote(store(), pick, current_user() or "admin", on=not is_on)
                    st.session_state["leaderboard-flash"] = [("success", f"{label}: {pick}")]
                    st.rerun()
                except Exception as exc:
                    show_error(exc)


def trash_section(trash: list) -> None:
    """Deleted runs: their owner (and the admin) may restore them; the admin purges."""
    me, admin = current_user(), is_admin()
    entries = [e for e in trash if admin or (me and e.owner == me) or not settings().classroom]
    if not entries:
        return
    with st.expander(f"Trash ({len(entries)})"):
        st.caption(f"Deleted runs stay here for {trash_days():g} days (GTZAN_STUDIO_TRASH_DAYS), then are purged.")
        st.dataframe(plain_frame(trash_frame(entries)), hide_index=True, key="trash-table", placeholder="—")
        pick = st.selectbox("Entry", [e.entry for e in entries], index=None, key="trash-entry",
                            placeholder="choose a deleted run")
        c1, c2, c3 = st.columns(3)
        try:
            if c1.button("Restore", key="restore", disabled=pick is None):
                rid = restore_run(store(), pick, current_user())
                st.session_state["leaderboard-flash"] = [("success", f"Restored {rid}")]
                st.rerun()
            if admin and c2.button("Purge", key="purge", disabled=pick is None):
                rid = purge_entry(store(), pick, current_user())
                st.session_state["leaderboard-flash"] = [("success", f"Purged {rid} for good")]
                st.rerun()
            if admin and c3.button("Empty trash", key="empty-trash"):
                n = empty_trash(store(), current_user())
                st.session_state["leaderboard-flash"] = [("success", f"Purged {n} run(s) for good")]
                st.rerun()
        except Exception as exc:
            show_error(exc)


def damaged_section() -> None:
    """Runs whose record.json cannot be used (unreadable, not JSON, not a valid record):
    named with what is wrong, and deleted to the trash by their owner or the admin."""
    damaged = store().damaged()
    if not damaged:
        return
    with st.expander(f"⚠️ Damaged runs ({len(damaged)}): left out of every table", expanded=True):
        st.caption(f"Their record.json cannot be read or is not a valid run record. Delete them to the trash: it "
                   f"is purged after {trash_days():g} days, or at once by the admin (or `python -m gtzan_core runs "
                   "--purge RUN_ID`).")
        st.dataframe(damaged_frame(damaged), hide_index=True, key="damaged-table")
        deletable = [d.run_id for d in damaged if can_modify_run(d.as_dict())]
        if any(d.owner is None for d in damaged) and not is_admin() and settings().classroom:
            st.caption("A damaged run whose owner cannot be read from its record can be deleted by the admin only.")
        if not deletable:
            return
        victim = st.selectbox("Damaged run", deletable, index=None, placeholder="choose a damaged run",
                              key="delete-damaged")
        if st.button("Delete damaged run", disabled=victim is None, key="delete-damaged-run"):
            try:
                check_modify_run(next(d for d in store().damaged() if d.run_id == victim).as_dict(), "delete")
                move_to_trash(store(), victim, who=current_user())
                st.session_state["leaderboard-flash"] = [("success", f"Moved damaged run {victim} to the trash")]
                st.rerun()
            except StopIteration:
                st.error(f"run {victim} is no longer damaged (repaired or removed meanwhile)")
            except Exception as exc:
                show_error(exc)


def storage_section(trash: list) -> None:
    usage = usage_by_owner(store(), trash)
    if not usage:
        return
    limit = settings().max_storage_mb
    with st.expander("Storage per owner" + (f" (limit {limit} MB each)" if limit else "")):
        st.dataframe(plain_frame(storage_frame(usage, limit)), hide_index=True, key="storage-table", placeholder="—")


identity_sidebar()
purge_expired(store())
if flash := st.session_state.pop("leaderboard-flash", None):
    for kind, text in flash:
        getattr(st, kind)(text)
records = run_records()
owners = sorted({r.owner for r in records if r.owner})
if owners:
    me = current_user()
    options = ["everyone"] + (["mine"] if me else []) + [o for o in owners if o != me]
    who = st.selectbox("Owner", options, key="board-owner",  # (a select box's options are drawn as text)
                       format_func=lambda o: plain_text({"everyone": "everyone's runs",
                                                         "mine": f"mine ({me})"}.get(o, o)))
    if who != "everyone":
        records = [r for r in records if r.owner == (me if who == "mine" else who)]
# Only runs with results can be selected and compared: a job that never trained (stopped while queued, failed
# before its first epoch) or has not finished one yet is listed apart, and the paper's rows have a table of their own.
board = runs_frame(records)
if board.empty:
    st.info("No runs with results yet. Train a model on the **Train** page; the paper's numbers are below.")
    st.page_link("pages/train.py", label="Go to Train", icon="🏋️")
else:
    st.caption("Best first (track-level test accuracy, else segment level); click a column to sort. Tick runs, "
               "then compare them.")
    # the model pinned; the run's id last, wide enough to be read whole (pinned beside the model, it would
    # push the owner off the screen at 1280 px); two runs of one recipe differ by their seed, on screen
    event = run_grid(board, RUN_NUMBER_FORMATS, key="board", on_select="rerun",
                     selection_mode="multi-row")
    chosen = [board.iloc[i]["run"] for i in event.selection.rows]
    c1, c2 = st.columns([1, 3])
    if c1.button("Compare selected", type="primary", disabled=len(chosen) < 2):
        st.session_state["compare_ids"] = chosen
        st.switch_page("pages/compare.py")
    n = len(chosen)
    c2.caption(f"{n} run{'' if n == 1 else 's'} selected" + (" — select at least two runs to compare"
                                                             if n < 2 else ""))
    from gtzan_core.webapp.search import best_trial_links

    best_trial_links(store(), current_user(), "board")  # a search's best trial, one click to Compare
pending = unfinished_frame(records, phase=lambda r: job_progress(r)["phase"])
if not pending.empty:
    with st.expander(f"Jobs without results ({len(pending)}): queued, running, or ended before their first epoch"):
        st.table(md_frame(pending), hide_index=True, border="horizontal")  # st.table reads Markdown
if trials := sum(ended_trial(r) and not r.evaluated for r in records):
    st.caption(f"{trials} search trial{'' if trials == 1 else 's'} without a test score (a search reads validation "
               "accuracy; only its best trial is tested, then listed above): see them with their search on the "
               "Train page.")
if st.toggle("Show the paper's reported results", value=True, key="show-paper"):
    st.caption("For reference, not selectable: the paper's figures were early-stopped on its test set (the MFCC "
               "models' on a leaky segment split). Compare them with runs of the paper protocol, or use the "
               "Reproduction page.")
    st.table(paper_frame(), hide_index=True, border="horizontal")

with st.expander(f"Delete runs (to the trash: restorable for {trash_days():g} days)"):
    deletable = [r.run_id for r in records if can_modify_run(r)]
    victim = st.selectbox("Run", deletable, index=None, placeholder="choose a run", key="delete-run")
    confirm = st.checkbox("Yes, move it to the trash", key="delete-confirm")
    if st.button("Delete", disabled=not (victim and confirm), key="delete"):
        try:
            check_modify_run(store().read(victim), "delete")
            move_to_trash(store(), victim, who=current_user())
            st.session_state["leaderboard-flash"] = [("success", f"Moved {victim} to the trash")]
            st.rerun()
        except Exception as exc:
            show_error(exc)

damaged_section()
share_section()
trash = list_trash(store())  # read once for both views (purge_expired above already pruned it)
trash_section(trash)
storage_section(trash)
if is_admin() and settings().classroom:
    promotion_section(records)
if is_admin():
    with st.expander("Audit log (admin)"):
        entries = read_audit(store().root, limit=500)
        if entries:
            st.dataframe(plain_frame(audit_frame(entries)), hide_index=True, key="audit-log", placeholder="—")
        else:
            st.caption("Nothing recorded yet.")
