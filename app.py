"""GTZAN Genre Studio: ``streamlit run app.py``."""

import streamlit as st

st.set_page_config(page_title="GTZAN Genre Studio", page_icon="🎵", layout="wide")

pages = [
    st.Page("pages/home.py", title="Home", icon="🏠", default=True),
    st.Page("pages/train.py", title="Train", icon="🏋️"),
    st.Page("pages/compare.py", title="Compare", icon="⚖️"),
    st.Page("pages/reproduction.py", title="Reproduction", icon="📊"),
    st.Page("pages/predict.py", title="Predict", icon="🎧"),
    st.Page("pages/leaderboard.py", title="Leaderboard", icon="🏆"),
]
st.navigation(pages).run()  # each page draws the sidebar's identity block (webapp.identity_sidebar)
