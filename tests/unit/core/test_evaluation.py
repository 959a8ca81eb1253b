import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score

from gtzan_core.evaluation import confusion_frame, evaluate, report_frame, track_probabilities


def fixed_example():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(10), 6)
    probs = rng.dirichlet(np.ones(10), size=len(y))
    probs[np.arange(len(y)), y] += rng.uniform(0, 0.6, len(y))  # better than random, not perfect
    probs /= probs.sum(1, keepdims=True)
    groups = np.arange(len(y)) // 3  # three segments per track
    return probs, y, groups


def test_segment_metrics_equal_scikit_learn():
    probs, y, groups = fixed_example()
    seg = evaluate(probs, y, groups)["segment"]
    pred = probs.argmax(1)
    assert seg["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert seg["macro_f1"] == pytest.approx(f1_score(y, pred, average="macro"))
    assert seg["weighted_f1"] == pytest.approx(f1_score(y, pred, average="weighted"))
    assert seg["confusion"] == confusion_matrix(y, pred).tolist()
    df = report_frame(seg)
    assert list(df.index[:2]) == ["blues", "classical"] and "macro avg" in df.index
    assert df.loc["rock", "precision"] == pytest.approx(precision_score(y, pred, labels=[9], average=None, zero_division=0)[0])
    assert df["support"].iloc[:10].tolist() == [6] * 10
    assert confusion_frame(seg).loc["blues"].sum() == 6


def test_track_level_averages_segment_probabilities():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4]])
    ids, tp = track_probabilities(probs, np.array([7, 7, 3, 3]))
    assert ids.tolist() == [3, 7]
    np.testing.assert_allclose(tp, [[0.45, 0.55], [0.55, 0.45]])
    # track 7: segments vote 0 and 1, mean says 0; track 3 mean says 1
    out = evaluate(probs, np.array([0, 0, 1, 1]), np.array([7, 7, 3, 3]))
    assert out["segment"]["accuracy"] == 0.5 and out["track"]["accuracy"] == 1.0 and out["track"]["n"] == 2


def test_track_level_on_the_fixed_example_matches_manual_aggregation():
    probs, y, groups = fixed_example()
    trk = evaluate(probs, y, groups)["track"]
    manual = probs.reshape(-1, 3, 10).mean(1).argmax(1)
    assert trk["accuracy"] == pytest.approx(accuracy_score(y[::3], manual))


def test_paper_reference_numbers():
    from gtzan_core.paper_results import paper_results, summary

    assert summary("cnn")["accuracy"] == 0.79 and summary("mlp")["macro_f1"] == 0.64
    assert set(paper_results()) == {"mlp", "cnn", "lstm", "gru", "vgg19", "resnext", "squeezenet"}
