"""Listening to confusion cells in a real browser (`streamlit run app.py`, Playwright,
Debian's Chromium): a click on a cell of a run's matrix on Compare lists the tracks the
run's kept test predictions put there, each with an audio element that has a source and
a duration; the same for a row of its per-class report and for a cell of an evaluation
on another folder (the report's row chosen in the select box beside the charts). A real
mouse click on a point of the run's map (at the pixel Plotly drew it) plays that track with
its probabilities."""

from __future__ import annotations

import json
import re

import pytest

from gtzan_core import GENRES
from gtzan_core.insight import cells
from gtzan_core.runs import RunStore
from tests.helpers import ARTIFACTS, CHROMIUM, headless_chromium, streamlit_server

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def server(tiny_demo_set, tiny_features, tmp_path_factory):
    """A server whose store holds one MLP run on the tiny demo set, evaluated on another folder."""
    from gtzan_core.external import evaluate_folder
    from gtzan_core.hparams import make_config
    from gtzan_core.jobs import JobSpec, train
    from tests.helpers import labelled_folder

    home = tmp_path_factory.mktemp("listen-home")
    store = RunStore(home / "runs")
    config = make_config("mlp", epochs=1, device="cpu")
    rid = train(config, tiny_features, store, dataset_info=tiny_demo_set.run_info(),
                spec=JobSpec(config, str(tiny_demo_set.root)))["run_id"]
    folder = labelled_folder(home / "elsewhere")
    ev = evaluate_folder([rid], folder, store, label_map={"Hip-Hop": "hiphop"})[rid]
    roots = f"{tiny_demo_set.root.parent}:{home}"
    with streamlit_server(GTZAN_STUDIO_HOME=str(home), GTZAN_STUDIO_RUNS=str(store.root), GTZAN_STUDIO_OFFLINE="1",
                          GTZAN_STUDIO_DATA_ROOTS=roots, TORCH_HOME=str(home / "torch-home")) as url:
        yield url, store, rid, ev.folder


def _click_cell(page, chart: int, true: str, pred: str) -> None:
    """A click on cell (true, pred) of the ``chart``-th Plotly chart, where Plotly draws it."""
    page.locator(".js-plotly-plot").nth(chart).locator(".heatmaplayer").wait_for(state="attached", timeout=60_000)
    x, y = page.evaluate("""([k, t, p]) => {
        const gd = document.querySelectorAll('.js-plotly-plot')[k];
        const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, box = gd.getBoundingClientRect();
        return [box.left + xa._offset + xa.l2p(xa.d2l(p)), box.top + ya._offset + ya.l2p(ya.d2l(t))];
    }""", [chart, true, pred])
    page.mouse.click(x, y)


def _choose(page, label: str, option: str, nth: int = 0) -> None:
    """Choose ``option`` in the ``nth`` select box called ``label`` (what a click on the chart also does)."""
    page.locator("[data-testid=stSelectbox]").filter(has_text=label).nth(nth).click()
    page.get_by_role("option", name=option).click()


def _listed(page) -> list[dict]:
    """Each listed track: its line (the track's name first) and its player's source and duration."""
    page.screenshot(path=str(ARTIFACTS / "listen-last.png"), full_page=True)
    page.wait_for_function("""() => {
        const a = [...document.querySelectorAll('audio')];
        return a.length > 0 && a.every(e => e.src && e.readyState >= 1 && e.duration > 0);
    }""", timeout=60_000)
    return page.evaluate("""() => [...document.querySelectorAll('audio')].map(a => {
        const block = a.closest('[data-testid=stColumn]');
        const line = block ? block.querySelector('[data-testid=stMarkdownContainer] strong') : null;
        return {track: line ? line.innerText : null, src: a.src, duration: a.duration};
    })""")


def _settle(page) -> None:
    page.wait_for_timeout(500)
    page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')", timeout=60_000)


def test_a_click_on_a_cell_lists_its_tracks_each_playable(server):
    url, store, rid, folder = server
    kept = cells.stored(store, rid)
    tracks = kept["tracks"]
    wrong = [t for t in tracks if t["true"] != t["pred"]]
    t = (wrong or tracks)[0]
    true, pred = kept["classes"][t["true"]], kept["classes"][t["pred"]]
    expected = [x.track for x in cells.cell_tracks(kept, true, pred)]
    with headless_chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 2400})
        page.goto(f"{url}/compare")
        page.get_by_text("Listen to a cell or a genre's row").first.wait_for(timeout=120_000)
        _click_cell(page, 0, true, pred)
        _settle(page)
        listed = _listed(page)
        page.screenshot(path=str(ARTIFACTS / "listen-cell.png"), full_page=True)
        assert [x["track"] for x in listed] == expected
        assert all(x["src"] and x["duration"] > 1 for x in listed)
        assert all(not re.search(r"/(tmp|root|home)/", x["src"]) for x in listed)  # Streamlit's media URLs, no path

        # a row of the per-class report: the genre's tracks, and those taken for it
        _choose(page, "Listen to a cell or a genre's row", f"every {true} track, and those taken for {true}")
        _settle(page)
        row = [x.track for x in cells.class_tracks(kept, true)][:12]
        assert [x["track"] for x in _listed(page)] == row

        # a cell of the evaluation on another folder
        clips = cells.stored(store, rid, folder)
        c = clips["tracks"][0]
        ct, cp = clips["classes"][c["true"]], clips["classes"][c["pred"]]
        page.goto(f"{url}/compare")
        page.get_by_text("Listen to a cell or a genre's row").first.wait_for(timeout=120_000)
        _click_cell(page, 1, ct, cp)  # its matrix is the run's second chart
        _settle(page)
        listed = _listed(page)
        assert [x["track"] for x in listed] == [x.track for x in cells.cell_tracks(clips, ct, cp)]
        assert all(x["src"] and x["duration"] > 1 for x in listed)



