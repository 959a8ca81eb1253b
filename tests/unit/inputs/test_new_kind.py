"""A new input kind written here, in one place (issue 43): chroma (``librosa.feature.chroma_stft``
through the project's ``numba_cache.librosa_module()``), 3 s segments of 130 frames x 12 pitch
classes, and a tiny model on it. Registered with one line (``register_kind``; the model with
``register_model``), it trains, caches (a second load hits the cache), predicts, explains
(occlusion) and exports and imports as an archive, with no edit outside this file."""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass

import numpy as np
import pytest
import torch
from torch import nn

from gtzan_core.features import MFCCParams, check_clip_length
from gtzan_core.inputs import KINDS, InputKind, ModelInput, register_kind
from gtzan_core.inputs.base import grid_times
from gtzan_core.models import MODELS, ModelSpec, WeightsStatus, register_model
from tests.helpers import write_clip


@dataclass(frozen=True)
class ChromaParams:
    sr: int = 22050
    hop_length: int = 512
    segment_seconds: float = 3.0

    def as_dict(self) -> dict:
        return asdict(self)


CALLS = {"chroma": 0}


def chroma_rows(y: np.ndarray, p: ChromaParams) -> np.ndarray:
    """(segments, frames, 12): a clip under one segment repeat-padded to one."""
    from gtzan_core.numba_cache import librosa_module

    librosa = librosa_module()
    CALLS["chroma"] += 1
    seg = int(p.segment_seconds * p.sr)
    check_clip_length(len(y), MFCCParams(sr=p.sr))
    n = max(1, len(y) // seg)
    segs = np.resize(np.asarray(y, np.float32), seg)[None] if len(y) < seg else y[: n * seg].reshape(n, seg)
    return np.stack([librosa.feature.chroma_stft(y=s, sr=p.sr, hop_length=p.hop_length).T
                     for s in segs]).astype(np.float32)


class ChromaKind(InputKind):
    name = "chroma"
    unit = "segment"
    window_unit = "segment"
    missing_what = "audio for chroma"
    occlusion_patch = (10, 2)
    top_span = (43, 2)

    def params(self) -> ChromaParams:
        return ChromaParams()

    def extract(self, audio, params):
        y = audio.at(params.sr)
        return chroma_rows(y, params), len(y) < params.segment_seconds * params.sr

    def build_options(self, fs) -> dict:
        own = fs.inputs[self.name]
        return {"frames": int(own.x.shape[1]), "chroma": own.params.as_dict()}

    def input_shape(self, spec, frames: int = 130, n_mfcc: int = 13):
        return (frames, 12)

    def run_input_shape(self, meta: dict):
        return (int(meta["options"]["frames"]), 12)

    def model_input(self, clip, meta, spec=None) -> ModelInput:
        p = ChromaParams(**meta["options"]["chroma"])
        rows = clip.cached(("chroma", p), lambda: chroma_rows(clip.audio.at(p.sr), p))
        return ModelInput(self.name, torch.from_numpy(rows), np.arange(len(rows)) * p.segment_seconds,
                          p.segment_seconds, rows)

    def layout(self, values_rows, inp, mfcc, meta):
        p = ChromaParams(**meta["options"]["chroma"])
        values = np.concatenate(list(values_rows), axis=0).T
        return values, grid_times(inp, values_rows.shape[1], p.hop_length / p.sr), np.arange(12.0), "pitch class"

    def heatmap(self, display, times, bands):
        return dict(z=display, x=times, colorscale="Viridis"), bands, "pitch class"

    def preprocessing_text(self, record: dict, spec=None) -> str:
        return "librosa.feature.chroma_stft per 3 s segment at 22050 Hz, hop 512, transposed to (frames, 12)."


class TinyChroma(nn.Module):
    def __init__(self, n_classes: int = 10, frames: int = 130):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(frames * 12, n_classes))

    def forward(self, x):
        return self.net(x)


def _tiny(n_classes=10, frames=130, chroma=None, **_):
    return TinyChroma(n_classes, frames), WeightsStatus(False, "trained from scratch")


@pytest.fixture
def chroma_kind():
    kind = register_kind(ChromaKind())  # the one registry line of the kind
    register_model(ModelSpec("chroma_tiny", "Tiny chroma", "chroma", "a linear layer on chroma", _tiny,
                             family="features", cpu_epoch_per_100=0.1))
    yield kind
    MODELS.pop("chroma_tiny", None)
    KINDS.pop("chroma", None)


@pytest.mark.heavy
def test_a_kind_written_here_trains_caches_predicts_explains_and_exports(chroma_kind, tiny_demo_set, tmp_path):
    from gtzan_core.explain import explain, methods_for
    from gtzan_core.feature_cache import cache_key, feature_request, load_features
    from gtzan_core.hparams import make_config
    from gtzan_core.inference import predict
    from gtzan_core.jobs import train
    from gtzan_core.runs import RunStore
    from gtzan_core.share.archive import export_archive, import_archive

    request = feature_request("chroma_tiny")
    assert request == {"inputs": {"chroma": ChromaParams()}}  # its own parameters, nothing else extracted
    CALLS["chroma"] = 0
    fs = load_features(tiny_demo_set, cache_dir=tmp_path / "cache", **request)
    assert not fs.cache_hit and CALLS["chroma"] == len(fs.tracks) == 40
    x, track = fs.samples("chroma")
    assert x.shape == (80, 130, 12) and np.bincount(track).tolist() == [2] * 40  # 6.2 s: two segments a track
    again = load_features(tiny_demo_set, cache_dir=tmp_path / "cache", **request)
    assert again.cache_hit and CALLS["chroma"] == 40
    np.testing.assert_array_equal(again.inputs["chroma"].x, x)
    assert list(again.inputs) == ["chroma"] and again.tracks["n_chroma"].tolist() == [2] * 40
    # the kind's parameters and version are in the key: other ones are another entry
    key = functools.partial(cache_key, tiny_demo_set)
    assert key({"chroma": ChromaParams(hop_length=256)}) != key(request["inputs"])
    assert again.path.name.endswith(key(request["inputs"]))

    store = RunStore(tmp_path / "runs")
    record = train(make_config("chroma_tiny", epochs=1, device="cpu"), again, store)
    assert record["status"] == "finished" and record["input_kind"] == "chroma"

    song = write_clip(tmp_path / "song.wav", "rock", seconds=9.5)
    CALLS["chroma"] = 0
    pred = predict(song, [record["run_id"]], store)
    result = pred.results[record["run_id"]]
    assert not pred.refused and result.segment_probs.shape == (3, 10) and result.unit == "segment"
    assert result.seen == "scored 3 segments of 3 s" and CALLS["chroma"] == 1

    assert methods_for("chroma_tiny") == ("occlusion", "segments")
    ex = explain(song, record["run_id"], store, methods=("occlusion",))
    occlusion = ex.maps["occlusion"]  # 12 pitch classes over the clip's first 30 s (three segments)
    assert occlusion.values.shape == (12, 390) and occlusion.band_unit == "pitch class"
    assert np.isfinite(occlusion.values).all() and np.abs(occlusion.values).max() > 0

    archive = export_archive(store, record["run_id"], tmp_path / "chroma.zip")
    other = RunStore(tmp_path / "elsewhere")
    new_id = import_archive(archive, other).run_id
    assert other.read(new_id)["input_kind"] == "chroma"
    again_pred = predict(song, [new_id], other)
    np.testing.assert_allclose(again_pred.results[new_id].probs, result.probs, rtol=1e-5)
