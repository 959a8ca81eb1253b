"""Models on one feature vector per track (:mod:`gtzan_core.inputs.vector`).

``feature_mlp``: the paper's MLP layer recipe (§3.2: 512 -> 256 -> 64 -> classes, ReLU and
dropout 0.3 after each hidden layer) on the vector instead of the flattened MFCC segment,
trained like the paper's MLP (Adam, cross-entropy, early stopping on validation), with its
input standardised on the training split (:class:`~.mfcc_models.Standardize`).

Three scikit-learn baselines, fitted by scikit-learn and then kept as **arrays only**:
multinomial logistic regression, an RBF SVM (libsvm's one-vs-one machines with Platt
scaling and pairwise coupling, as ``SVC(probability=True).predict_proba``) and
HistGradientBoosting (its trees as node tables). :func:`to_arrays` turns a fitted estimator
into named arrays and :class:`ArrayModel` reproduces its ``predict_proba`` from them in
float64 (a test holds them equal to 1e-6). The arrays are the model: they live in the run's
checkpoint as plain tensors (read with ``torch.load(weights_only=True)``, like every
checkpoint) and :func:`save_npz`/:func:`load_npz` write and read them as an ``.npz`` (read
with ``allow_pickle=False``) plus a JSON header; nothing is ever unpickled. A model's
``forward`` returns log-probabilities (the studio's softmax of them is the probabilities).
"""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import CheckpointError
from .mfcc_models import Standardize, paper_mlp_layers

#: the Kaggle vector's length (the default input of every vector model)
DEFAULT_FEATURES = 57


class VectorMLP(nn.Module):
    """The paper's MLP layers on a feature vector: norm -> 512 -> 256 -> 64 -> classes."""

    def __init__(self, n_features: int = DEFAULT_FEATURES, n_classes: int = 10, dropout: float = 0.3):
        super().__init__()
        self.norm = Standardize(n_features)
        self.net = nn.Sequential(*paper_mlp_layers(n_features, n_classes, dropout))

    def forward(self, x):
        return self.net(self.norm(x))


# -- array models ---------------------------------------------------------------------------------

