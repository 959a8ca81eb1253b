"""Every page under streamlit's AppTest, on a fresh studio home (tiny demo set)."""


import pytest
from streamlit.testing.v1 import AppTest

from gtzan_core.hparams import make_config
from gtzan_core.jobs import train
from gtzan_core.runs import RunStore
from tests.helpers import ROOT, ended, wait_until, write_clip


@pytest.fixture(autouse=True)
def tiny_demo(monkeypatch):
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_PER_GENRE", "4")
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_SECONDS", "6.2")
    monkeypatch.chdir(ROOT)


def page(name: str) -> AppTest:
    """The app, opened on one page (through st.navigation, as a user gets it)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page(f"pages/{name}.py")
    return at


def no_errors(at: AppTest):
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture
def two_runs(tiny_features):
    store = RunStore()
    ids = [train(make_config(m, epochs=2, device="cpu"), tiny_features, store)["run_id"] for m in ("cnn", "mlp")]
    return store, ids


def test_app_entry_point_renders_home():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    no_errors(at)
    assert any("GTZAN Genre Studio" in t.value for t in at.title)


def test_home_shows_synthetic_demo_and_refuses_bad_paths(tmp_path, monkeypatch):
    from gtzan_core.data.synth import demo_ready

    assert not demo_ready()  # a fresh home: the first visit generates it
    at = no_errors(page("home").run())
    assert demo_ready()
    assert any("synthetic demo" in i.value for i in at.info)
    monkeypatch.setenv("GTZAN_STUDIO_DATA_ROOTS", str(tmp_path))
    at.radio[0].set_value("A GTZAN folder on this machine").run()
    at.text_input[0].set_value("/etc").run()
    at.button[0].click().run()
    assert any("outside the folders this app may read" in e.value for e in at.error)
    at.text_input[0].set_value(str(tmp_path / "missing")).run()
    at.button[0].click().run()
    assert any("no such folder" in e.value for e in at.error)
    no_errors(at)


def test_empty_states():
    for name in ("compare", "leaderboard", "predict"):
        at = no_errors(page(name).run())
        assert any("No" in i.value for i in at.info), name


@pytest.mark.heavy
def test_train_page_runs_a_job_and_shows_chart_and_metrics():
    at = no_errors(page("train").run())
    at.multiselect[0].set_value(["mlp"]).run()  # the form now holds MLP's hyperparameters
    at.number_input(key="ep-mlp-paper").set_value(3)
    at.button[0].click().run()  # the form's submit button
    no_errors(at)  # the tiny demo set's split cannot say anything: refused before queueing, genres named
    assert any("fewer than 3 tracks of blues" in e.value for e in at.error) and not RunStore().list()
    at.checkbox[0].check()  # "train even if the split is too small"
    at.button[0].click().run()
    no_errors(at)
    assert any("Weak split: MLP" in w.value for w in at.warning)
    store = RunStore()
    wait_until(ended(store, store.list()[0]["run_id"]), timeout=90, what="the job to end")
    record = store.list()[0]
    assert record["status"] == "finished" and record["epochs_run"] == 3
    at.run()
    no_errors(at)
    assert at.get("plotly_chart"), "loss chart missing"
    assert any(m.label == "test accuracy (track)" for m in at.metric)


def test_train_shows_the_hyperparameters_of_the_chosen_models_only():
    """The form held nine expanders (every model the studio knows) whatever was chosen."""
    at = no_errors(page("train").run())

    def shown():
        return [e.label for e in at.main.expander if e.label.endswith("recipe)")]

    assert at.multiselect(key="train-models").value == ["cnn"] and shown() == ["CNN hyperparameters (paper recipe)"]
    at.multiselect(key="train-models").set_value(["mlp", "efficientnet_lite0"]).run()
    assert shown() == ["MLP hyperparameters (paper recipe)", "EfficientNet-Lite0 hyperparameters (paper recipe)"]
    assert at.toggle(key="pt-efficientnet_lite0-paper").value is True  # a backbone model's own choices
    assert not [n for n in at.number_input if n.key == "ep-cnn-paper"]
    at.multiselect(key="train-models").set_value([]).run()
    no_errors(at)
    assert shown() == [] and any("their hyperparameters appear here" in c.value for c in at.caption)
    next(b for b in at.button if b.label == "Start training").click().run()
    assert any("Pick at least one model" in e.value for e in at.error) and not RunStore().list()


def test_compare_and_leaderboard_with_runs(two_runs):
    store, ids = two_runs
    at = no_errors(page("compare").run())
    assert len(at.get("plotly_chart")) == 2  # two confusion matrices
    assert at.multiselect[0].value == ids[:2] or set(at.multiselect[0].value) == set(ids)
    at.radio[0].set_value("segment").run()
    no_errors(at)
    at = no_errors(page("leaderboard").run())
    assert ids[0] in at.dataframe[0].value["run"].tolist()


@pytest.mark.heavy
def test_predict_page_with_an_uploaded_file(two_runs, tmp_path):
    store, ids = two_runs
    clip = write_clip(tmp_path / "song.mp3", "metal", seconds=8.0)
    at = no_errors(page("predict").run())
    at.file_uploader[0].set_value(("song.mp3", clip.read_bytes(), "audio/mpeg")).run()
    no_errors(at)
    assert any(s.value == "Genre probabilities" for s in at.subheader)
    assert any("Default answer" in m.label for m in at.metric)  # none: these runs learned from the demo set
    assert any("Trained on the synthetic demo set" in m.value for m in at.markdown)
    # probabilities, timeline and the open clip view only: the other views are drawn when their tab opens
    charts = at.get("plotly_chart")
    assert len(charts) == 3
    assert '"type":"scatter"' in charts[-1].proto.spec.replace(" ", "")  # the waveform
    for view, trace in (("MFCC", "heatmap"), ("Mel spectrogram", "heatmap")):
        at.session_state["clip-view"] = view
        at.run()
        no_errors(at)
        charts = at.get("plotly_chart")
        assert len(charts) == 3, view
        assert f'"type":"{trace}"' in charts[-1].proto.spec.replace(" ", ""), view


def test_predict_page_refuses_a_non_audio_upload(two_runs):
    at = no_errors(page("predict").run())
    at.file_uploader[0].set_value(("notes.wav", b"just some text", "audio/wav")).run()
    no_errors(at)
    assert any("notes.wav: not a readable audio file" in e.value for e in at.error)


def test_typed_paths_cannot_escape_the_allowed_roots(tmp_path, monkeypatch):
    from gtzan_core.errors import DatasetError
    from gtzan_core.webapp import check_user_path

    allowed = tmp_path / "allowed"
    (allowed / "gtzan").mkdir(parents=True)
    (allowed / "sneaky").symlink_to("/etc")
    monkeypatch.setenv("GTZAN_STUDIO_DATA_ROOTS", str(allowed))
    assert check_user_path(str(allowed / "gtzan")) == (allowed / "gtzan").resolve()
    for bad in ("/etc", str(allowed / ".." / "elsewhere"), str(allowed / "sneaky"), "~root", "", "a\x00b"):
        with pytest.raises(DatasetError):
            check_user_path(bad)


@pytest.mark.heavy
def test_stop_button_stops_a_running_job(tiny_features):
    from gtzan_core.webapp import job_manager

    manager = job_manager()
    manager._feature_loader = lambda ds, progress=None: tiny_features
    rid = manager.submit(make_config("cnn", epochs=500, patience=500, device="cpu"))
    store = RunStore()
    wait_until(lambda: store.read(rid).get("history"), timeout=60, what="the job's first epoch")
    at = no_errors(page("train").run())
    at.button(key=f"stop-{rid}").click().run()
    no_errors(at)
    assert manager.wait_idle(60)
    rec = store.read(rid)
    assert rec["status"] == "cancelled" and rec["epochs_run"] >= 1 and store.checkpoint_path(rid).is_file()


def test_leaderboard_row_selection_opens_compare(two_runs):
    store, ids = two_runs
    at = no_errors(page("leaderboard").run())
    board = at.dataframe[0].value
    rows = [int(board.index[board["run"] == rid][0]) for rid in ids]
    at.session_state["board"] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    at.run()
    button = next(b for b in at.button if b.label == "Compare selected")
    assert not button.disabled
    button.click().run()
    no_errors(at)
    assert set(at.session_state["compare_ids"]) == set(ids)
    assert any("Compare runs" in t.value for t in at.title)


def test_home_downloads_gtzan_in_the_background(tmp_path, monkeypatch):
    """The Home page's downloader against a local server serving a tarball the test builds."""
    import http.server
    import tarfile
    import threading
    from functools import partial

    from tests.helpers import make_gtzan

    served = tmp_path / "www"
    served.mkdir()
    src = make_gtzan(tmp_path / "src", "original", per_genre=1, seconds=3.2, genres=("blues", "rock"))
    with tarfile.open(served / "genres.tar.gz", "w:gz") as tf:
        tf.add(src / "genres", arcname="genres")
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    monkeypatch.setenv("GTZAN_STUDIO_DATA_ROOTS", str(tmp_path))
    try:
        at = no_errors(page("home").run())
        at.radio[0].set_value("A GTZAN folder on this machine").run()
        at.text_input[1].set_value(f"http://127.0.0.1:{httpd.server_address[1]}/genres.tar.gz")
        at.text_input[2].set_value(str(tmp_path / "gtzan"))
        next(b for b in at.button if b.label == "Download").click().run()
        from gtzan_core.webapp import download_job

        download_job().join(60)
        at.run()
        no_errors(at)
        assert any("Downloaded 2 tracks" in s.value for s in at.success), [s.value for s in at.success]
        # a target outside the allowed roots is refused
        at.text_input[2].set_value("/usr/share/gtzan")
        next(b for b in at.button if b.label == "Download").click().run()
        assert any("outside the folders this app may read" in e.value for e in at.error)
    finally:
        httpd.shutdown()


