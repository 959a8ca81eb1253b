import streamlit as st

from gtzan_core.webapp import ensure_app_navigation

ensure_app_navigation()  # a bookmarked page URL as a fresh server's first request: run it inside app.py

import hashlib  # noqa: E402
import time  # noqa: E402

import pandas as pd  # noqa: E402

from gtzan_core import DEMO_DATASET, GENRES  # noqa: E402
from gtzan_core.claims import claimed, provenance_text, shipped_starter  # noqa: E402
from gtzan_core.ensemble import tie_text  # noqa: E402
from gtzan_core.features import MFCCParams  # noqa: E402
from gtzan_core.inference import default_selection, predict  # noqa: E402
from gtzan_core.plots import (  # noqa: E402
    MANY_RUNS,
    explanation_figure,
    mel_view,
    mfcc_figure,
    probabilities_figure,
    spectrogram_figure,
    timeline_figure,
    waveform_figure,
)
from gtzan_core.tables import short_run_id, strings  # noqa: E402
from gtzan_core.webapp import (  # noqa: E402
    current_user,
    decode_upload,
    identity_sidebar,
    md_code,
    md_frame,
    md_text,
    run_label,
    run_records,
    settings,
    show_error,
    store,
    weights_status,
)

RECORD_SAMPLE_RATE = MFCCParams.sr  # 22050 Hz (see the microphone below)

identity_sidebar()
runs = {r.run_id: r for r in run_records() if r.evaluated and store().checkpoint_path(r.run_id).is_file()}
usable, missing = default_selection(store(), list(runs.values()))  # a starter without its weights: left out
weights_status()
if not runs:
    st.info("No trained models yet: train one on the **Train** page (a CNN takes under a minute on the demo set). "
            "The studio's starter model (in `checkpoints/`) is not in this run store.")
    st.page_link("pages/train.py", label="Go to Train", icon="🏋️")

from gtzan_core.webapp.listening import PREDICT_CLIP  # noqa: E402

listened = st.session_state.get(PREDICT_CLIP)  # a track opened from a confusion cell on Compare: (name, bytes, run)
sources = ["Upload a file", "Record with the microphone", "A demo clip"] + (
    ["The track opened from Compare"] if listened else [])
source = st.radio("Audio", sources, horizontal=True, index=len(sources) - 1 if listened else 0)
name, data = None, None
if source == "The track opened from Compare" and listened:
    name, data = listened[0], listened[1]
    st.caption(f"{md_text(name)}, listed on Compare for run {md_code(listened[2])}: its prediction below, "
               "and the **Why?** expander under it explains it.")
elif source == "Upload a file":
    up = st.file_uploader("wav, mp3, flac, ogg or au", type=["wav", "mp3", "flac", "ogg", "au"],
                          max_upload_size=settings().upload_mb)
    if up is not None:
        name, data = up.name, up.getvalue()
elif source == "Record with the microphone":
    # Recorded at 22050 Hz, GTZAN's rate and the rate the MFCC, picture and feature-vector models read (musicnn
    # resamples to 16 kHz from it): Streamlit's default, 16 kHz, would cut everything above 8 kHz before a model
    # trained on 22.05 kHz audio hears it; the browser's own rate (often 48 kHz) would send twice the bytes for
    # sounds above 11 kHz that no model reads.
    rec = st.audio_input("Hum, sing or play for at least 3 s (one segment); 30 s gives the image models a full window",
                         key="mic", sample_rate=RECORD_SAMPLE_RATE)
    if rec is not None:  # the same pipeline and messages as an upload
        name, data = "microphone recording", rec.getvalue()
else:
    from gtzan_core.data import open_dataset
    from gtzan_core.webapp import ensure_demo

    ensure_demo()
    ds = open_dataset(None)
    clips = ds.tracks.groupby("genre").head(1)
    pick = st.selectbox("Synthetic demo clip", list(clips.audio_path),
                        format_func=lambda p: p.rsplit("/", 1)[-1] + " (synthetic)")
    if pick:
        with open(pick, "rb") as f:
            name, data = pick.rsplit("/", 1)[-1], f.read()

