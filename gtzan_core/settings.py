"""Every ``GTZAN_STUDIO_*`` environment variable, read and checked in one place.

Each setting is declared once in :data:`SETTINGS` (its type, default, bounds and what
it does: docs/reference/settings.md is made from this list); :func:`get` reads one, and a bad value is
a :class:`~gtzan_core.errors.ConfigError` in one style, naming the variable, its
value and what was expected. Modules never read ``os.environ`` for these themselves.
A blank value counts as unset.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError


@dataclass(frozen=True)
class Setting:
    name: str
    type: str  # "path", "text", "int", "number", "flag" or "choice"
    default: Any
    help: str
    minimum: float | None = None
    choices: tuple[str, ...] = ()
    secret: bool = False  # never passed on to other processes (Ray task environments)


_S = [
    Setting("GTZAN_STUDIO_HOME", "path", None, "the studio's own files: demo set, feature cache, weights, locks, "
            "claimed names (default ~/.cache/gtzan-studio)"),
    Setting("GTZAN_STUDIO_RUNS", "path", None, "the run store (default: the checkout's checkpoints/, else "
            "$GTZAN_STUDIO_HOME/checkpoints)"),
    Setting("GTZAN_STUDIO_WEIGHTS", "path", None, "the folder musicnn's weights are fetched into and read from "
            "(default $GTZAN_STUDIO_HOME/weights)"),
    Setting("GTZAN_STUDIO_HPARAMS", "path", None, "a recipes file instead of the packaged hparams.yaml"),
    Setting("GTZAN_STUDIO_DATA", "path", None, "the app's default dataset folder (default: the synthetic demo set)"),
    Setting("GTZAN_STUDIO_DATA_ROOTS", "text", None, "folders (separated by the OS path separator) under which a "
            "folder typed in the app must lie (default: home, the working folder, the studio home)"),
    Setting("GTZAN_STUDIO_OFFLINE", "flag", False, "never download anything: torchvision's ImageNet weights, or "
            "musicnn's wheel at the first start (the EfficientNet-Lite0 starter answers without it)"),
    Setting("GTZAN_STUDIO_DEMO_PER_GENRE", "int", 20, "tracks per genre of the generated demo set", minimum=1),
    Setting("GTZAN_STUDIO_DEMO_SECONDS", "number", 30.0, "length of each demo track in seconds", minimum=1),
    Setting("GTZAN_STUDIO_MODE", "choice", "personal", "personal (one user) or classroom (a shared instance)",
            choices=("personal", "classroom")),
    Setting("GTZAN_STUDIO_ADMIN_PASSWORD", "text", None, "the classroom admin's password (or admin_password in "
            ".streamlit/secrets.toml)", secret=True),
    Setting("GTZAN_STUDIO_MAX_JOBS", "int", 2, "jobs queued or running per owner on a classroom instance", minimum=1),
    Setting("GTZAN_STUDIO_MAX_EPOCHS", "int", None, "epochs per job on a classroom instance (default: no cap)",
            minimum=1),
    Setting("GTZAN_STUDIO_UPLOAD_MB", "int", 50, "largest audio upload in MB (Streamlit's maxUploadSize: "
            "deploy/start.sh passes this value; .streamlit/config.toml holds the default, checked against it by "
            "tests/project/test_settings_declared.py); the classroom's limit on an upload", minimum=1),
    Setting("GTZAN_STUDIO_MAX_STORAGE_MB", "int", None, "run-store space per owner in MB (default: no cap)",
            minimum=1),
    Setting("GTZAN_STUDIO_MAX_JOB_MB", "int", None, "memory one training job may take in MB, checked against its "
            "estimate before it is queued (default: the machine's physical memory)", minimum=1),
    Setting("GTZAN_STUDIO_TRASH_DAYS", "number", 7.0, "days a deleted run stays in the trash (0: purged at the "
            "next look)", minimum=0),
    Setting("GTZAN_STUDIO_JOBS_PER_GPU", "int", 1, "training jobs at once on each GPU", minimum=1),
    Setting("GTZAN_STUDIO_GPU_SLOTS", "choice", "studio", "who places GPU jobs: the studio's slot files, or ray "
            "(set by the Ray executor on its workers)", choices=("studio", "ray")),
    Setting("GTZAN_STUDIO_TRAIN_NICE", "int", 0, "run training threads this many steps nicer (Linux), so "
            "predictions win on a busy CPU", minimum=0),
    Setting("GTZAN_STUDIO_RAY_ADDRESS", "text", None, "run the app's jobs on this Ray cluster (auto or host:port)"),
    Setting("GTZAN_STUDIO_RAY_CPUS_PER_JOB", "number", 1.0, "CPUs a job asks for on a Ray cluster without GPUs",
            minimum=0.01),
    Setting("GTZAN_STUDIO_RAY_MAX_JOBS", "int", 64, "at most this many jobs in flight on a Ray cluster", minimum=1),
    # read by deploy/start.sh (and the Dockerfile) only, declared here like every other one
    Setting("GTZAN_STUDIO_DATA_DIR", "path", "/data", "deploy/start.sh: the persistent folder a hosted instance "
            "keeps everything in (its studio home, run store and torch's weights, unless those are set)"),
    Setting("GTZAN_STUDIO_ADDRESS", "text", "0.0.0.0", "deploy/start.sh: the address the server binds"),
]
SETTINGS: dict[str, Setting] = {s.name: s for s in _S}


def get(name: str, env: Mapping[str, str] | None = None):
    """The value of setting ``name`` in ``env`` (default: the process environment),
    checked and converted; its default when unset or blank."""
    setting = SETTINGS[name]
    raw = (os.environ if env is None else env).get(name, "")
    raw = raw.strip() if setting.type != "text" or not setting.secret else raw
    if raw == "":
        return setting.default
    if setting.type == "flag":
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name}={raw!r}: expected 1 or 0")
    if setting.type == "choice":
        value = raw.lower()
        if value not in setting.choices:
            raise ConfigError(f"{name}={raw!r}: choose {' or '.join(setting.choices)}")
        return value
    if setting.type in ("int", "number"):
        cast = int if setting.type == "int" else float
        try:
            value = cast(raw)
        except ValueError:
            raise ConfigError(f"{name}={raw!r}: expected {'a whole number' if cast is int else 'a number'}") from None
        if setting.minimum is not None and value < setting.minimum:
            raise ConfigError(f"{name}={raw!r}: must be at least {setting.minimum:g}")
        return value
    return raw


def studio_environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The ``GTZAN_STUDIO_*`` variables set here, secrets left out: what another process
    of the studio (a Ray task) is given."""
    env = os.environ if env is None else env
    return {k: v for k, v in env.items() if k.startswith("GTZAN_STUDIO_")
            and not (k in SETTINGS and SETTINGS[k].secret)
            and not any(word in k for word in ("PASSWORD", "SECRET", "TOKEN"))}


def settings_table() -> str:
    """The table of settings (Markdown) of the documentation's settings page (docs/gen.py), from :data:`SETTINGS`."""
    rows = ["| variable | default | what it does |", "|---|---|---|"]
    for s in _S:
        default = "—" if s.default in (None, "") else ("off" if s.default is False else f"`{s.default}`")
        rows.append(f"| `{s.name}` | {default} | {s.help} |")
    return "\n".join(rows)
