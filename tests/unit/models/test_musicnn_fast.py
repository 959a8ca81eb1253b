"""musicnn's inference path (:mod:`gtzan_core.models.musicnn_fast`): the front end as
matrix products shared by both networks gives the release's layers' numbers, to 1e-4
relative or better, on random weights built to reach every corner and on the real ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gtzan_core.models import build_model
from gtzan_core.models.musicnn import Musicnn, MusicnnEmbedding, MusicnnSideBySide, load_musicnn
from tests.helpers.models import random_musicnn


def _release(module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``module(x)`` through the release's layers (no inference path)."""
    Musicnn.fast_inference = False
    try:
        with torch.inference_mode():
            return module(x)
    finally:
        Musicnn.fast_inference = True


def _headless(net: Musicnn) -> MusicnnEmbedding:
    """The network up to its embedding, as the studio's models hold it."""
    out = MusicnnEmbedding()
    out.load_state_dict({k: v for k, v in net.state_dict().items() if not k.startswith("tags.")})
    return out.eval()


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def _awkward(seed: int) -> Musicnn:
    """A random network with what the shortcuts must get right: an input norm with a negative
    scale and a large shift (the edge term at the clip's ends), negative branch-norm scales
    (min over frequency), dead filters (1e-30 and 0) beside live ones."""
    net = random_musicnn(seed)
    with torch.no_grad():
        net.input_bn.weight.fill_(-1.7)
        net.input_bn.bias.fill_(0.9)
        net.input_bn.running_mean.fill_(2.5)
        for branch in (*net.timbral, *net.temporal):
            branch.bn.weight[::3] *= -1
            branch.conv.weight[1::4] = 1e-30
            branch.conv.weight[2::4] = 0.0
            branch.conv.bias[::5] = -3.0  # a filter whose ReLU cuts most of its outputs
    return net.eval()


@pytest.mark.parametrize("frames", [187, 61, 20])
def test_the_shared_products_give_each_networks_release_embedding(frames):
    # two different networks on the same patches, clips shorter than the longest temporal kernel included
    nets = {"a": _headless(_awkward(1)), "b": _headless(_awkward(2))}
    side = MusicnnSideBySide(nets).eval()
    x = torch.rand(3, frames, 96) * 4  # log-mel values lie in [0, ~5]
    threads = torch.get_num_threads()
    with torch.inference_mode():
        fast = side(x)  # the patches split among threads when torch has several (2 here: conftest)
        alone = torch.cat([net.embedding(x) for net in nets.values()], dim=1)
    assert torch.get_num_threads() == threads  # put back
    reference = torch.cat([_release(net, x) for net in nets.values()], dim=1)
    assert fast.shape == (3, 400)
    assert _relative(fast, reference) < 1e-5
    assert _relative(alone, reference) < 1e-5
    assert float((reference[0] - reference[1]).abs().max()) > 1e-2  # the patches' embeddings differ: not a constant


def test_both_networks_share_one_convolution_per_shape_a_few_patches_at_a_time(monkeypatch):
    from gtzan_core.models.musicnn_fast import PATCHES

    nets = {"a": _headless(_awkward(3)), "b": _headless(_awkward(4))}
    side = MusicnnSideBySide(nets).eval()
    x = torch.rand(5, 187, 96) * 4
    reference = _release(side, x)
    calls = []
    conv2d = torch.nn.functional.conv2d

    def spy(inp, weight, *args, **kwargs):
        calls.append((inp.shape[0], weight.shape[0], tuple(weight.shape[2:])))
        return conv2d(inp, weight, *args, **kwargs)

    monkeypatch.setattr("torch.nn.functional.conv2d", spy)
    with torch.inference_mode():
        fast = side(x)
    assert _relative(fast, reference) < 1e-5
    live = {tuple(br.conv.kernel_size): sum(int((*n.timbral, *n.temporal)[i].live().sum()) for n in nets.values())
            for i, br in enumerate((*nets["a"].timbral, *nets["a"].temporal))}
    assert all(patches <= PATCHES for patches, _, _ in calls)  # never the whole batch's map
    assert {kernel: filters for _, filters, kernel in calls} == live  # both networks' live filters in one call
    assert sum(patches for patches, _, _ in calls) == 5 * len(x)  # each patch once per kernel shape, not per network
    # with gradients (Grad-CAM) the release's layers run: one conv2d per branch and network, the whole batch
    calls.clear()
    side(x)
    assert len(calls) == 10 and all(patches == len(x) for patches, _, _ in calls)


