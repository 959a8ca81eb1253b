"""GTZAN Genre Studio: ``streamlit run app.py``.

The page's title is drawn here, before the page runs: a cold server spends seconds
importing torch and librosa for the first page, and the visitor sees the page's title
and a skeleton meanwhile instead of a blank page (the page takes the skeleton down
once its modules are loaded: ``gtzan_core.webapp.identity_sidebar``)."""

import sys

import streamlit as st

from gtzan_core.webapp.page import (  # Streamlit only: nothing heavy before the first paint
    SKELETON,
    clear_skeleton,
    hide_developer_options,
)

st.set_page_config(page_title="GTZAN Genre Studio", page_icon="🎵", layout="wide")
hide_developer_options()  # a classroom's visitors see no Deploy button or developer menu

pages = [
    st.Page("pages/home.py", title="Home", icon="🏠", default=True),
    st.Page("pages/train.py", title="Train", icon="🏋️"),
    st.Page("pages/compare.py", title="Compare", icon="⚖️"),
    st.Page("pages/reproduction.py", title="Reproduction", icon="📊"),
    st.Page("pages/predict.py", title="Predict", icon="🎧"),
    st.Page("pages/dataset.py", title="Dataset", icon="🗂️"),
    st.Page("pages/leaderboard.py", title="Leaderboard", icon="🏆"),
]
HEADINGS = {"Home": "🎵 GTZAN Genre Studio", "Train": "🏋️ Train", "Compare": "⚖️ Compare runs",
            "Reproduction": "📊 Reproduction of the paper's table", "Predict": "🎧 Predict",
            "Leaderboard": "🏆 Leaderboard", "Dataset": "🗂️ Dataset"}

page = st.navigation(pages)  # each page draws the sidebar's identity block (webapp.identity_sidebar)
st.title(HEADINGS.get(page.title, page.title))
if "gtzan_core.webapp.resources" not in sys.modules:  # a cold server: the heavy modules are still to load
    skeleton = st.empty()
    skeleton.info("Starting the studio: loading PyTorch and librosa (only the first visit after a server start "
                  "waits for this, a few seconds)…", icon="⏳")
    st.session_state[SKELETON] = skeleton
try:
    page.run()
finally:
    clear_skeleton()
