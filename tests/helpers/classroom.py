"""A classroom visitor's session under AppTest."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from .paths import ROOT


def visitor(page: str, name: str, timeout: float = 60) -> AppTest:
    """``name``'s session on ``page``: ``?who=`` pre-fills the name, the passcode signs in
    (the first visit claims the name with it); ``timeout``: AppTest's, in seconds."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    at.query_params["who"] = name
    at.run()  # through app.py (sidebar, navigation) before switching: see AppTest.switch_page
    at.sidebar.text_input(key="passcode-input").input(f"{name}-passcode")
    at.sidebar.button(key="name-sign-in").click().run()
    assert f"Signed in as **{name}**" in " ".join(c.value for c in at.sidebar.caption), at.sidebar.error
    at.switch_page(f"pages/{page}.py")
    return at.run()