class ArrayModel(nn.Module):
    """A fitted scikit-learn model as named arrays (buffers). ``shapes``/``dtypes`` say each
    array's shape and dtype, so a skeleton can be built before its checkpoint is loaded."""

    #: array name -> dtype name ("float64", "int64", "bool")
    ARRAYS: dict[str, str] = {}
    family = ""

    def __init__(self, n_classes: int = 10, n_features: int = DEFAULT_FEATURES, shapes: dict | None = None,
                 **_ignored):
        super().__init__()
        self.n_classes, self.n_features = n_classes, n_features
        default = shapes is None
        shapes = shapes or self.default_shapes(n_classes, n_features)
        for name, dtype in self.ARRAYS.items():
            if name not in shapes:
                raise CheckpointError(f"{self.family}: no shape for its array {name!r}")
            shape = tuple(int(v) for v in shapes[name])
            self.register_buffer(name, torch.zeros(shape, dtype=getattr(torch, dtype)))
        if default:  # an unfitted skeleton (models --json): every class, unit scale
            self.classes = torch.arange(n_classes)
            self.scale = torch.ones_like(self.scale)

    @classmethod
    def default_shapes(cls, k: int, d: int) -> dict:
        raise NotImplementedError

    def shapes(self) -> dict:
        return {name: list(getattr(self, name).shape) for name in self.ARRAYS}

    def size(self) -> int:
        """How many values its fitted arrays hold (coefficients, support vectors, tree nodes;
        the standardisation's means and scales): what stands for its parameters (it has no
        trained weights, so ``count_parameters`` says 0)."""
        return int(sum(getattr(self, name).numel() for name in self.ARRAYS))

    def scaled(self, x: torch.Tensor) -> torch.Tensor:
        return (x.to(torch.float64) - self.mean) / self.scale

    def full(self, log_p: torch.Tensor) -> torch.Tensor:
        """Log-probabilities over the fitted classes -> over all ``n_classes`` (-inf where a
        class had no training sample)."""
        out = torch.full((log_p.shape[0], self.n_classes), -math.inf, dtype=log_p.dtype, device=log_p.device)
        out[:, self.classes] = log_p
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.full(torch.log(self.proba(self.scaled(x)).clamp_min(1e-300))).float()

    def proba(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def predict_proba(self, x) -> np.ndarray:
        """scikit-learn's ``predict_proba`` over the fitted classes, in float64 (tests)."""
        with torch.no_grad():
            return self.proba(self.scaled(torch.as_tensor(np.asarray(x)))).numpy()


_COMMON = {"mean": "float64", "scale": "float64", "classes": "int64"}


class LogisticModel(ArrayModel):
    ARRAYS = {**_COMMON, "coef": "float64", "intercept": "float64"}
    family = "logistic regression"

    @classmethod
    def default_shapes(cls, k, d):
        return {"mean": [d], "scale": [d], "classes": [k], "coef": [k, d], "intercept": [k]}

    def proba(self, z):
        scores = z @ self.coef.T + self.intercept
        if self.coef.shape[0] == 1:  # two classes: one row, sigmoid
            p1 = torch.sigmoid(scores[:, 0])
            return torch.stack([1 - p1, p1], 1)
        return torch.softmax(scores, 1)


class SVMModel(ArrayModel):
    ARRAYS = {**_COMMON, "support": "float64", "dual_coef": "float64", "intercept": "float64",
              "n_support": "int64", "prob_a": "float64", "prob_b": "float64", "gamma": "float64"}
    family = "RBF SVM"

    @classmethod
    def default_shapes(cls, k, d):
        pairs = k * (k - 1) // 2
        return {"mean": [d], "scale": [d], "classes": [k], "support": [k, d], "dual_coef": [k - 1, k],
                "intercept": [pairs], "n_support": [k], "prob_a": [pairs], "prob_b": [pairs], "gamma": [1]}

    def decision_ovo(self, z):
        """libsvm's one-vs-one decision values (pairs (0,1), (0,2), ..., (k-2,k-1))."""
        sv = self.support
        sq = (z * z).sum(1, keepdim=True) + (sv * sv).sum(1)[None, :] - 2 * z @ sv.T
        kern = torch.exp(-self.gamma[0] * sq)
        k = len(self.n_support)
        start = torch.cat([torch.zeros(1, dtype=torch.int64), torch.cumsum(self.n_support, 0)]).tolist()
        out, p = [], 0
        for i in range(k):
            for j in range(i + 1, k):
                si, sj = slice(start[i], start[i + 1]), slice(start[j], start[j + 1])
                dec = (kern[:, si] @ self.dual_coef[j - 1, si] + kern[:, sj] @ self.dual_coef[i, sj]
                       + self.intercept[p])
                out.append(dec)
                p += 1
        return torch.stack(out, 1)

    def proba(self, z):
        dec = self.decision_ovo(z)
        k = len(self.n_support)
        f = dec * self.prob_a + self.prob_b  # libsvm's sigmoid_predict, both branches
        pair = torch.where(f >= 0, torch.exp(-f) / (1 + torch.exp(-f)), 1 / (1 + torch.exp(f)))
        pair = pair.clamp(1e-7, 1 - 1e-7)
        n = z.shape[0]
        r = torch.zeros(n, k, k, dtype=torch.float64)
        p = 0
        for i in range(k):
            for j in range(i + 1, k):
                r[:, i, j], r[:, j, i] = pair[:, p], 1 - pair[:, p]
                p += 1
        if k == 2:
            return torch.stack([r[:, 0, 1], r[:, 1, 0]], 1)
        return _multiclass_probability(r)


def _multiclass_probability(r: torch.Tensor) -> torch.Tensor:
    """libsvm's ``multiclass_probability`` (Wu, Lin & Weng 2004, method 2), step for step,
    over a batch: each sample stops when libsvm's loop would."""
    n, k, _ = r.shape
    q = torch.zeros(n, k, k, dtype=torch.float64)
    for t in range(k):
        for j in range(k):
            if j != t:
                q[:, t, t] += r[:, j, t] * r[:, j, t]
                q[:, t, j] = -r[:, j, t] * r[:, t, j]
    p = torch.full((n, k), 1.0 / k, dtype=torch.float64)
    eps = 0.005 / k
    active = torch.ones(n, dtype=torch.bool)
    for _ in range(max(100, k)):
        qp = torch.einsum("ntj,nj->nt", q, p)
        pqp = (p * qp).sum(1)
        err = (qp - pqp[:, None]).abs().max(1).values
        active = active & (err >= eps)
        if not active.any():
            break
        new_p, new_qp, new_pqp = p.clone(), qp.clone(), pqp.clone()
        for t in range(k):
            diff = (-new_qp[:, t] + new_pqp) / q[:, t, t]
            new_p[:, t] += diff
            new_pqp = (new_pqp + diff * (diff * q[:, t, t] + 2 * new_qp[:, t])) / (1 + diff) / (1 + diff)
            new_qp = (new_qp + diff[:, None] * q[:, t, :]) / (1 + diff)[:, None]
            new_p = new_p / (1 + diff)[:, None]
        p = torch.where(active[:, None], new_p, p)
    return p


class HGBModel(ArrayModel):
    ARRAYS = {**_COMMON, "baseline": "float64", "feature": "int64", "threshold": "float64", "left": "int64",
              "right": "int64", "leaf": "bool", "missing_left": "bool", "value": "float64", "tree_class": "int64",
              "depth": "int64"}
    family = "HistGradientBoosting"

    @classmethod
    def default_shapes(cls, k, d):
        return {"mean": [d], "scale": [d], "classes": [k], "baseline": [k], "feature": [k, 1],
                "threshold": [k, 1], "left": [k, 1], "right": [k, 1], "leaf": [k, 1], "missing_left": [k, 1],
                "value": [k, 1], "tree_class": [k], "depth": [1]}

    def raw(self, z):
        n, trees = z.shape[0], self.feature.shape[0]
        node = torch.zeros(n, trees, dtype=torch.int64)
        t = torch.arange(trees)[None, :].expand(n, trees)
        for _ in range(int(self.depth[0])):
            leaf = self.leaf[t, node]
            xv = z.gather(1, self.feature[t, node])
            go_left = torch.where(torch.isnan(xv), self.missing_left[t, node], xv <= self.threshold[t, node])
            nxt = torch.where(go_left, self.left[t, node], self.right[t, node])
            node = torch.where(leaf, node, nxt)
        values = self.value[t, node]
        k = self.baseline.shape[0]
        raw = self.baseline[None, :].repeat(n, 1)
        raw.index_add_(1, self.tree_class, values)
        return raw[:, :k]

    def proba(self, z):
        raw = self.raw(z)
        if raw.shape[1] == 1:
            p1 = torch.sigmoid(raw[:, 0])
            return torch.stack([1 - p1, p1], 1)
        return torch.softmax(raw, 1)


ARRAY_MODELS = {"logistic": LogisticModel, "svm": SVMModel, "hgb": HGBModel}


# -- scikit-learn -> arrays ------------------------------------------------------------------------

def to_arrays(estimator, mean: np.ndarray, scale: np.ndarray) -> tuple[str, dict[str, np.ndarray]]:
    """A fitted LogisticRegression, SVC (RBF, probability=True) or
    HistGradientBoostingClassifier (fitted on ``(x - mean) / scale``) as ``(family key, arrays)``."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import SVC

    common = {"mean": np.asarray(mean, np.float64), "scale": np.asarray(scale, np.float64),
              "classes": np.asarray(estimator.classes_, np.int64)}
    if isinstance(estimator, LogisticRegression):
        return "logistic", {**common, "coef": estimator.coef_.astype(np.float64),
                            "intercept": estimator.intercept_.astype(np.float64)}
    if isinstance(estimator, SVC):
        if estimator.kernel != "rbf" or not estimator.probability:
            raise ValueError("only an RBF SVC fitted with probability=True becomes arrays")
        return "svm", {**common, "support": estimator.support_vectors_.astype(np.float64),
                       "dual_coef": estimator.dual_coef_.astype(np.float64),
                       "intercept": estimator.intercept_.astype(np.float64),
                       "n_support": estimator.n_support_.astype(np.int64),
                       **_platt(estimator),
                       "gamma": np.array([estimator._gamma], np.float64)}
    if isinstance(estimator, HistGradientBoostingClassifier):
        return "hgb", {**common, **_tree_arrays(estimator)}
    raise ValueError(f"no array form for {type(estimator).__name__}")


def _platt(estimator) -> dict[str, np.ndarray]:
    import warnings

    with warnings.catch_warnings():  # probA_/probB_ are deprecated with SVC(probability=True) in scikit-learn 1.9
        warnings.filterwarnings("ignore", category=FutureWarning)
        return {"prob_a": np.asarray(estimator.probA_, np.float64), "prob_b": np.asarray(estimator.probB_, np.float64)}


def _tree_arrays(est, n_iter: int | None = None) -> dict[str, np.ndarray]:
    if getattr(est, "is_categorical_", None) is not None and np.any(est.is_categorical_):
        raise ValueError("categorical features are not supported")
    predictors = est._predictors[: n_iter or len(est._predictors)]
    trees = [(c, tree.nodes) for it in predictors for c, tree in enumerate(it)]
    width = max(len(nodes) for _, nodes in trees)

    def table(field, dtype, fill=0):
        out = np.full((len(trees), width), fill, dtype=dtype)
        for i, (_, nodes) in enumerate(trees):
            out[i, : len(nodes)] = nodes[field]
        return out

    leaf = table("is_leaf", bool, True)
    return {"baseline": np.asarray(est._baseline_prediction, np.float64).reshape(-1),
            "feature": table("feature_idx", np.int64), "threshold": table("num_threshold", np.float64),
            "left": table("left", np.int64), "right": table("right", np.int64), "leaf": leaf,
            "missing_left": table("missing_go_to_left", bool), "value": table("value", np.float64),
            "tree_class": np.array([c for c, _ in trees], np.int64),
            "depth": np.array([max(int(nodes["depth"].max()) for _, nodes in trees)], np.int64)}


def array_model(family: str, arrays: dict[str, np.ndarray], n_classes: int = 10) -> ArrayModel:
    """The :class:`ArrayModel` of ``family`` holding ``arrays`` (checked against what it needs)."""
    cls = ARRAY_MODELS.get(family)
    if cls is None:
        raise CheckpointError(f"unknown array model {family!r} (the studio has {', '.join(ARRAY_MODELS)})")
    check_arrays(cls, arrays)
    model = cls(n_classes=n_classes, n_features=int(arrays["mean"].shape[0]),
                shapes={k: v.shape for k, v in arrays.items()})
    model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()})
    return model.eval()


def check_arrays(cls, arrays: dict) -> None:
    """Refuse arrays a model cannot be made of: a missing or extra name, a wrong dtype, a
    wrong rank, indices out of range, non-finite parameters."""
    missing = [k for k in cls.ARRAYS if k not in arrays]
    extra = [k for k in arrays if k not in cls.ARRAYS]
    if missing or extra:
        raise CheckpointError(f"{cls.family} parameters: " + "; ".join(
            ([f"missing {', '.join(missing)}"] if missing else []) + ([f"unexpected {', '.join(extra)}"] if extra
                                                                       else [])))
    for name, dtype in cls.ARRAYS.items():
        a = arrays[name]
        if not isinstance(a, np.ndarray) or a.dtype != np.dtype(dtype):
            raise CheckpointError(f"{cls.family} parameters: {name} is not a {dtype} array")
        if a.dtype == np.float64 and not np.isfinite(a).all():
            raise CheckpointError(f"{cls.family} parameters: {name} holds non-finite values")
    d = arrays["mean"].shape
    if len(d) != 1 or arrays["scale"].shape != d or not (arrays["scale"] > 0).all():
        raise CheckpointError(f"{cls.family} parameters: bad standardisation (mean/scale)")
    if cls is HGBModel:
        n_nodes = arrays["feature"].shape[1] if arrays["feature"].ndim == 2 else 0
        for name in ("left", "right"):
            inner = arrays[name][~arrays["leaf"]]
            if inner.size and (inner.min() < 0 or inner.max() >= n_nodes):
                raise CheckpointError(f"{cls.family} parameters: a tree's {name} child is out of range")
        feats = arrays["feature"][~arrays["leaf"]]
        if feats.size and (feats.min() < 0 or feats.max() >= d[0]):
            raise CheckpointError(f"{cls.family} parameters: a tree splits on a feature out of range")
        if not 0 <= int(arrays["depth"][0]) <= 64:
            raise CheckpointError(f"{cls.family} parameters: tree depth out of range")
    if cls is SVMModel and int(arrays["n_support"].sum()) != arrays["support"].shape[0]:
        raise CheckpointError(f"{cls.family} parameters: support vector counts do not add up")


def save_npz(path: str | Path, model: ArrayModel, info: dict | None = None) -> Path:
    """Write ``model``'s arrays to ``path`` (.npz) and a JSON header beside it (.json)."""
    path = Path(path).with_suffix(".npz")
    family = next(k for k, c in ARRAY_MODELS.items() if isinstance(model, c))
    arrays = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    np.savez(path, **arrays)
    header = {"format": "gtzan-studio array model", "version": 1, "family": family,
              "n_classes": model.n_classes, **(info or {})}
    path.with_suffix(".json").write_text(json.dumps(header, indent=2))
    return path


def load_npz(path: str | Path) -> tuple[ArrayModel, dict]:
    """Read a model written by :func:`save_npz` (``allow_pickle=False``: an object array or a
    damaged file is refused with a :class:`CheckpointError`, never unpickled)."""
    path = Path(path).with_suffix(".npz")
    try:
        header = json.loads(path.with_suffix(".json").read_text())
        if not isinstance(header, dict) or header.get("format") != "gtzan-studio array model":
            raise ValueError("not a studio array-model header")
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path.name}: not a readable array model ({str(exc).splitlines()[0]})") from None
    return array_model(str(header.get("family")), arrays, int(header.get("n_classes", 10))), header
