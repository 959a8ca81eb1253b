"""How the scikit-learn baselines are fitted: a *fit strategy* (``ModelSpec.fit``) the
trainer calls instead of its gradient loop.

Every strategy standardises the vectors on the training split (mean and standard
deviation per column, kept with the model), fits on the training split only, and chooses
on the validation split only: logistic regression and the SVM their ``C`` from a small grid
(lowest validation log-loss), HistGradientBoosting its number of boosting iterations (the
iteration of lowest validation log-loss, stopping ``patience`` iterations after it). The
test split is never seen here. The result is an :class:`~.vector_models.ArrayModel` (in a
:class:`FitResult`), or None when ``cancel`` was set before anything was fitted.
"""

from __future__ import annotations

import threading
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from .vector_models import ArrayModel, array_model, to_arrays

#: the C grid logistic regression and the SVM choose from on validation
C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)
#: boosting iterations fitted between two looks at the validation loss
CHUNK = 10


@dataclass
class FitResult:
    """What a fit strategy hands the trainer: the model, the builder options its checkpoint
    needs (array shapes), one history entry per epoch / iteration / candidate (the trainer's
    EpochLog fields), the chosen entry, and facts for the run record."""

    model: ArrayModel
    options: dict
    history: list[dict]
    best_epoch: int
    best_val_loss: float
    early_stopped: bool = False
    note: str = ""
    facts: dict = field(default_factory=dict)


def standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, np.float64)
    mean, scale = x.mean(0), x.std(0)
    return mean, np.where(scale > 1e-12, scale, 1.0)


def log_loss(p: np.ndarray, y: np.ndarray, classes: np.ndarray) -> float:
    col = {int(c): i for i, c in enumerate(classes)}
    picked = np.array([p[i, col[int(t)]] if int(t) in col else 0.0 for i, t in enumerate(y)])
    return float(-np.log(np.clip(picked, 1e-15, 1)).mean())


def accuracy(p: np.ndarray, y: np.ndarray, classes: np.ndarray) -> float:
    return float((classes[p.argmax(1)] == y).mean())


def _entry(epoch, p_tr, y_tr, p_va, y_va, classes, t0, t_step, best) -> dict:
    return {"epoch": epoch, "train_loss": log_loss(p_tr, y_tr, classes), "train_acc": accuracy(p_tr, y_tr, classes),
            "val_loss": log_loss(p_va, y_va, classes), "val_acc": accuracy(p_va, y_va, classes),
            "seconds": time.perf_counter() - t_step, "elapsed": time.perf_counter() - t0, "best": best}


class GridFit:
    """Fit one estimator per ``C`` of :data:`C_GRID`; keep the one of lowest validation loss."""

    def __init__(self, family: str):
        self.family = family

    def estimator(self, c: float, seed: int):
        if self.family == "logistic":
            from sklearn.linear_model import LogisticRegression

            return LogisticRegression(C=c, max_iter=2000)
        from sklearn.svm import SVC

        return SVC(C=c, kernel="rbf", gamma="scale", probability=True, random_state=seed)

    def fit(self, x_tr, y_tr, x_va, y_va, config, cancel: threading.Event, n_classes: int = 10) -> FitResult | None:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):  # (see BoostingFit.fit)
            return self._fit(x_tr, y_tr, x_va, y_va, config, cancel, n_classes)

    def _fit(self, x_tr, y_tr, x_va, y_va, config, cancel, n_classes) -> FitResult | None:
        t0 = time.perf_counter()
        mean, scale = standardise(x_tr)
        z_tr, z_va = (np.asarray(x_tr, np.float64) - mean) / scale, (np.asarray(x_va, np.float64) - mean) / scale
        history, best, search = [], None, []
        for k, c in enumerate(C_GRID, start=1):
            if cancel.is_set():
                break
            t_step = time.perf_counter()
            with warnings.catch_warnings():
                # SVC(probability=True) is deprecated in scikit-learn 1.9 (removed in 1.11): the arrays it
                # leaves (probA_/probB_) are what the studio keeps, and requirements.txt pins below 1.11
                warnings.filterwarnings("ignore", category=FutureWarning)
                est = self.estimator(c, config.seed).fit(z_tr, y_tr)
            entry = _entry(k, est.predict_proba(z_tr), y_tr, est.predict_proba(z_va), y_va, est.classes_, t0,
                           t_step, False)
            search.append({"C": c, "val_loss": entry["val_loss"], "val_acc": entry["val_acc"]})
            if best is None or entry["val_loss"] < best[1]["val_loss"] - 1e-9:
                best = (est, entry)
            history.append(entry)
        if best is None:
            return None  # cancelled before the first fit finished
        best[1]["best"] = True
        family, arrays = to_arrays(best[0], mean, scale)
        model = array_model(family, arrays, n_classes)
        chosen = C_GRID[history.index(best[1])]
        return FitResult(model, {"shapes": model.shapes()}, history, best[1]["epoch"], best[1]["val_loss"],
                         note=f"fitted by scikit-learn; C = {chosen:g} chosen on validation (grid "
                              f"{', '.join(f'{c:g}' for c in C_GRID)})",
                         facts={"search": search, "chosen": {"C": chosen}, "fitted_values": model.size()})


