"""GTZAN Genre Studio: Streamlit entry point (``streamlit run app.py``)."""

import streamlit as st

st.set_page_config(page_title="GTZAN Genre Studio", page_icon="🎵", layout="wide")
st.title("GTZAN Genre Studio")
st.info("The app pages are being built. Use the CLI meanwhile: `python -m gtzan_core --help`.")
