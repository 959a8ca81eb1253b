"""Listening to a confusion cell on Compare: pick a cell of a run's matrix (click it, or
choose it beside the matrix) or a row of its per-class report, and its test tracks are
listed with the run's probabilities, each playable in place (the excerpt the model saw,
or its spectrogram picture for a pictures-only run), one click from Predict and its "Why?".

The sound is read on the server from the dataset the run used (or the folder it was
evaluated on), found by the track's id in that dataset's own listing, and handed to the
browser by Streamlit's media store: no path ever comes from, or goes to, the browser; a
dataset outside the folders this app may read is never played
(:mod:`gtzan_core.insight.media`)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from .. import GENRES
from ..insight import cells
from ..insight.media import Media, dataset_media, folder_media, read_media
from ..runs.record import RunRecord
from .datasets import allowed_data_roots
from .formatting import md_text

#: At most this many players are drawn at once for a cell (the table lists every track).
PLAYERS = 12
#: What Predict reads when a listed track is opened there: (name, bytes, run id).
PREDICT_CLIP = "listened_clip"


@st.cache_data(ttl=60, show_spinner=False, max_entries=16)
def _media(root: str, roots: tuple[str, ...]) -> dict[str, Media]:
    from pathlib import Path

    return dataset_media(root, [Path(r) for r in roots])


def _roots() -> tuple[str, ...]:
    from .. import paths

    return tuple(str(r) for r in [*allowed_data_roots(), paths.studio_home().resolve()])


def option_text(option: str, matrix: list[list[int]]) -> str:
    if not option:
        return "—"
    what, *names = option.split(":")
    if what == "row":
        return f"every {names[0]} track, and those taken for {names[0]}"
    i, j = GENRES.index(names[0]), GENRES.index(names[1])
    return f"true {names[0]} → predicted {names[1]} ({matrix[i][j]})"


def options_of(matrix: list[list[int]]) -> list[str]:
    """The cells worth listening to (errors first, then the diagonal) and the report's rows."""
    n = len(matrix)
    wrong = [f"cell:{GENRES[i]}:{GENRES[j]}" for i in range(n) for j in range(n) if i != j and matrix[i][j]]
    right = [f"cell:{GENRES[i]}:{GENRES[i]}" for i in range(n) if matrix[i][i]]
    return ["", *wrong, *right, *[f"row:{g}" for g in GENRES[:n]]]


def listed_frame(listed: list[cells.Listed], level: str) -> pd.DataFrame:
    frame = pd.DataFrame({"track": [x.track for x in listed], "true": [x.true for x in listed],
                          "predicted": [x.pred for x in listed],
                          "p(true)": [f"{x.p_true:.2f}" for x in listed],
                          "p(predicted)": [f"{x.p_pred:.2f}" for x in listed]})
    if level == "segment":
        frame["samples here"] = [f"{x.in_cell} of {x.samples}" for x in listed]
    return frame


def _kept(record, folder: str | None) -> dict | None:
    from .resources import store

    found = cells.stored(store(), RunRecord.of(record).run_id, folder)
    if found is None and folder is None and st.button(
            "Make its per-track predictions (once)", key=f"make-preds-{RunRecord.of(record).run_id}",
            help="This run was recorded before the studio kept what it predicted for each test track: they are "
                 "made once from its checkpoint and its dataset, and checked against its matrix"):
        with st.spinner("Predicting its test tracks again…"):
            try:
                found = cells.ensure_test_predictions(store(), RunRecord.of(record).run_id)
            except Exception as exc:  # its dataset is gone, its model damaged: said in one line
                st.error(md_text(str(exc)))
    return found


def chosen_cell(event) -> str | None:
    """The cell a click on the confusion chart chose ("cell:TRUE:PRED"), if any."""
    try:
        points = event.selection.points if event is not None else []
    except AttributeError:
        return None
    for p in points or []:
        x, y = p.get("x"), p.get("y")
        if x in GENRES and y in GENRES:
            return f"cell:{y}:{x}"
    return None


