"""What a newcomer met on the Train page (issue 40, item 4), read from what the page draws:
Enter in a number field never submits the form; a folder refused for lying outside the
data roots is quoted as typed and the setting named; the field says a feature table is
accepted."""

from __future__ import annotations

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
