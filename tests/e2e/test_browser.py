"""End to end in a real browser: `streamlit run app.py` on a free localhost port,
driven by Playwright with Debian's Chromium. Screenshots go to test-artifacts/."""

import time
import warnings

import pytest

from gtzan_core.hparams import make_config
from gtzan_core.jobs import train
from gtzan_core.runs import RunStore
from tests.helpers import CHROMIUM, ROOT, headless_chromium, streamlit_server, write_clip

#: Predict's answer, drawn once: the ensemble of several models, or the one model's top genre (the job the test
#: started on Train may still be running when it predicts)
ARTIFACTS = ROOT / "test-artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def server(tiny_features, tmp_path_factory):
    """One server with a trained CNN for this module's tests (a studio home of its own)."""
    home = tmp_path_factory.mktemp("browser-home")
    train(make_config("cnn", epochs=2, device="cpu"), tiny_features, RunStore(home / "runs"))
    with streamlit_server(GTZAN_STUDIO_HOME=str(home), GTZAN_STUDIO_RUNS=str(home / "runs"), GTZAN_STUDIO_OFFLINE="1",
                          TORCH_HOME=str(home / "torch-home")) as url:
        yield url


def test_upload_on_predict_shows_probabilities(server, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    clip = write_clip(tmp_path / "upload test.mp3", "disco", seconds=30.0)
    with headless_chromium("--disable-quic", "--disable-component-update", "--disable-sync") as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        t0 = time.perf_counter()
        page.goto(server)
        page.get_by_text("Device", exact=True).wait_for(timeout=60_000)  # the last column of Home
        first_render = time.perf_counter() - t0
        page.screenshot(path=str(ARTIFACTS / "home.png"), full_page=True)

        # Train: start a job, leave the page, come back: the job ran on and its chart is there
        page.goto(f"{server}/train")
        page.get_by_text("Train even if the split is too small for some genre").click()  # 4 tracks a genre
        page.get_by_role("button", name="Start training").click()
        page.get_by_text("Jobs", exact=True).wait_for(timeout=30_000)
        page.goto(f"{server}/leaderboard")
        page.get_by_text("Compare selected").wait_for(timeout=30_000)
        page.goto(f"{server}/train")
        page.get_by_text("test accuracy (track)").first.wait_for(timeout=120_000)
        page.locator(".js-plotly-plot").first.wait_for(state="visible", timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "train.png"), full_page=True)

        page.goto(f"{server}/predict")
        page.locator("input[type=file]").wait_for(state="attached", timeout=60_000)
        t0 = time.perf_counter()
        page.locator("input[type=file]").set_input_files(str(clip))
        page.get_by_text("Genre probabilities").wait_for(timeout=120_000)
        # probabilities, timeline and the waveform (the open tab of the clip's views)
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 3", timeout=60_000)
        page.locator(".js-plotly-plot").last.wait_for(state="visible", timeout=60_000)
        latency = time.perf_counter() - t0
        # the other views are drawn when their tab is opened (a rerun that keeps the prediction)
        assert page.locator(".js-plotly-plot .heatmaplayer").count() == 0
        page.get_by_role("tab", name="MFCC").click()
        page.locator(".js-plotly-plot .heatmaplayer").first.wait_for(state="attached", timeout=60_000)
        assert page.get_by_text("Trained on the synthetic demo set").count() == 1  # its only run: shown apart
        page.get_by_role("tab", name="Waveform").click()
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot .heatmaplayer').length === 0",
                               timeout=60_000)
        page.wait_for_timeout(1000)
        page.screenshot(path=str(ARTIFACTS / "predict.png"), full_page=True)
        assert page.get_by_text("Default answer", exact=True).count() == 1
    (ARTIFACTS / "browser-timings.txt").write_text(
        f"first render of home: {first_render:.2f} s\nupload -> probabilities (30 s mp3): {latency:.2f} s\n")


