import streamlit as st

from gtzan_core.webapp import ensure_app_navigation

ensure_app_navigation()  # a bookmarked page URL as a fresh server's first request: run it inside app.py

import pandas as pd  # noqa: E402

from gtzan_core.plots import per_class_f1_figure, reproduction_figure, transfer_figure  # noqa: E402
from gtzan_core.reproduction import (  # noqa: E402
    comparison_table,
    list_reproductions,
    per_class_f1,
    protocol_table,
    reproduction_records,
)
from gtzan_core.reproduction.distill_study import (  # noqa: E402
    KIND as DISTILL,
    distill_caption,
    distill_combined,
    distill_display,
    distill_groups,
    distill_label,
)
from gtzan_core.reproduction.feature_study import KIND as FEATURE_STUDY, anchors, display_table  # noqa: E402
from gtzan_core.reproduction.measured import (  # noqa: E402
    results_of,
    test_data_caption,
    tested_on,
    transfer_beside_paper,
)
from gtzan_core.reproduction.report import comparison_display, report_html, transfer_report_html  # noqa: E402
from gtzan_core.reproduction.result_files import provenance  # noqa: E402
from gtzan_core.reproduction.transfer import list_transfers, transfer_display, transfer_records, transfer_table  # noqa: E402
from gtzan_core.runs import RunRecord  # noqa: E402
from gtzan_core.tables import strings  # noqa: E402
from gtzan_core.webapp import identity_sidebar, md_frame, plain_frame, plain_text, store  # noqa: E402

#: The per-protocol table's columns, as people read them.
PROTOCOL_COLUMNS = {"model": "model", "protocol_label": "protocol", "seeds_done": "seeds done", "accuracy": "accuracy",
                    "accuracy_sd": "accuracy sd", "macro_f1": "macro F1", "macro_f1_sd": "macro F1 sd",
                    "track_accuracy": "track acc.", "paper_accuracy": "paper's accuracy",
                    "paper_macro_f1": "paper's macro F1", "delta_accuracy": "Δ accuracy vs paper",
                    "delta_macro_f1": "Δ macro F1 vs paper", "split_warning": "split"}

identity_sidebar()
runs_store = store()
repros = list_reproductions(runs_store)


def transfer_section() -> None:
    """The paper's closing question, with numbers: transfer studies in the run store."""
    studies = list_transfers(runs_store)
    if not studies:
        return
    st.header("Does pretraining help?")
    st.caption("The paper asks whether networks pretrained on data closer to music would beat ImageNet ones. A "
               "transfer study (`python -m gtzan_core transfer --data DIR`) trains, on one dataset and split, musicnn "
               "(pretrained on music), EfficientNet-Lite0 (on photos) and the same architectures from random "
               "initialisation beside the paper's models from scratch, over seeds.")
    sid = st.selectbox("Transfer study", [s["id"] for s in studies], key="transfer-study",
                       format_func=lambda i: plain_text(next(f"{s['id']} · {s['dataset']} · {s['finished']}/"
                                                             f"{s['runs']} runs done"
                                                             for s in studies if s["id"] == i)))
    records = transfer_records(runs_store, sid)
    if any(RunRecord.of(r).dataset_label not in ("GTZAN", "pending", None) for r in records):
        st.warning("**Synthetic demo set, not GTZAN**: these accuracies say nothing about real music.")
    table = transfer_table(records)
    if table.empty or table["seeds_done"].sum() == 0:
        st.info("No run of this study has finished yet.")
        return
    st.dataframe(plain_frame(transfer_display(table)), hide_index=True, key=f"transfer-{sid}", placeholder="—")
    st.plotly_chart(transfer_figure(table), width="stretch", key=f"transfer-bars-{sid}")
    st.download_button("Download the study (HTML)", transfer_report_html(records, sid), file_name=f"{sid}.html",
                       mime="text/html", key=f"dl-{sid}")


