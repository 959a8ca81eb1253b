"""The Reproduction page draws the shipped musicnn studies: the one tested on the 37 full
clips (``transfer-clips-musicnn-track.json``: its rows, the test folder's columns beside the
split's, the caption saying which tracks were left out of training) and the VGG baselines'
(``transfer-excerpts-vgg-track.json``) beside musicnn's MSD head."""

import json

from gtzan_core.reproduction.result_files import shipped_dir

FILE = "transfer-clips-musicnn-track.json"
VGG_FILE = "transfer-excerpts-vgg-track.json"


def test_the_full_clips_rows_appear_on_the_reproduction_page(demo_app):
    doc = json.loads((shipped_dir() / FILE).read_text())
    at = demo_app("reproduction")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    result = next(s for s in at.selectbox if s.label == "Result")
    assert f"shipped/{FILE}" in result.options or any("full clips" in o or "genres_original" in o
                                                       for o in result.options), result.options
    result.set_value(f"shipped/{FILE}").run()
    assert not at.exception, [e.value for e in at.exception]
    frame = next(f.value for f in at.dataframe if "test folder accuracy" in f.value.columns)
    assert list(frame["model"]) == [r["title"] for r in doc["rows"]] == ["musicnn", "musicnn (MTT)",
                                                                         "musicnn (MSD + MTT)"]
    for shown, row in zip(frame.to_dict("records"), doc["rows"], strict=True):
        assert shown["test folder accuracy"] == (f"{100 * row['test_data_accuracy']:.1f} % ± "
                                                 f"{100 * row['test_data_accuracy_sd']:.1f}")
        assert shown["track accuracy"].startswith(f"{100 * row['track_accuracy']:.1f} %")
        assert shown["test folder clips"] == "37"
    captions = [c.value for c in at.caption]
    assert any("gtzan-real/genres_original (37 files)" in c and "25 track(s)" in c for c in captions), captions


def test_the_vgg_rows_appear_beside_the_msd_head(demo_app):
    doc = json.loads((shipped_dir() / VGG_FILE).read_text())
    at = demo_app("reproduction")
    at.run()
    next(s for s in at.selectbox if s.label == "Result").set_value(f"shipped/{VGG_FILE}").run()
    assert not at.exception, [e.value for e in at.exception]
    frame = next(f.value for f in at.dataframe if "musicnn VGG (MSD)" in set(f.value.get("model", [])))
    assert list(frame["model"]) == ["musicnn", "musicnn VGG (MSD)", "musicnn VGG (MTT)"]
    assert "test folder accuracy" not in frame.columns  # tested on its split alone
    for shown, row in zip(frame.to_dict("records"), doc["rows"], strict=True):
        assert shown["track accuracy"] == f"{100 * row['track_accuracy']:.1f} % ± {100 * row['track_accuracy_sd']:.1f}"