def test_train_form_defaults_are_the_paper_recipe():
    at = no_errors(page("train").run())
    recipe = next(r for r in at.radio if r.label.startswith("Recipe"))  # (the dataset choice's radio comes first)
    assert recipe.value == "paper"
    at.multiselect(key="train-models").set_value(["mlp", "gru", "vgg19", "cnn"]).run()  # their hyperparameters
    assert at.number_input(key="ep-mlp-paper").value == 500 and at.number_input(key="pa-gru-paper").value == 10
    assert at.number_input(key="bs-vgg19-paper").value == 50
    assert at.number_input(key="lr-cnn-paper").value == pytest.approx(1e-4)
    recipe.set_value("studio").run()
    no_errors(at)
    assert at.number_input(key="lr-cnn-studio").value == pytest.approx(1e-3)


@pytest.mark.heavy
def test_reproduce_button_queues_the_papers_table():
    from gtzan_core.webapp import job_manager

    manager = job_manager()
    at = no_errors(page("train").run())
    at.number_input(key="repro-epochs").set_value(1)
    at.button(key="reproduce").click().run()
    no_errors(at)  # 4 tracks a genre: every protocol skipped, saying why, nothing queued
    assert any("every run was skipped" in e.value for e in at.error)
    assert any("skipped paper protocol for" in w.value for w in at.warning) and not RunStore().list()
    at.checkbox(key="repro-weak").check()
    at.button(key="reproduce").click().run()
    no_errors(at)
    rid = at.session_state["reproduction_id"]
    runs = [r for r in RunStore().list() if (r.get("reproduction") or {}).get("id") == rid]
    for r in runs:  # queued jobs are not what this test is about: stop them
        manager.cancel(r["run_id"])
    assert manager.wait_idle(120)
    assert len(runs) == 14 and {r["protocol"] for r in runs} == {"paper", "track"}
    assert {r["model"] for r in runs} == {"mlp", "cnn", "lstm", "gru", "vgg19", "resnext", "squeezenet"}
    assert all(r["recipe"] == "paper" and r["config"]["epochs"] == 1 for r in runs)
    assert any("Queued 14 runs" in s.value for s in at.success)


