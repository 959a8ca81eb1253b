"""The feature study: which groups of handcrafted audio features help, for each classic
model family (``python -m gtzan_core features-study``).

Feature sets grow one group at a time, as the paper's "Future Work" asks ("exploring the
impact of different audio features"): MFCC only, + chroma, + spectral, + rhythm, and
*all* (every group the source has: on the studio's own extraction that adds spectral
contrast, tonnetz and onset statistics, which the Kaggle table lacks). Each set is fed to
four model families with hyperparameters **fixed in advance** (:data:`MODEL_FAMILIES`;
nothing is tuned, on validation or test): logistic regression, an RBF SVM,
HistGradientBoosting and a multilayer perceptron (scikit-learn's ``MLPClassifier``, not
the paper's torch MLP). Features are standardised with the training part's mean and sd
only. Validation accuracy is reported beside test accuracy; neither chooses anything.

Sources:

* a **Kaggle-style feature table** (``features_30_sec.csv``: ``filename``, ``label`` and
  the 57 feature columns; the Kaggle table's features were computed from the 30 s clips);
* a **folder of audio** (any layout ``--data`` takes), each clip's vector computed by the
  studio itself (:func:`gtzan_core.audio_features.extract`), cached in the studio home.

Protocols: ``track`` (70/15/15 stratified by genre; seed = split seed = model seed) and
``filtered`` (Kereliuk & Sturm's artist-filtered split, fixed; the seed varies the model
only, so the deterministic families, logistic regression, the SVM and HistGradientBoosting
without early stopping, show sd 0).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError, DatasetError
from ..progress import ProgressFn, report

KIND = "feature_study"
#: The groups added one at a time, in this order (then "all").
CUMULATIVE = ("mfcc", "chroma", "spectral", "rhythm")
STEP_LABELS = {"mfcc": "MFCC only", "chroma": "+ chroma", "spectral": "+ spectral", "rhythm": "+ rhythm",
               "all": "all groups"}
PROTOCOLS = ("track", "filtered")
#: Tracks of each kind of source, as the tables say them.
SOURCE_LABELS = {"kaggle": "Kaggle feature table", "audio": "studio extraction from audio"}


@dataclass(frozen=True)
class ModelFamily:
    name: str
    title: str
    hparams: dict

    def make(self, seed: int):
        """A fresh, unfitted estimator with the fixed hyperparameters and ``seed``."""
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.linear_model import LogisticRegression
        from sklearn.neural_network import MLPClassifier
        from sklearn.svm import SVC

        makers = {"logreg": LogisticRegression, "svm": SVC, "hgb": HistGradientBoostingClassifier,
                  "mlp": MLPClassifier}
        params = dict(self.hparams)
        if self.name in ("hgb", "mlp"):
            params["random_state"] = seed
        return makers[self.name](**params)


#: The model families and their hyperparameters, fixed before any run (never tuned).
MODEL_FAMILIES: dict[str, ModelFamily] = {m.name: m for m in (
    ModelFamily("logreg", "logistic regression", {"C": 1.0, "max_iter": 5000}),
    ModelFamily("svm", "RBF SVM", {"kernel": "rbf", "C": 10.0, "gamma": "scale"}),
    ModelFamily("hgb", "HistGradientBoosting", {"learning_rate": 0.1, "max_iter": 100, "max_leaf_nodes": 15,
                                                 "l2_regularization": 1.0, "early_stopping": False}),
    ModelFamily("mlp", "MLP (scikit-learn MLPClassifier)",
                {"hidden_layer_sizes": (256, 128), "alpha": 0.001, "learning_rate_init": 0.001, "max_iter": 500,
                 "early_stopping": True, "validation_fraction": 0.1, "n_iter_no_change": 20}),
)}


# ---------------------------------------------------------------------------
# Feature groups
# ---------------------------------------------------------------------------

def feature_groups() -> dict[str, tuple[str, ...]]:
    """The feature groups and their columns (:data:`gtzan_core.audio_features.GROUPS`)."""
    from ..audio_features import GROUPS

    return {g: tuple(cols) for g, cols in GROUPS.items()}


def study_steps(available: list[str], groups: dict[str, tuple[str, ...]]) -> list[tuple[str, list[str]]]:
    """The cumulative feature sets over the groups ``available`` in a source: ``[("mfcc",
    ["mfcc"]), ("chroma", ["mfcc", "chroma"]), ..., ("all", every available group)]``;
    "all" only when it adds a group beyond the last cumulative step."""
    steps: list[tuple[str, list[str]]] = []
    so_far: list[str] = []
    for g in CUMULATIVE:
        if g in available:
            so_far = so_far + [g]
            steps.append((g, list(so_far)))
    rest = [g for g in groups if g in available and g not in so_far]
    if rest:
        steps.append(("all", so_far + rest))
    return steps


# ---------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------

@dataclass
class FeatureTable:
    """One vector per track: ``tracks`` (track_id, genre, label) and ``X`` (one column per feature)."""

    tracks: pd.DataFrame
    X: pd.DataFrame
    source: str  # "kaggle" or "audio"
    description: str
    groups: list[str]  # the groups whose every column is present

    def columns(self, groups: list[str], table: dict[str, tuple[str, ...]]) -> list[str]:
        return [c for g in groups for c in table[g]]


def read_feature_table(path: str | Path) -> FeatureTable:
    """A Kaggle-style feature CSV (``filename``, ``label``, feature columns), checked:
    a missing file, a missing ``filename``/``label`` column, a feature column that is not
    numbers (or holds blanks), a repeated track or a group with only some of its columns is
    refused with one line naming what is wrong."""
    from .. import GENRES

    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"no feature table at {path}" + (" (a folder: give the CSV file)" if path.is_dir() else ""))
    try:
        df = pd.read_csv(path)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path.name} is not a readable CSV: {str(exc).splitlines()[0][:200]}") from None
    missing = [c for c in ("filename", "label") if c not in df.columns]
    if missing:
        raise DatasetError(f"{path.name} has no {' or '.join(missing)} column (a Kaggle features_30_sec.csv has both)")
    groups = feature_groups()
    present = [g for g, cols in groups.items() if all(c in df.columns for c in cols)]
    partial = {g: [c for c in cols if c not in df.columns] for g, cols in groups.items()
               if g not in present and any(c in df.columns for c in cols)}
    if partial:
        said = "; ".join(f"{g} lacks {', '.join(cols[:4])}{' …' if len(cols) > 4 else ''}"
                         for g, cols in partial.items())
        raise DatasetError(f"{path.name}: some feature groups are incomplete ({said})")
    if "mfcc" not in present:
        raise DatasetError(f"{path.name} has none of the MFCC columns (mfcc1_mean … mfcc20_var): not a Kaggle "
                           "feature table")
    used = [c for g in present for c in groups[g]]
    X = df[used].apply(pd.to_numeric, errors="coerce")
    bad = [c for c in used if X[c].isna().any()]
    if bad:
        raise DatasetError(f"{path.name}: column{'s' if len(bad) > 1 else ''} {', '.join(bad[:5])} "
                           f"{'hold' if len(bad) > 1 else 'holds'} blanks or text, not numbers")
    if not np.isfinite(X.to_numpy(dtype=float)).all():
        raise DatasetError(f"{path.name}: some feature values are infinite")
    labels = df["label"].astype(str).str.strip()
    if (labels == "").any() or labels.isin(["nan"]).any():
        raise DatasetError(f"{path.name}: some rows have no label")
    track_id = df["filename"].astype(str).str.strip().str.rsplit("/", n=1).str[-1]
    track_id = track_id.str.replace(r"\.(wav|au|mp3|flac|ogg)$", "", regex=True)
    dup = track_id[track_id.duplicated()].tolist()
    if dup:
        raise DatasetError(f"{path.name}: track {dup[0]} appears more than once ({len(dup)} repeated rows; a 3 s "
                           "table such as features_3_sec.csv holds ten rows per track: give the 30 s one)")
    names = sorted(labels.unique(), key=lambda g: (GENRES.index(g) if g in GENRES else len(GENRES), g))
    if len(names) < 2:
        raise DatasetError(f"{path.name}: only one label ({names[0]}); a classification needs two or more")
    tracks = pd.DataFrame({"track_id": track_id, "genre": labels,
                           "label": labels.map({g: i for i, g in enumerate(names)})})
    return FeatureTable(tracks.reset_index(drop=True), X.reset_index(drop=True).astype(float), "kaggle",
                        f"{path.name}: {len(df)} tracks, {len(used)} features", present)


EXTRACTION_VERSION = 1


def _audio_cache_path(dataset, names: list[str]) -> Path:
    from ..paths import feature_cache_dir

    key = hashlib.sha256(json.dumps([EXTRACTION_VERSION, dataset.fingerprint, names]).encode()).hexdigest()[:16]
    return feature_cache_dir() / "feature-study" / f"{key}.npz"


def audio_feature_table(data: str | Path, progress: ProgressFn | None = None, rebuild: bool = False) -> FeatureTable:
    """Every clip of the dataset at ``data`` as the studio's own feature vector (all groups),
    extracted once and cached in the studio home (``features/feature-study/``: arrays only,
    read without pickle); a clip that cannot be read is left out and named."""
    import io
    import warnings

    from ..audio import TARGET_SR, load_audio
    from ..audio_features import extract, feature_names
    from ..data import open_dataset
    from ..errors import AudioError
    from ..fileio import atomic_write_bytes

    dataset = open_dataset(data)
    tracks = dataset.tracks[dataset.tracks["audio_path"].notna()].reset_index(drop=True)
    if tracks.empty:
        raise DatasetError(f"{data}: no audio clips (the feature study extracts its vectors from audio)")
    groups = list(feature_groups())
    names = list(feature_names(groups))
    cache = _audio_cache_path(dataset, names)
    if cache.is_file() and not rebuild:
        with np.load(cache, allow_pickle=False) as z:
            ids, X = list(z["track_id"]), z["X"]
    else:
        rows, ids, refused = [], [], []
        for i, row in enumerate(tracks.itertuples()):
            try:
                y = load_audio(row.audio_path, sr=TARGET_SR)
                with warnings.catch_warnings():  # librosa's "n_fft too large" for the CQT's top octaves
                    warnings.simplefilter("ignore", UserWarning)
                    vec = extract(y, TARGET_SR, groups)
            except (AudioError, ValueError) as exc:
                refused.append(f"{row.track_id}: {exc}")
            else:
                rows.append([float(vec[n]) for n in names])
                ids.append(row.track_id)
            report(progress, i + 1, len(tracks), row.track_id)
        if not rows:
            raise DatasetError(f"{data}: no clip could be read ({refused[0] if refused else 'none'})")
        X = np.asarray(rows, dtype=np.float64)
        cache.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        np.savez(buf, track_id=np.asarray(ids, dtype=str), X=X)
        atomic_write_bytes(cache, buf.getvalue())
    keep = tracks.set_index("track_id").loc[ids].reset_index()
    return FeatureTable(keep[["track_id", "genre", "label"]].reset_index(drop=True),
                        pd.DataFrame(X, columns=names), "audio",
                        f"{Path(data).name}: {len(ids)} clips of {len(tracks)}, {len(names)} features "
                        f"({dataset.label})", groups)


# ---------------------------------------------------------------------------
# The study
# ---------------------------------------------------------------------------

def split_of(table: FeatureTable, protocol: str, seed: int):
    """The (train, val, test) row indices of ``protocol`` on ``table`` (see :mod:`gtzan_core.splits`)."""
    from ..splits import track_split

    if protocol not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {protocol!r}; the feature study runs {', '.join(PROTOCOLS)}")
    split = track_split(table.tracks, protocol, seed=seed)
    if protocol == "filtered" and min(len(split.train), len(split.val), len(split.test)) == 0:
        raise DatasetError("the artist-filtered split leaves a part empty on this table (too few GTZAN tracks)")
    return split


def fit_score(family: ModelFamily, X: np.ndarray, y: np.ndarray, split, seed: int) -> dict:
    """Fit one family on the training part (standardised with its own mean and sd) and
    score it on validation and test."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    model = make_pipeline(StandardScaler(), family.make(seed))
    # one thread: on a busy machine OpenMP's spinning threads make HistGradientBoosting ~25x slower
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X[split.train], y[split.train])
    val = float((model.predict(X[split.val]) == y[split.val]).mean()) if len(split.val) else float("nan")
    test = float((model.predict(X[split.test]) == y[split.test]).mean())
    return {"val": val, "test": test}