# an import whose numbers its file claims predicts only when its importer chooses it (gtzan_core.claims)
me = current_user()
imports = [rid for rid, r in runs.items() if claimed(r) and (not settings().classroom or (me and r.owner == me))]
chosen = st.multiselect("Models", usable + imports, default=usable, format_func=lambda rid: run_label(runs[rid]))
if imports:
    st.caption(f"{len(imports)} imported run(s) of yours whose numbers are claimed by their file, not measured here, "
               "are not chosen by default (measure one with `python -m gtzan_core evaluate RUN --data FOLDER`).")

if data is not None:
    st.audio(data)
    key = (hashlib.sha1(data).hexdigest(), tuple(chosen))
    if st.session_state.get("prediction_key") != key:
        with st.spinner("Decoding and predicting…"):
            try:
                t0 = time.perf_counter()
                decoded = decode_upload(data, name)
                st.session_state["prediction"] = predict(decoded, chosen, store(), unavailable=missing)
                st.session_state["decoded"] = (key[0], decoded)  # Why? explains the same decoded clip
                st.session_state["prediction_seconds"] = time.perf_counter() - t0
                st.session_state["prediction_key"] = key
            except Exception as exc:
                st.session_state.pop("prediction", None)
                st.session_state["prediction_key"] = None
                show_error(exc)
    pred = st.session_state.get("prediction") if st.session_state.get("prediction_key") == key else None
    if pred is not None:
        st.caption(f"{md_text(name)}: {pred.duration:.1f} s · predicted in "
                   f"{st.session_state['prediction_seconds']:.2f} s")
        for w in pred.warnings:
            st.warning(md_text(w[0].upper() + w[1:] + "."))  # they may quote the file's name: as text
        for _rid, why in pred.refused.items():
            st.error(md_text(why))
        if pred.results:  # the answer first, then the clip's views
            st.subheader("Genre probabilities")
            # the runs trained on real data that count for this visitor, weighted on their validation accuracy
            ans = pred.answer(viewer=me, classroom=settings().classroom)
            real = {rid: r for rid, r in pred.results.items() if rid not in ans.demo_runs}
            c1, c2 = st.columns(2)
            if ans.probs is not None:
                c1.metric("Default answer", f"{ans.top} · {ans.probs.max():.0%}")
                if tie := tie_text(ans.probs):
                    c1.caption(tie)
            else:
                c1.metric("Default answer", "none")
            if len(pred.results) > 1:  # (one model: nobody to agree with)
                c2.metric("Models agreeing on the top genre", f"{pred.agreement():.0%}")
            networks = "; ".join(sorted({r["networks"] for r in ans.runs}))
            st.caption(md_text(f"Answered by {ans.answered_by}" + (f" (networks: {networks})" if networks else "")
                               + f". How: {ans.rule}."))
            if ans.runs:
                st.table(md_frame(strings(pd.DataFrame(
                    [{"run": f"{a['title']} · {short_run_id(a['run_id'])}", "counts as": a["source"],
                      "validation accuracy": f"{a['val_accuracy']:.3f}",
                      "weight": f"{a['weight']:.2f}"} for a in ans.runs]))), hide_index=True, border="horizontal")
            for rid, why in ans.left_out.items():
                st.caption(md_text(f"Not in the answer: {rid}: {why}"))
            if real:
                st.plotly_chart(probabilities_figure(real, ans.probs, "default answer (weighted)"), key="probs",
                                width="stretch")
                table = pd.DataFrame({r.label: r.probs for r in real.values()},
                                     index=list(GENRES)).T
                table.insert(0, "trained on", [("real GTZAN" if r.dataset == "GTZAN" else r.dataset) +
                                               (f" ({provenance_text(runs[rid])})" if rid in runs and
                                                provenance_text(runs[rid]) else "")
                                               for rid, r in real.items()])
                table.insert(1, "top genre", [r.top for r in real.values()])
                st.table(md_frame(strings(table)), border="horizontal")  # run titles are anyone's (imports)
            if ans.demo_runs:
                st.markdown("**Trained on the synthetic demo set** (never heard real music: not in the default "
                            "answer)")
                st.plotly_chart(probabilities_figure({rid: pred.results[rid] for rid in ans.demo_runs}),
                                key="demo-probs", width="stretch")
                demo = pd.DataFrame({pred.results[rid].label: pred.results[rid].probs
                                     for rid in ans.demo_runs}, index=list(GENRES)).T
                demo.insert(0, "top genre", [pred.results[rid].top for rid in ans.demo_runs])
                st.table(md_frame(strings(demo)), border="horizontal")
            for rid in pred.results:
                if shipped_starter(runs.get(rid, {})):  # the shipped one only
                    from gtzan_core.share.card import limits_text, model_card

                    s = runs[rid].starter
                    assert s is not None  # (a shipped starter has its numbers: claims.shipped_starter)
                    what = ("real excerpts" if s.material == "audio" else "Kaggle spectrogram PNGs")
                    st.info(f"**{runs[rid].title} starter model** (`{rid}`), shipped with the studio: trained "
                            f"on real GTZAN ({s.tracks} {what}, split by track), test accuracy "
                            f"{100 * s.mean:.1f} % ± {100 * s.sd:.1f} over {len(s.seeds)} seeds on "
                            f"{s.test_tracks} unseen tracks each. {limits_text(runs[rid])}", icon="🎁")
                    with st.expander("The starter's model card"):
                        st.markdown(model_card(runs[rid]).replace("![confusion matrix](confusion.png)", ""))
            if any(r.dataset == DEMO_DATASET for r in pred.results.values()):
                st.caption("Models marked *synthetic demo* were trained on generated music, not GTZAN: "
                           "their opinion on real songs is not meaningful.")
            if source == "A demo clip" and any(r.dataset != DEMO_DATASET for r in pred.results.values()):
                st.caption("This clip is synthetic (the studio's generated demo set): models trained on real music, "
                           "the starter among them, are not expected to name its genre. Upload a song to try them.")
            over_time = {rid: r for rid, r in pred.results.items() if not r.whole}
            if over_time:  # each window a model scored, over the seconds it covers
                st.subheader("Timeline: top genre per segment")
                st.plotly_chart(timeline_figure(over_time, pred.duration), width="stretch")
                where = ("in the row of its run, coloured by the genre it chose" if len(over_time) > MANY_RUNS
                         else "in the row of the genre it chose")
                st.caption("One bar per window a model scored (" + "; ".join(
                    f"{md_text(r.title)} {r.seen}" for r in over_time.values()) + f"), {where}; a paler bar is a "
                    "less confident window.")
            for r in pred.results.values():  # nothing to draw over time: said in one line
                if r.whole:
                    st.caption(f"{md_text(r.label)} {r.seen}: one answer for all of it, {r.top} "
                               f"({r.probs.max():.0%}), no timeline.")
        st.subheader("The clip")
        # only the open tab is drawn (a tab switch reruns the page; the prediction is kept): on a shared
        # server every visitor's browser and the server build one chart instead of three per upload
        wave, mfcc, spec = st.tabs(["Waveform", "MFCC", "Mel spectrogram"], key="clip-view", on_change="rerun")
        if wave.open:
            with wave:
                st.plotly_chart(waveform_figure(pred.audio, pred.sr), width="stretch")
        if mfcc.open:
            with mfcc:
                segments = pred.view("mfcc")
                st.plotly_chart(mfcc_figure(segments, 3.0), width="stretch")
                st.caption(f"The clip's MFCCs, 3 s segments side by side ({segments.shape[-1]} coefficients). The "
                           "colour scale is set by coefficients 1 and up: coefficient 0, the overall loudness, runs to "
                           "hundreds and would leave the others blank; it is drawn clipped at the scale's ends.")
        if spec.open:
            with spec:
                st.plotly_chart(spectrogram_figure(*mel_view(pred.audio, pred.sr)), width="stretch")
                st.caption("The mel spectrogram of the clip's first 30 s: 128 mel bands (n_fft 2048, hop 512), "
                           "loudness in dB below the loudest cell. The image models see this drawn as GTZAN's Kaggle "
                           "PNGs are (magma, in a white frame) and resized to their input size.")