class BoostingFit:
    """HistGradientBoosting: ``config.epochs`` boosting iterations at learning rate ``config.lr``;
    the iteration of lowest validation loss is kept (stopping ``config.patience`` after it)."""

    def fit(self, x_tr, y_tr, x_va, y_va, config, cancel: threading.Event, n_classes: int = 10) -> FitResult | None:
        # One OpenMP thread: on a few shared cores scikit-learn's default (a thread per core it sees)
        # made a 20-iteration fit on 443 tracks take 85 s instead of 1.5 s.
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            return self._fit(x_tr, y_tr, x_va, y_va, config, cancel, n_classes)

    def _fit(self, x_tr, y_tr, x_va, y_va, config, cancel, n_classes) -> FitResult | None:
        from sklearn.ensemble import HistGradientBoostingClassifier

        t0 = time.perf_counter()
        if cancel.is_set():
            return None
        mean, scale = standardise(x_tr)
        z_tr, z_va = (np.asarray(x_tr, np.float64) - mean) / scale, (np.asarray(x_va, np.float64) - mean) / scale
        # fitted in chunks (warm start): a fit that stops early never pays for the iterations after it
        est = HistGradientBoostingClassifier(max_iter=0, learning_rate=config.lr, early_stopping=False,
                                             random_state=config.seed, warm_start=True)
        history: list[dict] = []
        best_loss, best_it, since, done = np.inf, 0, 0, 0
        while done < config.epochs and since < config.patience and not cancel.is_set():
            t_step = time.perf_counter()
            est.max_iter = min(config.epochs, done + CHUNK)
            est.fit(z_tr, y_tr)
            staged = zip(est.staged_predict_proba(z_tr), est.staged_predict_proba(z_va), strict=True)
            for it, (p_tr, p_va) in enumerate(staged, start=1):
                if it <= done:
                    continue
                entry = _entry(it, p_tr, y_tr, p_va, y_va, est.classes_, t0, t_step, False)
                if entry["val_loss"] < best_loss - 1e-6:
                    best_loss, best_it, since = entry["val_loss"], it, 0
                    entry["best"] = True
                else:
                    since += 1
                history.append(entry)
                if since >= config.patience:
                    break
            done = est.max_iter
        if best_it == 0:
            return None  # cancelled before the first boosting iteration
        est._predictors = est._predictors[:best_it]
        family, arrays = to_arrays(est, mean, scale)
        model = array_model(family, arrays, n_classes)
        return FitResult(model, {"shapes": model.shapes()}, history, best_it, best_loss,
                         early_stopped=since >= config.patience,
                         note=f"fitted by scikit-learn; {best_it} boosting iterations chosen on validation",
                         facts={"chosen": {"iterations": best_it}, "fitted_values": model.size()})
