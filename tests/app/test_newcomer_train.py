"""What a newcomer met on the Train page (issue 40, item 4), read from what the page draws:
Enter in a number field never submits the form; a folder refused for lying outside the
data roots is quoted as typed and the setting named; the field says a feature table is
accepted."""

from __future__ import annotations

import pytest

from gtzan_core.runs import RunStore


def no_errors(at):
    assert not at.exception, [e.value for e in at.exception]
    return at


def plain(text: str) -> str:
    """A drawn message as a person reads it (md_text's escapes and word joiners removed)."""
    return text.replace("\\", "").replace("\u2060", "")


def test_enter_in_a_number_field_of_the_train_form_never_submits_it(demo_app):
    at = no_errors(demo_app("train").run())
    at.multiselect(key="train-models").set_value(["cnn", "mlp"]).run()
    forms = [f for f in at.main.form if f.number_input]
    assert [f.key for f in forms] == ["train"]
    form = forms[0]
    assert {"ep-cnn-paper", "ep-mlp-paper", "lr-cnn-paper"} <= {n.key for n in form.number_input}
    assert form.proto.form.enter_to_submit is False  # the browser submits on Enter when this is True
    form.number_input(key="ep-cnn-paper").set_value(6)
    form.number_input(key="ep-mlp-paper").set_value(6)
    at.run()  # the values are sent (Enter, or leaving the field) without the button
    no_errors(at)
    assert RunStore().list() == []


def test_a_folder_refused_through_a_link_is_quoted_as_typed(demo_app, tmp_path, monkeypatch):
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    (allowed / "gtzan").symlink_to(outside)
    monkeypatch.setenv("GTZAN_STUDIO_DATA_ROOTS", str(allowed))
    at = no_errors(demo_app("train").run())
    next(r for r in at.radio if r.label == "Train on").set_value("another folder").run()
    field = at.text_input(key="train-data-folder")
    assert field.label == "Folder or feature table (.csv)"
    assert field.placeholder.startswith("folder or feature table (.csv)")
    typed = str(allowed / "gtzan")
    field.set_value(typed).run()
    no_errors(at)
    [message] = [plain(e.value) for e in at.error]
    assert message.startswith(f"{typed} (it resolves to {outside.resolve()}): outside the folders this app may read")
    assert "GTZAN_STUDIO_DATA_ROOTS" in message


# -- the search panel's charts and tables --------------------------------------------------------------------------

#: The background of Streamlit's dark theme (.streamlit/config.toml: base = "dark"), under every chart.
DARK = (14, 17, 23)


def luminance(rgb) -> float:
    def channel(c):
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(float(c)) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(colour: str, background=DARK) -> float:
    """WCAG contrast of a plotly colour ("rgb(1, 2, 3)" or "#abc123") on ``background``."""
    from plotly.colors import hex_to_rgb, unlabel_rgb

    rgb = hex_to_rgb(colour) if colour.startswith("#") else unlabel_rgb(colour)
    hi, lo = sorted((luminance(rgb), luminance(background)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.fixture
def three_trials():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=1))
    study.optimize(lambda t: t.suggest_float("lr", 1e-5, 1e-2, log=True) * 50
                   + t.suggest_categorical("batch_size", [16, 32, 64]) / 100, n_trials=3)
    return study


def test_the_searchs_charts_are_readable_on_the_dark_theme(three_trials):
    from gtzan_core.webapp.search import study_figures

    figures = study_figures(three_trials)
    parallel = figures["parallel"]
    assert parallel.layout.plot_bgcolor in ("rgba(0,0,0,0)", None)  # the theme's background, never white
    lines = [t.line.color for t in parallel.data if t.mode == "lines"]
    assert len(lines) == 3 and min(contrast(c) for c in lines) >= 3  # the worst trial too
    assert all(contrast(a.font.color) >= 4.5 for a in parallel.layout.annotations)  # tick labels
    assert parallel.layout.xaxis.tickangle  # the axes' names turned: long ones do not overlap
    axis = figures["history"].layout.xaxis  # trial numbers: whole ticks only
    assert axis.tickformat == "d" and axis.dtick == 1 and axis.tick0 == 0 and axis.title.text == "trial"