def listen_panel(record, level: str, key: str, folder: str | None = None, event=None) -> None:
    """Under a run's confusion matrix (``folder``: of its evaluation on that folder): pick a
    cell or a report row, hear its tracks."""
    kept = _kept(record, folder)
    if kept is None:
        if folder is not None:
            st.caption("The clips of this evaluation were not kept (it was made before the studio kept them): "
                       "evaluate the folder again to listen to its cells.")
        return
    if kept.get("recomputed") and not kept.get("matches_record"):
        st.warning("Made again from the checkpoint, these predictions do not give the matrix the run recorded: "
                   "its dataset has changed since it trained.", icon="⚠️")
    level = level if folder is None else "track"
    matrix = cells.confusion_of(kept, level)
    options = options_of(matrix)
    pick_key = f"listen-{key}"
    clicked = chosen_cell(event)
    if clicked and clicked in options and st.session_state.get(f"{pick_key}-clicked") != clicked:
        st.session_state[pick_key] = clicked  # a click on the chart picks the cell beside it
        st.session_state[f"{pick_key}-clicked"] = clicked
    if st.session_state.get(pick_key) not in options:
        st.session_state.pop(pick_key, None)
    choice = st.selectbox("Listen to a cell or a genre's row", options, key=pick_key,
                          format_func=lambda o: option_text(o, matrix),
                          help="click a cell of the matrix, or choose it here")
    if not choice:
        return
    what, *names = choice.split(":")
    listed = (cells.class_tracks(kept, names[0]) if what == "row"
              else cells.cell_tracks(kept, names[0], names[1], level))
    if not listed:
        st.caption("No test track here.")
        return
    st.dataframe(listed_frame(listed, level if what == "cell" else "track"), hide_index=True, width="stretch",
                 key=f"{pick_key}-table")
    roots = _roots()
    if folder is None:
        root = RunRecord.of(record).dataset.root or ""
        media = _media(root, roots)
    else:
        root = folder
        from pathlib import Path

        media = folder_media(folder, [x.track for x in listed], [Path(r) for r in roots])
    for n, x in enumerate(listed[:PLAYERS]):
        m = media.get(x.track)
        c1, c2 = st.columns([3, 1])
        c1.markdown(f"**{md_text(x.track)}** · true {x.true}, predicted {x.pred} (p {x.p_pred:.2f})")
        if m is None or (m.audio is None and m.image is None):
            c1.caption("Not here to play: the run's dataset is not on this server (or is a feature table).")
            continue
        from pathlib import Path

        if m.audio is not None:
            data = read_media(m.audio, root, [Path(r) for r in roots])
            c1.audio(data, format=f"audio/{'mpeg' if m.audio.suffix.lower() == '.mp3' else 'wav'}")
            if c2.button("Open on Predict · Why?", key=f"{pick_key}-open-{n}",
                         help="predict and explain this track on Predict, with this run"):
                st.session_state[PREDICT_CLIP] = (m.audio.name, data, RunRecord.of(record).run_id)
                st.switch_page("pages/predict.py")
        else:
            assert m.image is not None
            c1.image(read_media(m.image, root, [Path(r) for r in roots]), width=320)
    if len(listed) > PLAYERS:
        st.caption(f"{len(listed) - PLAYERS} more in the table above; players are drawn for the first {PLAYERS}.")


def disagreement_table(a_record, b_record) -> pd.DataFrame | None:
    """Tracks the two runs both tested where one is right and the other wrong (None: a run's
    predictions are not kept, or they tested other tracks)."""
    from .resources import store

    a, b = (cells.stored(store(), RunRecord.of(r).run_id) for r in (a_record, b_record))
    if a is None or b is None:
        return None
    rows = cells.disagreements(a, b)
    return pd.DataFrame(rows, columns=["track", "true", "a", "b", "right"])


def map_panel(record, key: str) -> None:
    """A run's map of its dataset (drawn on demand the first time, with a progress bar;
    from the cache after): a click on a point plays that track and shows its probabilities."""
    from pathlib import Path

    from ..insight import embedding_map
    from ..plots import map_figure, probabilities_figure
    from .resources import store

    rid = RunRecord.of(record).run_id
    found = embedding_map.cached_map(store(), rid)
    if found is None:
        st.caption("Every track of the run's dataset placed by what the model makes of it (PCA, then t-SNE of its "
                   "last layer's input); made once, then cached.")
        if not st.button("Draw the map", key=f"map-make-{key}"):
            return
        bar = st.progress(0.0, text="Running the model over every track…")

        def progress(done, total, message):
            bar.progress(min(1.0, done / total) if total else 0.0, text=message)

        try:
            found = embedding_map.run_map(store(), rid, progress=progress)
        except Exception as exc:  # its dataset is not here, its model damaged: one line
            bar.empty()
            st.error(md_text(str(exc)))
            return
        bar.empty()
    colour = st.radio("Colour by", ["genre", "prediction"], horizontal=True, key=f"map-colour-{key}")
    event = st.plotly_chart(map_figure(found, colour), key=f"map-{key}", width="stretch", on_select="rerun",
                            selection_mode="points")
    n_test = sum(r["part"] == "test" for r in found["tracks"])
    st.caption(f"{len(found['tracks'])} tracks from {found['layer']} ({found['dimensions']} dimensions); bigger "
               f"points: its {n_test} test tracks; rings: the {sum(r['error'] for r in found['tracks'])} it got "
               "wrong. Click a point to hear it.")
    try:
        points = event.selection.points or []
    except AttributeError:
        points = []
    picked = next((p.get("customdata") for p in points if p.get("customdata")), None)
    row = next((r for r in found["tracks"] if r["track"] == picked), None)
    if row is None:
        return
    st.markdown(f"**{md_text(row['track'])}** · {row['genre']}, predicted {row['pred']}"
                + (" · a test error" if row["error"] else ""))
    roots = _roots()
    root = RunRecord.of(record).dataset.root or ""
    m = _media(root, roots).get(row["track"])
    if m is not None and m.audio is not None:
        st.audio(read_media(m.audio, root, [Path(r) for r in roots]))
    elif m is not None and m.image is not None:
        st.image(read_media(m.image, root, [Path(r) for r in roots]), width=320)
    else:
        st.caption("Not here to play: the run's dataset is not on this server (or is a feature table).")
    from types import SimpleNamespace  # (what probabilities_figure reads of a prediction)

    st.plotly_chart(probabilities_figure({rid: SimpleNamespace(title="this run", probs=row["probs"])}),
                    key=f"map-probs-{key}", width="stretch")
