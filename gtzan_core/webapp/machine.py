"""Home's "This machine" panel: the checks of ``python -m gtzan_core doctor``
(:mod:`gtzan_core.doctor`) for whoever runs the instance (the admin on a class's
instance; the one user of a personal one), on request (the numba check starts a child
process, a few seconds)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from .formatting import md_text
from .identity import is_admin, settings

RESULT = "machine-checks"


def machine_panel() -> None:
    """The doctor's checks in an expander, run when asked; nothing for a class's visitors."""
    if settings().classroom and not is_admin():
        return
    from ..doctor import all_ok, checks

    with st.expander("This machine: does it keep the studio's promises?"):
        st.caption("The checks of the command line's doctor. Python, torch and its device, librosa's numba cache "
                   "(loaded in a child process, so a damaged "
                   "cache is reported, not fatal), the run store and the studio home, the starters, musicnn's "
                   "weights and the optional extras: one line each.")
        if st.button("Check this machine", key="machine-check"):
            with st.spinner("Checking (librosa's numba cache loads in a child process)…"):
                st.session_state[RESULT] = checks()
        found = st.session_state.get(RESULT)
        if found is None:
            return
        if all_ok(found):
            st.success("All the README's promises hold on this machine.")
        else:
            failed = ", ".join(c.name for c in found if c.required and not c.ok)
            st.error(md_text(f"Not as the README promises: {failed}."))
        st.dataframe(pd.DataFrame([{"": "✅" if c.ok else ("❌" if c.required else "➖"), "check": c.name,
                                    "required": "yes" if c.required else "optional", "what was found": c.detail}
                                   for c in found]), hide_index=True)
