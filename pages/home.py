import streamlit as st

from gtzan_core.webapp import ensure_app_navigation

ensure_app_navigation()  # a bookmarked page URL as a fresh server's first request: run it inside app.py
st.write(  # the page's static part, drawn before the heavy modules load
    "Music-genre classification on GTZAN: train the paper's seven models (MLP, CNN, LSTM, GRU on MFCCs; "
    "VGG19, ResNeXt, SqueezeNet on spectrograms) and two pretrained networks, compare them honestly (split by "
    "track), and predict the genre of your own audio."
)
with st.container(border=True, key="start-here"):  # a newcomer's first steps, in order
    st.markdown("**New here? Start here:**\n"
                "1. **Dataset** (below): keep the *synthetic demo* to try the studio in minutes, or enter your GTZAN "
                "folder (or download it; on a shared class instance the admin chooses it).\n"
                "2. **Train**: pick a model (*MLP* trains in seconds on a CPU) and press **Start training**; the job "
                "keeps running when you change pages.\n"
                "3. **Leaderboard** and **Compare**: read its test accuracy beside your other runs and the paper's.\n"
                "4. **Predict**: upload a song and see what each model says.")

from pathlib import Path  # noqa: E402

from gtzan_core import DEMO_DATASET, GENRES  # noqa: E402
from gtzan_core.data.download import DEFAULT_URL  # noqa: E402
from gtzan_core.tables import home_frame  # noqa: E402
from gtzan_core.webapp import (  # noqa: E402
    DEMO_LABEL,
    check_user_path,
    data_path,
    dataset_summary,
    device_label,
    download_job,
    finished_runs,
    identity_sidebar,
    is_admin,
    machine_panel,
    md_code,
    md_frame,
    md_text,
    set_data_path,
    settings,
    show_error,
    weights_status,
)


def download_panel():
    """The download's state; refreshed every second only while a download runs (an idle page
    costs the server nothing), the page rerun when it starts or ends."""
    live = download_job().state()["status"] == "running"

    @st.fragment(run_every=1.0 if live else None)
    def panel():
        state = download_job().state()
        if (state["status"] == "running") != live:
            st.rerun()
        if state["status"] == "running":
            total = state.get("total") or 0
            frac = state["done"] / total if total else 0.0
            st.progress(min(frac, 1.0), text=f"{state['message']}: {state['done'] / 2**20:.0f}"
                        + (f" / {total / 2**20:.0f} MiB" if total else " MiB"))
        elif state["status"] == "done":
            st.success(f"Downloaded {state['tracks']} tracks to {md_code(state['path'])}: enter that folder above.")
        elif state["status"] == "failed":
            st.error(md_text(state["error"]))

    panel()


def choose_dataset(current):
    """The demo set or a typed GTZAN folder, and the download (on a classroom instance: the admin's)."""
    choice = st.radio("Use", [DEMO_LABEL, "A GTZAN folder on this machine"], index=0 if current is None else 1,
                      horizontal=True)
    if choice == DEMO_LABEL:
        if current is not None:
            set_data_path(None)
            st.rerun()
    else:
        typed = st.text_input("GTZAN folder (Kaggle genres_original/ + images_original/, or genres/*.au)",
                              value=current or "", placeholder="/data/gtzan")
        if st.button("Use this folder", type="primary"):
            try:
                path = check_user_path(typed)
                dataset_summary(str(path))  # validates the layout
                set_data_path(str(path))
                st.rerun()
            except Exception as exc:
                show_error(exc)
        with st.expander("No GTZAN yet? Download it (about 1.2 GB)"):
            url = st.text_input("Archive URL", value=DEFAULT_URL)
            target = st.text_input("Unpack into", value=str(Path.cwd() / "gtzan"))
            if st.button("Download"):
                try:
                    download_job().start(url, str(check_user_path(target)))
                except Exception as exc:
                    show_error(exc)
            download_panel()


identity_sidebar()

left, right = st.columns([3, 2])
with left:
    st.subheader("Dataset")
    current = data_path()
    if settings().classroom and not is_admin():
        st.caption("On this shared instance the admin chooses the class's dataset.")
    else:
        choose_dataset(current)
    try:
        summary = dataset_summary(data_path())
    except Exception as exc:
        show_error(exc)
        summary = None
    if summary:
        if summary["dataset"] == DEMO_DATASET:
            st.info("Active: **synthetic demo** — procedurally generated music, not GTZAN. "
                    "Accuracies on it say nothing about real music.")
        else:
            st.success(f"Active: **GTZAN** at {md_code(summary['root'])} ({md_text(summary['layout'])} layout)")
        st.bar_chart(summary["tracks_per_genre"], height=220)
        st.caption(f"{summary['tracks']} tracks · {summary['with_images']} spectrogram PNGs · "
                   f"{len(summary['skipped'])} skipped")
        for item in summary["skipped"]:  # a dataset's file names are anyone's: drawn as text
            st.warning(f"Skipped {md_code(item['path'])}: {md_text(item['reason'])}")
        for w in summary["warnings"]:
            st.warning(md_text(w))

with right:
    st.subheader("Compute")
    st.metric("Device", device_label())
    weights_status()  # musicnn's weights: fetched in the background on the first start
    st.subheader("Leaderboard")
    runs = finished_runs()  # runs with results only: a job that never trained is no run
    board, demo = home_frame(runs), home_frame(runs, demo=True)  # never ranked together
    if board.empty and demo.empty:
        st.caption("No runs with results yet.")
    if not board.empty:
        st.table(md_frame(board), hide_index=True, border="horizontal")
        st.caption("Scores: test accuracy at track level and macro F1 (segment level), 3 decimals. "
                   "The Leaderboard has every column.")
    if not demo.empty:
        st.caption(("Runs on real data only above. " if not board.empty else "No run on real data yet. ")
                   + "On the synthetic demo set (procedural music: its scores say nothing about real music, so they "
                     "are never ranked with real runs):")
        st.table(md_frame(demo), hide_index=True, border="horizontal")
    st.page_link("pages/train.py", label="Train models", icon="🏋️")
    st.page_link("pages/predict.py", label="Predict a song", icon="🎧")
    st.page_link("pages/leaderboard.py", label="Full leaderboard", icon="🏆")

st.caption("Genres: " + ", ".join(GENRES))
machine_panel()  # the doctor's checks, for whoever runs this instance
