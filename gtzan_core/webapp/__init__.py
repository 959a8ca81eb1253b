"""Streamlit glue shared by the pages; pages stay thin views over it and the rest of
``gtzan_core`` (which never imports this package); nothing here calls ``st.*`` from a
worker thread.

=================  ===========================================================================
module             what it holds
=================  ===========================================================================
``page``           what every page does first: run inside ``app.py``'s navigation, take down
                   the skeleton ``app.py`` drew; ``show_error`` (Streamlit only: imported
                   before the heavy modules)
``resources``      the server's shared objects: the job manager and its run store, the GTZAN
                   download, the demo-set build
``identity``       settings, the sign-in (OIDC, claimed names with a token that survives a
                   reload, personal names), the admin, the guessing limits, the sidebar block
``datasets``       the session's (or class's) dataset, typed paths, summaries, split checks,
                   the device
``hyperparameters`` the Train form's hyperparameters, one expander per chosen model
``grids``          data grids for people: number formats, a dash for what is missing
``formatting``     words from run records: labels, dataset names, job progress and its ETA
                   range, training summaries, split warnings; visitors' strings drawn as
                   text (``md_text``, ``md_code``, ``md_frame``, ``plain_text``; no Streamlit)
``uploads``        decoding a visitor's audio on Predict, one decode at a time per server
``machine``        Home's "This machine" panel: the doctor's checks for whoever runs it
``listening``      Compare's confusion cells and report rows to listen to, two runs'
                   disagreements, a run's map (sound read from the run's own dataset only)
``dataset_view``   what the Dataset page reads: tracks, split parts, repeats, a track's bytes
=================  ===========================================================================

Names are loaded from their module when first asked for (``from gtzan_core.webapp import
x``): a page imports ``ensure_app_navigation`` before anything heavy (torch, librosa), so
``app.py``'s first paint is never held up by them.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "page": ["SKELETON", "clear_skeleton", "ensure_app_navigation", "show_error"],
    "resources": ["demo_job", "download_job", "ensure_demo", "executor_label", "executor_problem", "finished_runs",
                  "job_manager", "ray_address", "run_records", "start_weights_fetch", "store", "weights_job",
                  "weights_status"],
    "identity": ["COOKIE", "admin_name_reset", "attempt_limiter", "auth_configured", "can_modify_run",
                 "check_modify_run", "claimed_name_sign_in", "claimed_user", "current_user", "guesser_keys",
                 "identity_sidebar", "is_admin", "name_registry", "names_claimed", "session_key", "settings",
                 "sign_in_as", "sign_out", "token_book"],
    "datasets": ["DEMO_LABEL", "allowed_data_roots", "check_user_path", "class_dataset", "data_path", "preflight_jobs",
                 "dataset_summary", "default_data_path", "device_label", "set_data_path"],
    "grids": ["run_grid"],
    "hyperparameters": ["hyperparameter_inputs"],
    "formatting": ["dataset_name", "duration_text", "empty_jobs_text", "job_progress", "md_code", "md_frame", "md_text",
                   "plain_frame", "plain_text", "plan_estimate", "pretrained_text", "run_label", "score_metrics",
                   "search_trial_text", "split_warning_text", "status_text", "stopped_by_hand", "training_text"],
    "uploads": ["decode_upload"],
    "machine": ["machine_panel"],
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # found once
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