def _far_point(found: dict) -> dict:
    """The map's track farthest from its nearest neighbour (a click there can pick no other)."""
    import numpy as np

    xy = np.array([[r["x"], r["y"]] for r in found["tracks"]], float)
    xy = (xy - xy.min(0)) / np.maximum(np.ptp(xy, 0), 1e-9)  # as drawn: each axis fills the plot
    d = np.linalg.norm(xy[:, None] - xy[None], axis=-1) + np.eye(len(xy)) * 9
    return found["tracks"][int(d.min(1).argmax())]


def test_a_click_on_a_point_of_the_map_plays_that_track_with_its_probabilities(server, monkeypatch):
    from gtzan_core.insight import embedding_map

    url, store, rid, _ = server
    monkeypatch.setenv("GTZAN_STUDIO_HOME", str(store.root.parent))  # the server's home, where maps are cached
    found = embedding_map.run_map(store, rid)  # drawn once here; the page reads it from the cache
    row = _far_point(found)
    with headless_chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1200})
        page.goto(f"{url}/compare")
        summary = page.locator("[data-testid=stExpander] summary").filter(has_text="Map of how it hears its dataset")
        summary.first.wait_for(timeout=120_000)
        summary.first.click(timeout=120_000)  # open the expander
        page.get_by_text("Click a point to hear it").first.wait_for(timeout=120_000)
        find_map = """() => [...document.querySelectorAll('.js-plotly-plot')].findIndex(  // one trace a genre
            gd => (gd.data || []).some(t => t.type === 'scatter' && GENRES.includes(t.name)))""".replace(
            "GENRES", json.dumps(GENRES))
        page.wait_for_function(f"() => ({find_map})() >= 0", timeout=60_000)
        k = page.evaluate(find_map)
        page.locator(".js-plotly-plot").nth(k).locator("path.point").first.wait_for(state="attached",
                                                                                     timeout=60_000)
        plot = page.locator(".js-plotly-plot").nth(k)
        plot.scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        # where Plotly drew the point, in the page's pixels (its axes' data-to-pixel maps)
        at = page.evaluate("""([k, track]) => {
            const gd = document.querySelectorAll('.js-plotly-plot')[k], full = gd._fullData, L = gd._fullLayout;
            const ids = t => Array.from(t.customdata || []).map(v => Array.isArray(v) ? v[0] : v);
            const c = full.findIndex(t => ids(t).includes(track));
            if (c < 0) return null;
            const i = ids(full[c]).indexOf(track), box = gd.getBoundingClientRect();
            return [box.left + L.xaxis._offset + L.xaxis.d2p(full[c].x[i]),
                    box.top + L.yaxis._offset + L.yaxis.d2p(full[c].y[i])];
        }""", [k, row["track"]])
        assert at is not None, row["track"]
        page.mouse.move(at[0] - 8, at[1] - 8)
        page.mouse.move(at[0], at[1], steps=4)  # Plotly picks the point under the pointer on hover
        page.wait_for_timeout(300)
        page.mouse.click(at[0], at[1])  # a real click, as a visitor's
        _settle(page)
        page.wait_for_function("""() => {
            const a = [...document.querySelectorAll('audio')];
            return a.length === 1 && a[0].src && a[0].readyState >= 1 && a[0].duration > 0;
        }""", timeout=120_000)
        shown = page.evaluate("""() => [...document.querySelectorAll('[data-testid=stMarkdownContainer] strong')]
            .map(e => e.textContent)""")
        assert row["track"] in shown
        audio = page.evaluate("() => { const a = document.querySelector('audio'); return [a.src, a.duration]; }")
        assert audio[0] and audio[1] > 1 and not re.search(r"/(tmp|root|home)/", audio[0])
        bars = page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')].map(gd => gd.data || [])
            .flat().filter(t => t.type === 'bar' && String(t.name).startsWith('this run')).map(t => [...t.y])""")
        assert len(bars) == 1 and bars[0] == pytest.approx(row["probs"], abs=1e-6)  # that track's, no other's
