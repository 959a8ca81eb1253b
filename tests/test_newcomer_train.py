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