def _mean_sd(values: list[float]) -> tuple[float, float | None]:
    arr = np.asarray(values, dtype=float)
    return float(arr.mean()), (float(arr.std(ddof=1)) if len(arr) > 1 else None)


def run_study(table: FeatureTable, protocols: list[str] | tuple[str, ...] = PROTOCOLS, seeds: int = 3,
              models: list[str] | None = None, steps: list[str] | None = None,
              progress: ProgressFn | None = None) -> list[dict]:
    """One row per protocol, feature set and model family: test and validation accuracy
    (mean, sample sd over ``seeds`` seeds 0..seeds-1, and each seed's), the features and
    the part sizes. ``steps`` keeps only these feature sets (e.g. ``["mfcc"]``)."""
    if seeds < 1:
        raise ConfigError(f"seeds must be at least 1 (got {seeds})")
    models = list(models or MODEL_FAMILIES)
    unknown = [m for m in models if m not in MODEL_FAMILIES]
    if unknown:
        raise ConfigError(f"unknown model family {', '.join(unknown)}; choose from {', '.join(MODEL_FAMILIES)}")
    groups = feature_groups()
    plan = study_steps(table.groups, groups)
    if steps:
        bad = [s for s in steps if s not in STEP_LABELS]
        if bad:
            raise ConfigError(f"unknown feature set {', '.join(bad)}; choose from {', '.join(STEP_LABELS)}")
        plan = [p for p in plan if p[0] in steps]
        if not plan:
            raise ConfigError(f"this source has none of the feature sets {', '.join(steps)}")
    y = table.tracks["label"].to_numpy()
    splits = {(p, s): split_of(table, p, s) for p in protocols for s in range(seeds)}
    total, done, rows = len(protocols) * len(plan) * len(models) * seeds, 0, []
    for protocol in protocols:
        for step, step_groups in plan:
            cols = table.columns(step_groups, groups)
            X = table.X[cols].to_numpy(dtype=float)
            for name in models:
                scores = []
                for seed in range(seeds):
                    scores.append(fit_score(MODEL_FAMILIES[name], X, y, splits[(protocol, seed)], seed))
                    done += 1
                    report(progress, done, total, f"{protocol} · {step} · {name}")
                sp = splits[(protocol, 0)]
                test, test_sd = _mean_sd([s["test"] for s in scores])
                val, val_sd = _mean_sd([s["val"] for s in scores])
                rows.append({"source": table.source, "protocol": protocol, "step": step,
                             "step_label": STEP_LABELS[step], "groups": step_groups, "n_features": len(cols),
                             "model": name, "model_title": MODEL_FAMILIES[name].title,
                             "test_accuracy": test, "test_accuracy_sd": test_sd,
                             "val_accuracy": val, "val_accuracy_sd": val_sd,
                             "test_accuracies": [s["test"] for s in scores],
                             "val_accuracies": [s["val"] for s in scores],
                             "n_train": int(len(sp.train)), "n_val": int(len(sp.val)), "n_test": int(len(sp.test))})
    return rows