def test_every_filter_dead_or_every_filter_live():
    x = torch.rand(2, 187, 96) * 4
    for value in (0.0, None):
        net = random_musicnn(5)
        if value is not None:
            with torch.no_grad():
                for branch in (*net.timbral, *net.temporal):
                    branch.conv.weight.fill_(value)
        side = MusicnnSideBySide({"only": _headless(net)}).eval()
        with torch.inference_mode():
            fast = side(x)
        assert _relative(fast, _release(side, x)) < 1e-5


def test_the_patches_split_among_threads_give_what_one_thread_gives():
    side = MusicnnSideBySide({"a": _headless(_awkward(6))}).eval()
    x = torch.rand(5, 187, 96) * 4
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        with torch.inference_mode():
            one = side(x)
        torch.set_num_threads(2)
        with torch.inference_mode():
            two = side(x)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    reference = _release(side, x)
    assert _relative(one, reference) < 1e-5 and _relative(two, reference) < 1e-5  # (the order of the sums differs)


def test_a_wrong_input_shape_is_still_refused_by_name():
    side = MusicnnSideBySide({"a": _headless(random_musicnn(0))}).eval()
    with torch.inference_mode(), pytest.raises(ValueError, match="log-mel patches"):
        side(torch.zeros(2, 187, 40))


def _real_patches() -> torch.Tensor:
    import librosa

    from gtzan_core.data.synth import synth_track
    from gtzan_core.mel_patches import mel_patches

    clips = [synth_track(g, 7.0, seed=4) for g in ("metal", "classical", "reggae")]
    return torch.from_numpy(np.concatenate([mel_patches(librosa.resample(c, orig_sr=22050, target_sr=16000))[0]
                                            for c in clips]))


@pytest.mark.heavy
def test_the_real_pair_and_the_starter_keep_their_numbers(musicnn_weights, shipped_store):
    from gtzan_core.inference import clear_model_cache, load_run_model

    folder = musicnn_weights / "musicnn-0.1.0"
    nets = {"musicnn": load_musicnn(folder / "MSD_musicnn"), "musicnn_mtt": load_musicnn(folder / "MTT_musicnn")}
    x = _real_patches()
    side = MusicnnSideBySide({name: _headless(net) for name, net in nets.items()}).eval()
    with torch.inference_mode():
        fast = side(x)
    reference = _release(side, x)
    assert _relative(fast, reference) < 1e-5
    for name, net in nets.items():  # and the tag logits of each network alone
        with torch.inference_mode():
            tags = net(x)
        assert _relative(tags, _release(net, x)) < 1e-5, name

    clear_model_cache()
    run_id = "starter-gtzan-musicnn"
    assert shipped_store.read(run_id)["model"] == "musicnn_both"
    model, _ = load_run_model(shipped_store, run_id, "cpu")
    with torch.inference_mode():
        probs = torch.softmax(model(x), dim=1)
    reference = torch.softmax(_release(model, x), dim=1)
    assert _relative(probs, reference) < 1e-4
    assert float((probs - reference).abs().max()) < 1e-5
    assert (probs.argmax(1) == reference.argmax(1)).all()
    clear_model_cache()


def test_the_built_pair_takes_the_shared_path_only_in_eval_without_gradients():
    model, _ = build_model("musicnn_both", pretrained=False)
    nets = list(model.backbone.nets.values())
    model.eval()
    with torch.inference_mode():
        assert all(net.takes_fast_path() for net in nets)
    assert not any(net.takes_fast_path() for net in nets)  # gradients on (Grad-CAM)
    for net in nets:
        net.train()
    with torch.no_grad():
        assert not any(net.takes_fast_path() for net in nets)  # batch statistics: the release's layers