def test_reproduction_report_opens_in_the_browser(tmp_path, tiny_features_for, tiny_demo_set):
    """The HTML report of a real (tiny, 1-epoch) reproduction opens offline with its charts drawn."""
    from gtzan_core.reproduction import plan_reproduction, run_reproduction, write_report

    plan = plan_reproduction(epochs=1, device="cpu", models=["mlp", "cnn", "squeezenet"])
    records = run_reproduction(plan, tiny_demo_set, RunStore(tmp_path / "runs"))
    report = write_report(tmp_path / "report.html", records, plan.id)
    ARTIFACTS.mkdir(exist_ok=True)
    with headless_chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 1600})
        page.route("http*://**", lambda route: route.abort())  # self-contained: nothing may be fetched
        page.goto(report.as_uri())
        page.get_by_text("Reproducing the paper's table").wait_for(timeout=30_000)
        # the grouped bars + one per-class chart per model, drawn by the embedded plotly.js
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 4", timeout=60_000)
        header = page.locator("table").first.locator("th").all_inner_texts()
        assert "ours · paper protocol acc" in header and "leak inflation" in header
        assert page.locator("table").first.locator("tbody tr").count() == 3  # one row per model
        page.screenshot(path=str(ARTIFACTS / "reproduction-report.png"), full_page=True)