def test_a_study_says_trial_or_trials():
    from gtzan_core.webapp.search import study_headline

    def line(states, counted):
        return study_headline("s", {"model": "mlp", "counted": counted, "trials": [{"state": x} for x in states]},
                              "running") \
            .split(" · ", 3)[3]

    assert line(["complete", "running"], 1) == "1 trial ended (0 pruned, 1 running)"
    assert line(["complete", "pruned"], 2) == "2 trials ended (1 pruned, 0 running)"


def test_the_search_space_table_draws_choices_and_dashes(demo_app):
    at = no_errors(demo_app("train").run())
    model = at.selectbox(key="search-model").value
    table = at.data_editor(key=f"search-space-{model}")
    assert table.proto.placeholder == "—"  # a missing cell is drawn as a dash, never "None"
    rows = table.value.set_index("setting")
    assert rows.loc["batch_size", "choices"] == "16, 32, 64, 128"
    assert rows.loc["batch_size", ["low", "high"]].isna().all()
    assert rows.loc["lr", "choices"] is None or rows.loc["lr", "choices"] != rows.loc["lr", "choices"]
    assert rows.loc["lr", "low"] == 1e-5


# -- runs as the pages list them: recipe values, the Leaderboard, Home, a run stopped by hand ----------------------

LR, WD = 0.00044303752452182633, 0.0003833332156156665
RECIPE = "paper, lr 0.000443, epochs 1, weight decay 0.000383"


@pytest.fixture(scope="module")
def made_runs(tmp_path_factory, tiny_features):
    """A store made once for this module: two runs of one recipe differing by their seed (an odd
    learning rate and weight decay), a search's tested best trial and another trial of it
    (no test score), a run stopped by hand after its first epoch, and a run on real GTZAN."""
    import threading

    from gtzan_core.hparams import make_config
    from gtzan_core.jobs import train

    base = tmp_path_factory.mktemp("newcomer-runs")
    with pytest.MonkeyPatch.context() as mp:  # (never the user's studio home, even for a moment)
        mp.setenv("GTZAN_STUDIO_HOME", str(base / "home"))
        store = RunStore(base / "runs")

        def run(**kw):
            return train(make_config("mlp", device="cpu", **{"epochs": 1, **kw}), tiny_features, store)["run_id"]

        ids = {"seed0": run(lr=LR, weight_decay=WD, seed=0), "seed1": run(lr=LR, weight_decay=WD, seed=1)}
        ids["best"] = run(seed=2)
        store.update(ids["best"], study={"name": "mlp-study", "label": "mlp-study", "trial": 2}, study_best=True)
        ids["trial"] = run(seed=3, evaluate_test=False)
        store.update(ids["trial"], study={"name": "mlp-study", "label": "mlp-study", "trial": 1})
        stop = threading.Event()
        ids["stopped"] = train(make_config("mlp", device="cpu", epochs=50, patience=50), tiny_features, store,
                               on_epoch=lambda entry: stop.set(), cancel=stop)["run_id"]
        ids["real"] = run(seed=4)
        store.update(ids["real"], dataset={**store.read(ids["real"])["dataset"], "label": "GTZAN"})
    assert store.read(ids["stopped"])["status"] == "cancelled" and store.read(ids["stopped"]).evaluated
    assert store.read(ids["trial"])["status"] == "finished" and not store.read(ids["trial"]).evaluated
    return base / "runs", ids


@pytest.fixture
def runs(made_runs, studio_home):
    """This test's own copy of the module's store (the studio home's run store)."""
    import os
    import shutil

    source, ids = made_runs
    shutil.copytree(source, os.environ["GTZAN_STUDIO_RUNS"])
    return ids