def pick(kind: str, label: str, key: str) -> dict | None:
    """The result file of ``kind`` to show: the user's own newest by default, else the shipped one."""
    docs = results_of(kind)
    if not docs:
        return None
    if len(docs) == 1:
        doc = docs[0]
    else:
        names = [f"{d['origin']}/{d['file']}" for d in docs]
        chosen_name = st.selectbox(label, names, key=key, format_func=lambda n: plain_text(next(
            f"{'yours' if d['origin'] == 'yours' else 'shipped'} · {d['title']}{tested_on(d)} · {str(d['date'])[:10]}"
            f" · {d['file']}" for d in docs if f"{d['origin']}/{d['file']}" == n)))  # (the file: two studies of a day)
        doc = docs[names.index(chosen_name)]
    st.caption(plain_text(provenance(doc)))
    return doc


def distill_section() -> None:
    """Does a teacher help? The distillation studies' result files (``python -m gtzan_core distill``,
    one per student or several at once), the files of one study's setting read as one table."""
    docs = results_of(DISTILL)
    if not docs:
        return
    st.header("Does a teacher help? (knowledge distillation)")
    groups = distill_groups(docs)
    labels = [f"{'yours' if g[0]['origin'] == 'yours' else 'shipped'} · "
              + " + ".join(distill_label(d) for d in g) + f" · {str(g[0]['date'])[:10]}" for g in groups]
    chosen = 0 if len(groups) == 1 else st.selectbox("Distillation study", range(len(groups)), key="measured-distill",
                                                     format_func=lambda i: plain_text(labels[i]))
    rows, doc = distill_combined(groups[chosen])
    for one in groups[chosen]:
        st.caption(plain_text(f"{distill_label(one)}: {provenance(one)}"))
    st.caption(plain_text(distill_caption(doc)))
    st.dataframe(plain_frame(distill_display(rows)), hide_index=True, placeholder="—",
                 key="distill-" + "-".join(f"{d['origin']}-{d['file']}" for d in groups[chosen]))


def measured_section() -> None:
    """The studio's own measured real-data results (shipped with it), and the user's own runs of
    the same commands when there are any."""
    transfers = results_of("transfer")
    if transfers:
        st.header("Measured on real GTZAN")
        st.caption("Result files the studio's own commands wrote on the real GTZAN material "
                   "(`../shared/data/gtzan-real`): **shipped with the studio**, so they show before you run anything; "
                   "your own runs of the same commands (`--result` under your studio home) are listed first. Each "
                   "row is beside the paper's accuracy for that model, which it measured with ImageNet weights under "
                   "its own protocol (80:20 or leaky 70:30, early-stopped on test): read them side by side.")
        doc = pick("transfer", "Result", "measured-transfer")
        if doc is not None:
            st.dataframe(plain_frame(transfer_beside_paper(doc)), hide_index=True, placeholder="—",
                         key=f"measured-{doc['origin']}-{doc['file']}")
            if (caption := test_data_caption(doc)) is not None:
                st.caption(plain_text(caption))
    distill_section()
    st.header("Which audio features help?")
    doc = pick(FEATURE_STUDY, "Feature study", "feature-study")
    if doc is None:
        st.info("No feature study yet: `python -m gtzan_core features-study --csv features_30_sec.csv` runs one.")
        return
    st.caption(plain_text(f"{doc['title']}: {doc['source']['description']}. Test accuracy (validation beside it), "
                          f"mean ± sd over seeds {', '.join(map(str, doc['seeds']))}; hyperparameters fixed in "
                          "advance, nothing tuned; features standardised on the training part only."))
    for protocol in doc.get("protocols", []):
        rows = [r for r in doc["rows"] if r["protocol"] == protocol]
        if not rows:
            continue
        st.subheader(plain_text(f"{protocol} split · train/val/test {rows[0]['n_train']}/{rows[0]['n_val']}/"
                                f"{rows[0]['n_test']} tracks"))
        st.dataframe(plain_frame(display_table(rows).drop(columns="protocol")), hide_index=True, placeholder="—",
                     key=f"fs-{doc['origin']}-{doc['file']}-{protocol}")
    st.caption("Beside: " + "; ".join(f"{a['what']}: {100 * a['accuracy']:.1f} % ({a['source']})" for a in anchors())
               + ". Published figures, not measured here.")


if not repros:
    st.info("No reproduction yet. On the **Train** page, open *Reproduce the paper* and press the button: it queues "
            "the seven models under the paper's protocol and recipe, beside the same seven trained honestly.")
    st.page_link("pages/train.py", label="Go to Train", icon="🏋️")
    measured_section()
    transfer_section()
    st.stop()