def test_microphone_recording_and_explanation(server, tmp_path):
    """Chromium's fake capture device plays a wav into the microphone; the recording
    goes through the upload pipeline to probabilities, then a model's choice is explained."""
    fake = write_clip(tmp_path / "hum.wav", "jazz", seconds=10.0, subtype="PCM_16")
    ARTIFACTS.mkdir(exist_ok=True)
    with headless_chromium("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                           f"--use-file-for-fake-audio-capture={fake}") as browser:
        context = browser.new_context(viewport={"width": 1400, "height": 2200})
        context.grant_permissions(["microphone"], origin=server)
        page = context.new_page()
        page.goto(f"{server}/predict")
        page.get_by_text("Record with the microphone").click()
        action = page.get_by_test_id("stAudioInputActionButton")
        action.wait_for(timeout=60_000)
        page.get_by_role("button", name="Record").click()
        page.wait_for_timeout(6_500)  # more than two 3 s segments of the fake device's audio
        action.click()  # stop
        page.get_by_text("Genre probabilities").wait_for(timeout=120_000)
        assert page.get_by_text("too short").count() == 0 and page.get_by_text("silent").count() == 0
        page.screenshot(path=str(ARTIFACTS / "microphone.png"), full_page=True)

        page.locator('[data-test-script-state="notRunning"]').wait_for(state="attached", timeout=60_000)
        page.get_by_text("Why? Explain a model's choice").click()
        page.get_by_role("button", name="Explain").click()
        try:
            page.get_by_text("to compute").first.wait_for(timeout=60_000)
        except Exception:
            # Seen twice in CI, never here in 10 tries under load: the click changed nothing, no spinner,
            # no result (the page's own logic runs its callback and its return value when a click arrives,
            # checked with prints). A visitor would click again; so does the test, once, and says so.
            page.screenshot(path=str(ARTIFACTS / "explanation-missing.png"), full_page=True)
            warnings.warn("the first Explain click had no visible effect within 60 s; clicked again "
                          "(screenshot: test-artifacts/explanation-missing.png)")
            page.get_by_role("button", name="Explain").click()
            page.get_by_text("to compute").first.wait_for(timeout=120_000)
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 4", timeout=60_000)
        page.wait_for_timeout(1500)
        panel = page.get_by_test_id("stExpander").last  # the app scrolls inside its main block: shoot the panel
        panel.scroll_into_view_if_needed()
        panel.screenshot(path=str(ARTIFACTS / "explanation.png"))


def sign_in_with_passcode(page, passcode: str, button: str) -> None:
    """The sidebar's name sign-in: the name came from ?who=; type the passcode and press Enter
    (a form: Enter submits it, as the ``button`` labelled so would)."""
    side = page.locator("[data-testid=stSidebar]")
    side.get_by_role("button", name=button).wait_for(timeout=120_000)
    field = side.locator("input[type=password]").first
    field.fill(passcode)
    field.press("Enter")


def developer_options(page) -> dict:
    """What of Streamlit's developer options the page shows: its Deploy button, and the items
    of its main menu (opened and closed again)."""
    page.get_by_test_id("stMainMenu").wait_for(timeout=60_000)
    deploy = page.get_by_test_id("stAppDeployButton").count()
    page.get_by_test_id("stMainMenu").click()
    page.get_by_test_id("stMainMenuList").wait_for(timeout=10_000)
    items = page.get_by_test_id("stMainMenuItemLabel").all_inner_texts()
    page.keyboard.press("Escape")
    return {"deploy": deploy, "menu": items}


def test_a_classroom_shows_no_developer_options_and_enter_signs_in(studio_home):
    """A classroom instance showed every visitor Streamlit's Deploy button and developer menu,
    and Enter in the passcode field did nothing until the button was clicked. The server is
    started as the README says (`streamlit run app.py`, the mode in the environment), not by
    deploy/start.sh (which sets the toolbar mode itself: tests/project/test_deploy.py)."""
    with streamlit_server(GTZAN_STUDIO_MODE="classroom", GTZAN_STUDIO_OFFLINE="1") as url, \
            headless_chromium() as browser:
        carol = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        carol.goto(f"{url}/predict?who=carol")
        sign_in_with_passcode(carol, "carol-passcode", "Claim name")  # Enter only: no click
        carol.get_by_text("Signed in as carol").wait_for(timeout=60_000)
        seen = developer_options(carol)
        assert seen["deploy"] == 0 and seen["menu"], seen
        assert not {"Rerun", "Clear cache", "Developer options"} & set(seen["menu"]), seen
        other = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        other.goto(f"{url}/train")  # another visitor's first page, as drawn
        other.locator("[data-testid=stSidebar]").get_by_role("textbox", name="Your name").wait_for(timeout=120_000)
        assert developer_options(other)["deploy"] == 0


def test_personal_mode_keeps_the_developers_options_on_localhost(server):
    """The other side of the classroom's toolbar: a personal studio opened on the machine that
    serves it keeps Streamlit's developer options (its default, toolbarMode "auto")."""
    with headless_chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(server)
        page.get_by_text("Device", exact=True).wait_for(timeout=60_000)
        seen = developer_options(page)
        assert seen["deploy"] == 1 and "Clear cache" in seen["menu"], seen


def test_classroom_names_are_claimed_and_only_the_owner_or_admin_stops_a_job(studio_home, tmp_path):
    """alice claims her name and starts a job; bob, in another browser at ?who=alice, cannot stop it
    without her passcode and hits the limit guessing it; the admin can stop it."""
    ARTIFACTS.mkdir(exist_ok=True)
    # the job runs until it is stopped: it is held in its feature step (tests/helpers/seen_server.py), however fast
    # the machine, so the test never races its end
    with streamlit_server(fake_jobs=tmp_path / "hold", GTZAN_STUDIO_MODE="classroom",
                          GTZAN_STUDIO_ADMIN_PASSWORD="s3cret") as url, headless_chromium() as browser:
        alice = browser.new_context(viewport={"width": 1400, "height": 1400}).new_page()
        alice.goto(f"{url}/train?who=alice")
        sign_in_with_passcode(alice, "alice-passcode", "Claim name")
        alice.get_by_text("Signed in as alice").wait_for(timeout=120_000)
        # 4 tracks a genre leave 1 per genre for testing: a weak split, run anyway
        alice.get_by_text("Train even if the split is too small for some genre").click(timeout=120_000)
        alice.get_by_role("button", name="Start training").click(timeout=120_000)
        # a job's Stop button, in the page itself: Streamlit's header shows a "Stop" of its own while a run is going
        job_stop = "[data-testid=stMain] [data-testid=stBaseButton-secondary]"
        alice.locator(job_stop, has_text="Stop").wait_for(timeout=120_000)  # her own job: she may stop it

        bob = browser.new_context(viewport={"width": 1400, "height": 1400}).new_page()  # another browser
        bob.goto(f"{url}/train?who=alice")  # ?who= only fills in the name
        bob.get_by_text("by alice").first.wait_for(timeout=60_000)
        bob.wait_for_timeout(1500)  # a few refreshes of the jobs panel
        assert bob.get_by_text("Signed in as alice").count() == 0
        assert bob.locator(job_stop, has_text="Stop").count() == 0
        for k in range(1, 6):  # each try waits for its own answer (the count), not the last one's
            sign_in_with_passcode(bob, f"guess-{k}", "Sign in")
            bob.get_by_text(f"wrong passcode for 'alice' (wrong try {k};").wait_for(timeout=30_000)
        sign_in_with_passcode(bob, "alice-passcode", "Sign in")  # even the right one waits now
        bob.get_by_text("too many wrong passcodes: try again in").wait_for(timeout=30_000)
        assert bob.get_by_text("Signed in as alice").count() == 0
        assert bob.locator(job_stop, has_text="Stop").count() == 0
        bob.screenshot(path=str(ARTIFACTS / "classroom-other-visitor.png"), full_page=True)

        admin = browser.new_context(viewport={"width": 1400, "height": 1400}).new_page()
        admin.goto(f"{url}/train")
        admin.locator("[data-testid=stSidebar]").get_by_text("Admin").click()
        admin.get_by_label("Admin password").fill("s3cret")
        admin.get_by_label("Admin password").press("Enter")
        admin.get_by_role("button", name="Sign in as admin").click()
        admin.get_by_text("signed in as admin").wait_for(timeout=30_000)
        admin.locator(job_stop, has_text="Stop").first.click(timeout=60_000)
        admin.get_by_text("stopped by hand").first.wait_for(timeout=60_000)
        # alice's live panel notices that the job ended and redraws her page with it as cancelled
        alice.get_by_text("stopped by hand").first.wait_for(timeout=30_000)


def test_the_search_panel_draws_a_studys_charts(tmp_path, tiny_features):
    """A study that ended (three trials of the MLP on the tiny demo set), opened in the Train
    page's Search panel: the optimisation history's points and the importances' bars are
    read back from the charts the browser drew."""
    from gtzan_core.jobs import JobManager
    from gtzan_core.search.study import SearchRequest, run_search

    home = tmp_path / "home"
    store = RunStore(home / "runs")
    manager = JobManager(store, feature_loader=lambda ds, progress=None: tiny_features, slots=1)
    try:
        space = {"lr": {"type": "loguniform", "low": 1e-4, "high": 1e-2}, "epochs": {"type": "int", "low": 2,
                                                                                    "high": 3}}
        summary = run_search(SearchRequest("mlp", "drawn", trials=3, space=space), store, manager,
                             feature_loader=lambda ds: tiny_features)
    finally:
        manager.shutdown()
    complete = [t for t in summary["trials"] if t["state"] == "complete"]
    with streamlit_server(GTZAN_STUDIO_HOME=str(home), GTZAN_STUDIO_RUNS=str(home / "runs"),
                          GTZAN_STUDIO_OFFLINE="1") as url, \
            headless_chromium("--disable-quic", "--disable-component-update", "--disable-sync") as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 2400})
        page.goto(f"{url}/train")
        page.get_by_text("Search hyperparameters", exact=False).first.click()
        page.get_by_text("Optimisation history", exact=True).wait_for(timeout=60_000)
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length > 0", timeout=60_000)
        traces = page.evaluate("Array.from(document.querySelectorAll('.js-plotly-plot'))"
                               ".map(d => (d.data || []).map(t => ({type: t.type, name: t.name || '',"
                               " n: (t.y || []).length})))")
        page.screenshot(path=str(ARTIFACTS / "search-panel.png"), full_page=True)
        history = [t for plot in traces for t in plot if t["name"] == "validation accuracy"]  # Optuna's trace
        assert history and history[0]["n"] == len(complete)  # one point per finished trial
        page.get_by_role("tab", name="Parameter importances").click()
        values = {t["value"] for t in complete}
        if len(values) > 1:  # importances need finished trials that differ: then they are drawn, one bar a setting
            page.wait_for_function("Array.from(document.querySelectorAll('.js-plotly-plot'))"
                                   ".some(d => (d.data || []).some(t => t.type === 'bar'))", timeout=60_000)
            bars = page.evaluate("Array.from(document.querySelectorAll('.js-plotly-plot')).flatMap(d => (d.data || [])"
                                 ".filter(t => t.type === 'bar').flatMap(t => Array.from(t.y)))")
            assert set(bars) == {"lr", "epochs"}
        else:
            page.get_by_text("Needs two finished trials with different results.").wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "search-panel.png"), full_page=True)