def board_of(at):
    (grid,) = [d for d in at.dataframe if d.proto.selection_mode]  # the Leaderboard's selectable grid
    return grid


@pytest.mark.heavy
def test_the_leaderboard_tells_runs_apart_and_marks_search_trials(runs, demo_app):
    import json

    at = no_errors(demo_app("leaderboard").run())
    grid = board_of(at)
    board = grid.value.set_index("run")
    assert set(board.index) == {runs[k] for k in ("seed0", "seed1", "best", "stopped", "real")}
    twins = board.loc[[runs["seed0"], runs["seed1"]]]
    assert twins["recipe"].tolist() == [RECIPE, RECIPE]  # 3 significant digits, never 0.00044303752452182633
    assert twins["seed"].tolist() == ["0", "1"]  # what tells two runs of one recipe apart, beside the run's id
    columns = json.loads(grid.proto.columns)
    assert columns["model"]["pinned"]  # on screen at any width
    assert columns["run"]["width"] * 1.0 >= 9 * len(runs["seed0"])  # wide enough for the whole id, never cut off
    assert board.loc[runs["best"], "search"] == "search mlp-study, trial 2 (its best)"
    assert board.loc[runs["seed0"], "search"] == "—"
    assert board.loc[runs["stopped"], "training"].startswith("stopped by hand at epoch 1")
    tables = " ".join(t.value.to_string() for t in at.table)
    assert runs["trial"] not in tables  # a finished trial is no job without results
    assert not any(e.label.startswith("Jobs without results") for e in at.expander)
    assert any(c.value.startswith("1 search trial without a test score") for c in at.caption)


@pytest.mark.heavy
def test_recipe_values_and_a_stopped_run_read_the_same_on_compare(runs, demo_app):
    at = demo_app("compare")
    at.session_state["compare_ids"] = [runs["seed0"], runs["stopped"]]
    no_errors(at.run())
    (summary,) = [t.value for t in at.table if "recipe" in t.value.columns]
    assert summary["recipe"].tolist()[0] == RECIPE
    options = {o for o in at.multiselect[0].options}
    stopped = next(o for o in options if runs["stopped"] in o)
    assert "STOPPED BY HAND" in stopped and not any("EARLY" in o for o in options)
    assert any("search mlp-study, trial 2" in o for o in options if runs["best"] in o)


@pytest.mark.heavy
def test_the_job_cards_say_stopped_by_hand_and_format_the_recipe(runs, demo_app):
    import json

    at = no_errors(demo_app("train").run())
    cards = {rid: " ".join(m.value for m in at.get("markdown") if rid in m.value) for rid in runs.values()}
    assert f"recipe {RECIPE} · synthetic demo" in cards[runs["seed0"]]
    assert "search mlp-study, trial 1" in cards[runs["trial"]]
    assert "stopped by hand" in cards[runs["stopped"]] and "cancelled" not in cards[runs["stopped"]]
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    names = [t.get("name", "") for c in charts for t in c["data"] if t.get("showlegend", True)]
    assert any(n.startswith("best epoch (") for n in names)  # the dashed line has its legend entry


@pytest.mark.heavy
def test_home_says_where_to_start_and_ranks_real_runs_apart_from_demo_runs(runs, demo_app):
    at = no_errors(demo_app().run())
    start = next(m.value for m in at.markdown if "Start here" in m.value)
    steps = [line for line in start.splitlines() if line[:2] in ("1.", "2.", "3.", "4.")]
    assert [s.split("**")[1] for s in steps] == ["Dataset", "Train", "Leaderboard", "Predict"]
    real, demo = [t.value for t in at.table][:2]
    assert set(real["dataset"]) == {"real GTZAN"} and len(real) == 1
    assert set(demo["dataset"]) == {"synthetic demo"} and len(demo) == 4
    assert any("never ranked with real runs" in c.value for c in at.caption)