ids = [r["id"] for r in repros]
wanted = st.session_state.get("reproduction_id")
chosen = st.selectbox("Reproduction", ids, index=ids.index(wanted) if wanted in ids else 0,
                      format_func=lambda i: plain_text(next(f"{r['id']} · {r['dataset']} · {r['finished']}/"
                                                            f"{r['runs']} runs done" for r in repros if r["id"] == i)))


def progress(reproduction_id: str, done_before: int, active: bool):
    """Progress, live (every 2 s) only while runs are queued or running; the page reruns as a
    whole when another run has ended."""

    @st.fragment(run_every=2.0 if active else None)
    def panel():
        info = next(r for r in list_reproductions(runs_store) if r["id"] == reproduction_id)
        if info["finished"] + info["failed"] != done_before or bool(info["active"]) != active:
            st.rerun()
        show_progress(info)

    panel()


def show_progress(info: dict):
    if info["active"]:
        st.progress(info["finished"] / max(info["runs"], 1),
                    text=f"{info['finished']} of {info['runs']} runs done, {info['active']} queued or running"
                         + (f", {info['failed']} failed" if info["failed"] else ""))
    elif info["failed"]:
        st.warning(f"{info['failed']} of {info['runs']} runs failed; see the Train page for their errors.")


def view(reproduction_id: str):
    records = reproduction_records(runs_store, reproduction_id)
    info = next(r for r in repros if r["id"] == reproduction_id)
    progress(reproduction_id, info["finished"] + info["failed"], bool(info["active"]))
    if info["dataset"] != "GTZAN":
        st.warning("**Synthetic demo set, not GTZAN.** These runs show the pipeline and the size of the leak; their "
                   "accuracies say nothing about the paper's numbers on real music.")
    comparison = comparison_table(records)
    if comparison.empty or comparison["ours_paper_accuracy"].isna().all() and \
            comparison["ours_honest_accuracy"].isna().all():
        st.info("No run of this reproduction has finished yet.")
        return
    st.caption("Ours at the paper's unit (segments for MFCC models, images = tracks for image models). **Paper "
               "protocol**: MFCC models on a leaky 70:30 segment split, image models on an 80:20 image split (seed "
               "42), both early-stopped on the test set. **Leak inflation** = paper protocol − honest.")
    st.dataframe(plain_frame(comparison_display(comparison)), hide_index=True, key=f"cmp-{reproduction_id}",
                 placeholder="—")
    st.plotly_chart(reproduction_figure(comparison), width="stretch", key=f"bars-{reproduction_id}")
    with st.expander("Every model and protocol"):
        table = protocol_table(records)[list(PROTOCOL_COLUMNS)].rename(columns=PROTOCOL_COLUMNS)
        st.table(md_frame(strings(table, {"seeds done": "{:.0f}"})), hide_index=True, border="horizontal")
    st.subheader("Per-class F1 beside the paper's Tables 1–7")
    st.caption("The image models' tables map to genres. The MFCC models' tables do not (their rows follow the "
               "os.walk order of the author's folders): they are shown as class 0–9 beside ours.")
    model = st.selectbox("Model", list(comparison["model"]), key=f"pc-{reproduction_id}", format_func=plain_text)
    ours, paper = per_class_f1(records, model)
    left, right = st.columns([3, 2])
    left.plotly_chart(per_class_f1_figure(ours, paper, f"{model}: per-class F1"), width="stretch",
                      key=f"pcf-{reproduction_id}-{model}")
    if not paper.empty and list(paper.index) == list(ours.index):
        right.table(md_frame(strings(ours.join(paper))), border="horizontal")
    else:
        right.table(md_frame(strings(pd.concat({"ours (genres)": ours.reset_index(names="genre"),
                                                "paper (classes, order unknown)": paper.reset_index(names="class")},
                                               axis=1))), hide_index=True, border="horizontal")
    st.download_button("Download the report (HTML)", report_html(records, reproduction_id),
                       file_name=f"{reproduction_id}.html", mime="text/html", key=f"dl-{reproduction_id}")


view(chosen)
transfer_section()
measured_section()
