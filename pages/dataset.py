import streamlit as st

from gtzan_core.webapp import ensure_app_navigation

ensure_app_navigation()  # a bookmarked page URL as a fresh server's first request: run it inside app.py
st.write("Listen to the dataset the studio works on, genre by genre: each track's waveform, MFCCs and spectrogram, "
         "the part of a split it falls in, and the recordings the dataset holds more than once.")

import io  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402

from gtzan_core import GENRES  # noqa: E402
from gtzan_core.errors import StudioError  # noqa: E402
from gtzan_core.webapp import data_path, dataset_summary, identity_sidebar, md_text, show_error  # noqa: E402
from gtzan_core.webapp.dataset_view import (  # noqa: E402
    dataset_tracks,
    media_bytes,
    repeats_of,
    split_parts,
)

identity_sidebar()
path = data_path()
summary = dataset_summary(path)  # (the demo set is generated first when it is the one in use)
try:
    tracks, root = dataset_tracks(path)
except StudioError as exc:
    show_error(exc)
    st.stop()
st.caption(md_text(f"{summary.get('label', 'dataset')} · {len(tracks)} tracks · {root}"))

protocol = st.radio("Split", ["track", "paper", "filtered"], horizontal=True, key="dataset-protocol",
                    help="track: stratified by track (70/15/15, seed 0); paper: the paper's 80:20 of pictures "
                         "(random_state 42); filtered: the artist-filtered lists (real GTZAN only)")
try:
    parts = split_parts(path, protocol)
except StudioError as exc:
    parts = {}
    st.caption(md_text(f"No {protocol} split here: {exc}"))

genre = st.selectbox("Genre", list(GENRES), key="dataset-genre")
mine = tracks[tracks["genre"] == genre]
listing = pd.DataFrame({"track": mine["track_id"], "audio": mine["audio_path"].notna().map({True: "yes", False: "—"}),
                        "picture": mine["image_path"].notna().map({True: "yes", False: "—"}),
                        "split part": [parts.get(t, "—") for t in mine["track_id"]]})
st.dataframe(listing, hide_index=True, width="stretch", key="dataset-tracks")
track = st.selectbox("Track", list(mine["track_id"]), key=f"dataset-track-{genre}")
if track:
    row = mine[mine["track_id"] == track].iloc[0]
    if isinstance(row["audio_path"], str):
        data = media_bytes(row["audio_path"], root)
        st.audio(data)
        from gtzan_core.audio import load_audio
        from gtzan_core.features import mfcc_segments
        from gtzan_core.plots import mel_view, mfcc_figure, spectrogram_figure, waveform_figure

        try:
            blob = io.BytesIO(data)
            blob.name = Path(row["audio_path"]).name
            y = load_audio(blob, max_seconds=60)
        except StudioError as exc:
            show_error(exc)
        else:
            wave, mfcc, spec = st.tabs(["Waveform", "MFCC", "Mel spectrogram"])
            with wave:
                st.plotly_chart(waveform_figure(y, 22050), key="dataset-wave", width="stretch")
            with mfcc:
                m = mfcc_segments(y)
                if len(m):
                    st.plotly_chart(mfcc_figure(m, 3.0), key="dataset-mfcc", width="stretch")
                else:
                    st.caption("Shorter than one 3 s segment: no MFCC segment (training repeat-pads it).")
            with spec:
                st.plotly_chart(spectrogram_figure(*mel_view(y, 22050)), key="dataset-mel", width="stretch")
    if isinstance(row["image_path"], str):
        st.image(media_bytes(row["image_path"], root), caption="its spectrogram picture", width=432)

st.subheader("Recordings filed more than once", anchor=False)
st.caption("Tracks whose standardised feature vectors are nearly identical (below 0.35 × the median "
           "nearest-neighbour distance): copies of one recording. A copy under two genres is a mislabel; a split "
           "with copies on both sides tests a model on what it trained on. The same as `python -m gtzan_core "
           "repeats --data FOLDER|CSV`.")
which = f"folder:{path}" if path else "demo"  # (the dataset whose repeats this session asked for)
if st.button("Find repeated recordings", key="dataset-repeats") or st.session_state.get("dataset-repeats-of") == which:
    st.session_state["dataset-repeats-of"] = which
    with st.spinner("Reading every track's feature vector (once: cached)…"):
        try:
            found = repeats_of(path)
        except StudioError as exc:
            show_error(exc)
            st.stop()
    groups = found["groups"]
    both = [g for g in groups if len({parts.get(t) for t in g if t in parts}) > 1]
    st.markdown(f"**{len(found['pairs'])} pairs of copies** among {found['tracks']} tracks; under the {protocol} "
                f"split, {len(both)} recording(s) have copies in two parts.")
    by_id = tracks.set_index("track_id")
    for p in found["pairs"][:60]:
        flag = " · **filed under two genres: one copy is mislabelled**" if p["across_genres"] else ""
        what = "identical features" if p["identical"] else f"distance {p['distance']:.3f}"
        st.markdown(f"{md_text(p['a'])} ({parts.get(p['a'], '—')}) and {md_text(p['b'])} "
                    f"({parts.get(p['b'], '—')}): {what}{flag}")
        cols = st.columns(2)
        for col, t in zip(cols, (p["a"], p["b"]), strict=True):
            audio = by_id["audio_path"].get(t) if t in by_id.index else None
            if isinstance(audio, str):
                col.audio(media_bytes(audio, root))
            else:
                col.caption(f"{t}: no audio here (a feature table, or pictures only)")
    if len(found["pairs"]) > 60:
        st.caption(f"{len(found['pairs']) - 60} more pairs: see `python -m gtzan_core repeats`.")
