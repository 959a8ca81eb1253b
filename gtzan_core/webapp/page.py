"""What every page does first, importing nothing but Streamlit: run inside ``app.py``'s
navigation, and take down the skeleton ``app.py`` drew while the heavy modules load."""

from __future__ import annotations

import contextlib

import streamlit as st

#: Where ``app.py`` keeps this run's skeleton placeholder (an ``st.empty``) for the page to clear.
SKELETON = "_page-skeleton"


def ensure_app_navigation() -> None:
    """Called first by every page: make sure the page runs inside ``app.py``'s navigation.

    A fresh server whose first request is a page URL (a bookmark such as
    ``/train?who=alice``) runs that page alone, in Streamlit's legacy ``pages/``
    mode: its list of file names in the sidebar, the narrow layout, and ``app.py``
    never ran. Streamlit decides this per process from a class flag that
    ``st.navigation`` clears (it is set at start-up because the project keeps its
    ``pages/`` folder, a fixed part of its layout). When a page finds the flag still
    set, it runs ``app.py`` itself, in this same script run, and stops: ``app.py``'s
    ``st.navigation`` resolves the URL to this page and runs it inside the app's
    navigation, with the six pages and the wide layout, the visitor's widget actions
    intact (a rerun would drop a click). This is what Streamlit's legacy mode does
    for the root URL (``app.py`` nested in it), and every later request of the
    server runs ``app.py`` first anyway. Pages call it before their heavy imports, so
    ``app.py``'s skeleton is drawn first in this case too."""
    import runpy

    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if not PagesManager.uses_pages_directory or ctx is None:
        return
    PagesManager.uses_pages_directory = False
    runpy.run_path(str(ctx.pages_manager.main_script_path), run_name="__main__")
    st.stop()


def hide_developer_options() -> None:
    """A classroom instance shows its visitors no Streamlit developer options (Deploy,
    Rerun, Clear cache, the developer menu): ``client.toolbarMode`` is ``viewer``
    (:func:`gtzan_core.classroom.rules.toolbar_mode`). ``deploy/start.sh`` sets it when it
    starts the server; a classroom started another way (``streamlit run app.py`` with
    ``GTZAN_STUDIO_MODE=classroom``) gets it here, at the server's first script run, which
    then runs once more: Streamlit tells the browser the toolbar mode as each run starts.
    A stricter mode chosen by hand (``minimal``) is kept; personal mode is left alone."""
    from streamlit import config

    from ..classroom.rules import toolbar_mode
    from ..errors import ConfigError

    try:
        mode = toolbar_mode()
    except ConfigError:  # a bad GTZAN_STUDIO_MODE: the page says so (identity_sidebar)
        return
    if mode == "auto" or config.get_option("client.toolbarMode") not in ("auto", "developer"):
        return
    st.set_option("client.toolbarMode", mode)
    if config.get_option("client.toolbarMode") == mode:  # never a loop of reruns
        st.rerun()


def clear_skeleton() -> None:
    """Take down the placeholder ``app.py`` drew before the page's heavy imports (a no-op
    when there is none: a warm server draws none, and a page run alone has none)."""
    placeholder = st.session_state.pop(SKELETON, None)
    if placeholder is not None:
        with contextlib.suppress(Exception):  # a placeholder of a run that has ended: nothing to take down
            placeholder.empty()


def show_error(exc: Exception) -> None:
    """One clear line for user errors; the traceback only for bugs. Drawn as text (a
    message may quote a visitor's name, file or folder: ``formatting.md_text``)."""
    from ..errors import StudioError
    from .formatting import md_text

    if isinstance(exc, StudioError):
        st.error(md_text(str(exc)))
    else:
        st.error(md_text(f"Unexpected error: {type(exc).__name__}: {exc}"))
        st.exception(exc)