def study_result(rows: list[dict], table: FeatureTable, seeds: int, command: str, protocols) -> dict:
    """The result document of one study (see :mod:`.result_files`)."""
    from .result_files import new_result

    return new_result(
        KIND, f"Feature study · {SOURCE_LABELS[table.source]}", command, list(range(seeds)), rows,
        source={"kind": table.source, "label": SOURCE_LABELS[table.source], "description": table.description,
                "tracks": int(len(table.tracks))},
        protocols=list(protocols),
        models={m.name: {"title": m.title, "hparams": {k: list(v) if isinstance(v, tuple) else v
                                                       for k, v in m.hparams.items()}}
                for m in MODEL_FAMILIES.values()},
        groups={g: list(c) for g, c in feature_groups().items()},
        notes=["Hyperparameters fixed in advance; nothing tuned. Features standardised on the training part only.",
               "track: 70/15/15 stratified by genre, seeds 0.. = split and model seed; filtered: the fixed "
               "artist-filtered split (Kereliuk & Sturm), the seed varies the model only."])


def anchors() -> list[dict]:
    """Published figures the study is read beside (not measured here)."""
    return [{"what": "MFCC + SVM, artist-filtered split", "accuracy": 0.534,
             "source": "Kereliuk & Sturm's fault-filtered protocol"},
            {"what": "timbre + rhythm + pitch features, GMM/KNN", "accuracy": 0.61,
             "source": "Tzanetakis & Cook 2002 (random 10-fold cross-validation)"}]


def display_table(doc_or_rows, protocol: str | None = None) -> pd.DataFrame:
    """The study as display strings: one row per feature set, one column per model family
    (test accuracy mean ± sd, %), per protocol (or only ``protocol``)."""
    rows = doc_or_rows["rows"] if isinstance(doc_or_rows, dict) else doc_or_rows
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    if protocol is not None:
        df = df[df["protocol"] == protocol]

    def pct(v, sd):
        if v is None or v != v:
            return "—"
        return f"{100 * v:.1f}" + (f" ± {100 * sd:.1f}" if sd is not None and sd == sd else "") + " %"

    out = []
    for (proto, _step), grp in df.groupby(["protocol", "step"], sort=False):
        first = grp.iloc[0]
        line = {"protocol": proto, "features": first["step_label"], "n": int(first["n_features"])}
        for r in grp.itertuples():
            line[f"{r.model_title} · test"] = pct(r.test_accuracy, r.test_accuracy_sd)
            line[f"{r.model_title} · val"] = pct(r.val_accuracy, r.val_accuracy_sd)
        out.append(line)
    return pd.DataFrame(out)
