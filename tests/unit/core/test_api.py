"""The documentation's "From Python" example (docs/python.md) runs as written and returns typed records."""

import re

import pytest

from gtzan_core import api
from gtzan_core.errors import CheckpointError
from gtzan_core.runs import RunRecord, RunStore
from tests.helpers import ROOT


def readme_example() -> str:
    text = (ROOT / "docs" / "python.md").read_text()
    section = text[text.index("# From Python"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.heavy
def test_the_docs_python_example_runs_as_written(tmp_path, monkeypatch, capsys):
    import soundfile as sf

    from gtzan_core.data.synth import synth_track

    monkeypatch.setenv("GTZAN_STUDIO_DEMO_PER_GENRE", "20")  # the least whose track split holds 3 test tracks a genre
    monkeypatch.setenv("GTZAN_STUDIO_DEMO_SECONDS", "6.2")
    monkeypatch.chdir(tmp_path)
    sf.write("song.wav", synth_track("jazz", 8.0, seed=3), 22050)
    exec(compile(readme_example(), "docs/python.md (From Python)", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("mlp finished ")
    runs = api.runs()
    assert len(runs) == 1 and isinstance(runs[0], RunRecord) and runs[0].status == "finished"
    assert out[1].split()[0] == runs[0].run_id
    assert out[2].split()[0] in ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop",
                                 "reggae", "rock")


def test_the_api_is_the_cli_s_layer_on_the_same_store(tmp_path):
    store = RunStore(tmp_path / "runs")
    assert api.runs(store) == [] and api.runs(str(tmp_path / "runs")) == []
    with pytest.raises(CheckpointError, match="no run 'nope'"):
        api.evaluate("nope", store)


def test_predict_takes_one_run_id_or_a_list_of_them(tmp_path):
    """In a notebook, ``predict("song.wav", "RUN_ID")`` read the id as a list of its characters
    ("no run 's'", ...): one id is one run, a list is its runs."""
    import soundfile as sf

    from gtzan_core.data.synth import synth_track

    store = RunStore(tmp_path / "runs")
    song = tmp_path / "song.wav"
    sf.write(song, synth_track("jazz", 4.0, seed=3), 22050)
    one = api.predict(str(song), "20260101-000000_mlp_abcdef", store=store, device="cpu")
    assert list(one.refused) == ["20260101-000000_mlp_abcdef"]
    assert "20260101-000000_mlp_abcdef" in one.refused["20260101-000000_mlp_abcdef"]
    two = api.predict(str(song), ["run-one", "run-two"], store=store, device="cpu")
    assert list(two.refused) == ["run-one", "run-two"]