if data is not None and pred is not None and pred.results:
    from gtzan_core.explain import explain, methods_for
    from gtzan_core.inputs import kind_of
    from gtzan_core.webapp.kinds import no_explanation

    METHOD_HELP = {"occlusion": "grey out patches of the input and watch the probability drop",
                   "gradcam": "gradients on the model's last conv block",
                   "segments": "which 3 s segments (or windows) raised or lowered the genre, over the whole clip",
                   "rollout": "the Transformer's class-token attention rolled out onto its patches (the same for "
                              "every genre)"}
    with st.expander("🔍 Why? Explain a model's choice (computed on demand)"):
        c1, c2, c3 = st.columns(3)
        rid = c1.selectbox("Model", list(pred.results), format_func=lambda r: run_label(runs[r]), key="ex-run")
        offered = methods_for(pred.results[rid].model)  # only what this model supports (its spec)
        if not offered:
            why = no_explanation(kind_of(runs[rid]))
            st.info(md_text(f"No explanation for this model: {why}."))
        else:
            genre = c2.selectbox("Genre to explain", list(GENRES), key=f"ex-genre-{rid}",
                                 index=GENRES.index(pred.results[rid].top))
            methods = c3.multiselect("Methods", offered, default=list(offered),
                                     key=f"ex-methods-{'-'.join(offered)}",
                                     help="; ".join(f"{m}: {METHOD_HELP[m]}" for m in offered))
            note = (" Grad-CAM on the small MFCC CNN partly reflects the input itself (see the documentation's "
                    "Explanations page)."
                    if "gradcam" in offered else "")
            st.caption(f"Occlusion is the check that held under re-randomised weights.{note} Each map below says "
                       "the span of the clip it explains.")
            ex_key = (key, rid, genre, tuple(methods))
            # the click is kept as a request in the session (the callback runs before the script), so a rerun
            # that interrupts the computation (another widget, a page refresh) computes it again instead of losing it
            if st.button("Explain", key="explain", type="primary", disabled=not methods,
                         on_click=lambda k=ex_key: st.session_state.update({"explain-request": k})):
                # the click also counts when Streamlit dropped its callback (a widget drawn by a run that
                # another rerun interrupted keeps its trigger but may lose the callback)
                st.session_state["explain-request"] = ex_key
            saved = st.session_state.get("explanation")
            if st.session_state.get("explain-request") == ex_key and not (saved and saved[0] == ex_key):
                with st.status(f"Explaining {pred.results[rid].label}…", expanded=True) as box:
                    bar = st.progress(0.0, text="starting")

                    def show(done: int, total: int, message: str = "") -> None:
                        bar.progress(min(1.0, done / max(total, 1)), text=md_text(message))

                    try:
                        t0 = time.perf_counter()
                        kept = st.session_state.get("decoded")
                        decoded = kept[1] if kept and kept[0] == key[0] else decode_upload(data, name)
                        ex = explain(decoded, rid, store(), genre=genre, methods=tuple(methods), progress=show,
                                     row_probs=pred.results[rid].segment_probs)  # (computed by the prediction)
                        st.session_state["explanation"] = (ex_key, ex)
                        box.update(label=f"Explained in {time.perf_counter() - t0:.1f} s", state="complete",
                                   expanded=False)
                    except Exception as exc:
                        box.update(label="Could not explain", state="error")
                        show_error(exc)
                st.session_state.pop("explain-request", None)  # done or refused: not again
            saved = st.session_state.get("explanation")
            if saved and saved[0] == ex_key:
                ex = saved[1]
                st.caption(ex.span_text())
                if ex.tags:  # a run on musicnn's MTT network: what that network hears, in its own tags
                    st.caption(md_text(ex.tags_text()))
                for method, m in ex.maps.items():
                    band = f" · band {m.top_band[0]:.0f}–{m.top_band[1]:.0f} {m.band_unit}" if m.top_band else ""
                    st.markdown(f"**{method}** · over {m.covers[0]:.1f}–{m.covers[1]:.1f} s · strongest "
                                f"{m.top_time[0]:.1f}–{m.top_time[1]:.1f} s{band} · {ex.seconds[method]:.2f} s to "
                                "compute")
                    st.plotly_chart(explanation_figure(ex, method), key=f"ex-{method}", width="stretch")