@pytest.mark.heavy
def test_reproduction_view_shows_table_chart_per_class_and_report(tiny_features_for, tiny_demo_set):
    from gtzan_core.reproduction import plan_reproduction, run_reproduction

    plan = plan_reproduction(epochs=1, device="cpu", models=["mlp", "squeezenet"])
    records = run_reproduction(plan, tiny_demo_set, RunStore())
    assert [r["status"] for r in records] == ["finished"] * 4
    at = no_errors(page("reproduction").run())
    assert any("Synthetic demo set, not GTZAN" in w.value for w in at.warning)
    table = at.dataframe[0].value
    assert list(table["model"]) == ["mlp", "squeezenet"] and "leak inflation" in table.columns
    assert table.loc[0, "paper acc"] == "0.650"
    assert len(at.get("plotly_chart")) == 2  # grouped bars + per-class F1
    at.selectbox(key=f"pc-{plan.id}").set_value("squeezenet").run()
    no_errors(at)
    assert len(at.get("download_button")) == 1


def _wav_bytes(seconds: float, genre: str = "metal", silent: bool = False) -> bytes:
    import io

    import numpy as np
    import soundfile as sf

    from gtzan_core.data.synth import synth_track

    y = np.zeros(int(seconds * 22050), np.float32) if silent else synth_track(genre, seconds, seed=4)
    buf = io.BytesIO()
    sf.write(buf, y, 22050, format="WAV")
    return buf.getvalue()


def test_microphone_recording_goes_through_the_upload_pipeline(two_runs):
    at = no_errors(page("predict").run())
    at.radio[0].set_value("Record with the microphone").run()
    at.audio_input(key="mic").set_value(("recording.wav", _wav_bytes(8.0), "audio/wav")).run()
    no_errors(at)
    assert any(s.value == "Genre probabilities" for s in at.subheader)
    assert any("Default answer" in m.label for m in at.metric)
    # the same errors as an upload: too short, silent
    at.audio_input(key="mic").set_value(("recording.wav", _wav_bytes(1.0), "audio/wav")).run()
    assert any("clip is 1.0 s long" in e.value for e in at.error), [e.value for e in at.error]
    at.audio_input(key="mic").set_value(("recording.wav", _wav_bytes(4.0, silent=True), "audio/wav")).run()
    assert any("silent" in w.value for w in at.warning)
    no_errors(at)


@pytest.mark.heavy
def test_explanations_drawn_for_an_mfcc_and_an_image_model(two_runs, tiny_features_for, tmp_path):
    store, ids = two_runs  # cnn, mlp
    sq = train(make_config("squeezenet", epochs=1, device="cpu"), tiny_features_for("squeezenet"), store)["run_id"]
    clip = write_clip(tmp_path / "song.wav", "metal", seconds=8.0)
    at = no_errors(page("predict").run())
    at.file_uploader[0].set_value(("song.wav", clip.read_bytes(), "audio/wav")).run()
    for rid, n_maps in ((ids[0], 3), (sq, 3), (ids[1], 2)):  # cnn, squeezenet (both conv), mlp (no Grad-CAM)
        at.selectbox(key="ex-run").set_value(rid).run()
        at.button(key="explain").click().run()
        no_errors(at)
        drawn = [m.value for m in at.markdown if m.value.startswith("**occlusion**") or
                 m.value.startswith("**gradcam**") or m.value.startswith("**segments**")]
        assert len(at.get("plotly_chart")) == 3 + n_maps  # the page's three charts + one per method
        assert len(drawn) == n_maps, (rid, drawn)
    # the MLP is not offered Grad-CAM at all (rather than offered it and told it needs a conv model)
    assert next(m for m in at.multiselect if m.label == "Methods").options == ["occlusion", "segments"]
    assert not any("Grad-CAM needs a convolutional model" in i.value for i in at.info)


def test_export_then_import_in_a_fresh_studio_home(two_runs, tmp_path, monkeypatch):
    import numpy as np

    from gtzan_core.inference import clear_model_cache, predict

    store, ids = two_runs
    at = no_errors(page("leaderboard").run())
    at.selectbox(key="export-run").set_value(ids[0]).run()
    at.button(key="export").click().run()
    no_errors(at)
    name, blob, _ = at.session_state["export-blob"]
    assert name == f"{ids[0]}.zip" and blob[:2] == b"PK"
    assert any(b.label.startswith(f"Download {ids[0]}.zip") for b in at.get("download_button"))

    fresh = tmp_path / "other-machine"  # another studio home: nothing of the first one
    monkeypatch.setenv("GTZAN_STUDIO_HOME", str(fresh))
    monkeypatch.setenv("GTZAN_STUDIO_RUNS", str(fresh / "runs"))
    at = no_errors(page("leaderboard").run())
    assert not at.dataframe or ids[0] not in at.dataframe[0].value["run"].tolist()
    at.file_uploader(key="import-zip").set_value(("from-a-classmate.zip", b"not a zip", "application/zip")).run()
    at.button(key="import").click().run()
    no_errors(at)
    assert [e.value for e in at.error] == ["from-a-classmate.zip: not a zip archive (a GTZAN Studio run is "
                                           "exported as a .zip)"]
    assert not (fresh / "runs").exists() or not any((fresh / "runs").iterdir())
    at.file_uploader(key="import-zip").set_value(("from-a-classmate.zip", blob, "application/zip")).run()
    at.button(key="import").click().run()
    no_errors(at)
    assert any(f"Imported {ids[0]}" in s.value for s in at.success)
    assert ids[0] in at.dataframe[0].value["run"].tolist()
    clip = write_clip(tmp_path / "song.wav", "jazz", seconds=7.0)
    clear_model_cache()
    here = predict(clip, [ids[0]], RunStore(fresh / "runs")).results[ids[0]].probs
    there = predict(clip, [ids[0]], store).results[ids[0]].probs
    np.testing.assert_array_equal(here, there)


def test_train_page_without_ray_installed_says_so_and_holds_jobs(monkeypatch):
    """GTZAN_STUDIO_RAY_ADDRESS set where Ray is missing: the page names the problem and the
    job waits in the queue (never run in the wrong place, never lost)."""
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as on a machine without it
    monkeypatch.setenv("GTZAN_STUDIO_RAY_ADDRESS", "auto")
    at = no_errors_but(page("train").run(), "Ray is not installed")
    at.multiselect[0].set_value(["mlp"])
    at.checkbox[0].check()
    at.button[0].click().run()
    assert not at.exception
    (record,) = RunStore().list()
    assert record["status"] == "queued" and "executor" not in record
    assert any("requirements-cluster.txt" in e.value for e in at.error)


def no_errors_but(at: AppTest, expected: str) -> AppTest:
    assert not at.exception, at.exception
    assert [e.value for e in at.error if expected not in e.value] == []
    assert any(expected in e.value for e in at.error)
    return at
