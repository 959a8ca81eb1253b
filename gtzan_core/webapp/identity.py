"""Who is here: the instance's settings, the sign-in (OIDC, a claimed name with its
passcode, or a typed name in personal mode), the admin, the limits on guessing, and
the sidebar block every page shows.

A claimed-name sign-in survives a reload and a new tab: the server gives the browser a
signed, expiring token (:mod:`gtzan_core.classroom.tokens`, never the bare name) in a
cookie, ``gtzan_signin`` (``SameSite=Strict``, ``Secure`` over https, as long-lived as
the token). Streamlit reads cookies (``st.context.cookies``) but cannot set them, so the
page sets it with one line of JavaScript (``st.html``) after a sign-in and clears it on
Sign out. Every script run verifies the token again, so Sign out (which revokes every
token of the name on the server) and the admin's reset of a name end the sign-in in
every tab and browser at their next rerun, whatever the browser keeps."""

from __future__ import annotations

import secrets

import streamlit as st

from ..audit import audit
from ..classroom import PermissionDenied, Settings, can_modify, check_admin_password, check_modify, load_settings
from ..classroom.attempts import SESSION, AttemptLimiter, address_key
from ..classroom.names import MAX_NAME, MAX_PASSCODE, MIN_PASSCODE, NameRegistry, name_problem, normalise_name
from ..classroom.tokens import TOKEN_SHAPE, TOKEN_TTL, TokenBook
from ..errors import StudioError
from ..paths import studio_home
from .formatting import md_text, plain_text
from .page import clear_skeleton, show_error

#: The cookie that carries a claimed name's sign-in token.
COOKIE = "gtzan_signin"


def _secrets() -> dict:
    try:
        return dict(st.secrets)
    except Exception:  # no secrets.toml: nothing configured
        return {}


def settings() -> Settings:
    """The instance's settings (``GTZAN_STUDIO_MODE`` and limits; see ``gtzan_core.classroom``)."""
    return load_settings(None, _secrets())  # (the environment, read by gtzan_core.settings)


def auth_configured() -> bool:
    """Whether the deployment configured an OIDC provider (``[auth]`` in secrets.toml)."""
    return "auth" in _secrets()


def names_claimed() -> bool:
    """Whether visitors sign in with a claimed name and passcode: a classroom instance
    without a sign-in provider (with OIDC, identity is ``st.user``; in personal mode a
    typed name is enough)."""
    return settings().classroom and not auth_configured()


@st.cache_resource(show_spinner=False)
def attempt_limiter() -> AttemptLimiter:
    """The server's one record of wrong passcodes and admin passwords, counted against
    the guesser (its session and client address), never against the name guessed."""
    return AttemptLimiter()


def name_registry() -> NameRegistry:
    return NameRegistry()


@st.cache_resource(show_spinner=False)
def _token_book(home: str) -> TokenBook:
    return TokenBook(home)


def token_book() -> TokenBook:
    """The sign-in tokens of this studio home (one object per home: it caches the issued list)."""
    return _token_book(str(studio_home()))


def session_key() -> tuple:
    """This browser session's key for the attempt limiter: a random token kept in the
    session's server-side state (the visitor cannot choose it; a reload is a new session)."""
    token = st.session_state.setdefault("attempts-session", secrets.token_hex(16))
    return SESSION, token


def guesser_keys() -> tuple:
    """Who is guessing, for the attempt limiter: the session, and the client's address
    where Streamlit knows it (``st.context.ip_address``; None on localhost)."""
    address = address_key(st.context.ip_address)
    return (session_key(),) + ((address,) if address else ())


# -- the claimed name's token -------------------------------------------------------------------------------------

def _cookie_token() -> str | None:
    try:
        value = st.context.cookies.get(COOKIE)
    except Exception:  # no browser context (bare mode, AppTest)
        return None
    return value if isinstance(value, str) and TOKEN_SHAPE.fullmatch(value) else None


def _remember_in_browser(token: str | None) -> None:
    """Set (or, with None, clear) the browser's cookie at this session's next sidebar."""
    st.session_state["signin-cookie"] = token or ""


def claimed_user() -> str | None:
    """The name this session signed in as: its token (given at sign-in, or found in the
    browser's cookie at the session's start), verified now."""
    token = st.session_state.get("signin-token")
    if token is None and not st.session_state.get("signin-cookie-read"):
        st.session_state["signin-cookie-read"] = True  # the session's cookie, looked at once
        token = _cookie_token()
    if not token:
        return None
    try:
        name = token_book().verify(token)
    except StudioError:  # a damaged secret: nobody is signed in (the sign-in form says why)
        name = None
    if name is None:  # expired, revoked (signed out elsewhere, the name reset), another server's
        if st.session_state.pop("signin-token", None) is not None or _cookie_token() == token:
            _remember_in_browser(None)
        return None
    st.session_state["signin-token"] = token
    return name


def sign_in_as(name: str) -> None:
    """This session is ``name`` from now on, and so is every new session of this browser."""
    token = token_book().issue(name)
    st.session_state["signin-token"] = token
    _remember_in_browser(token)


def sign_out() -> None:
    """End the name's sign-in everywhere (every token of it), and the admin's in this session."""
    me = claimed_user()
    if me:
        token_book().revoke_name(me)
    st.session_state.pop("signin-token", None)
    st.session_state.pop("is_admin", None)
    _remember_in_browser(None)


def _cookie_script() -> None:
    """The pending cookie change, as one line of JavaScript (drawn once)."""
    token = st.session_state.pop("signin-cookie", None)
    if token is None:
        return
    if token and not TOKEN_SHAPE.fullmatch(token):  # never anything but a token in the script
        return
    age = int(TOKEN_TTL) if token else 0
    st.html(f"<script>document.cookie = '{COOKIE}={token}; Max-Age={age}; Path=/; SameSite=Strict' + "
            f"(location.protocol === 'https:' ? '; Secure' : '');</script>", unsafe_allow_javascript=True,
            width="content")


# -- who -----------------------------------------------------------------------------------------------------------

def current_user() -> str | None:
    """Who this session is: the signed-in user (OIDC, ``st.user``) when the deployment
    configures a provider; on a classroom instance without one, the name this session
    (or an earlier one of this browser) signed in as with its passcode (``?who=`` only
    pre-fills the name); in personal mode the display name the visitor typed (kept in
    the session and ``?who=``)."""
    if auth_configured():
        user = st.user
        if not user.is_logged_in:
            return None
        return str(user.get("email") or user.get("name") or user.get("sub"))
    if names_claimed():
        return claimed_user()
    name = st.session_state.get("visitor")
    if name is None:
        name = _remember_personal_name(st.query_params.get("who", ""))
    return name or None


def personal_name(text: str) -> tuple[str | None, str | None]:
    """A typed (personal-mode) name: ``(name, None)`` when it follows the rules of names
    (:func:`gtzan_core.classroom.names.name_problem`), ``(None, why)`` when not, ``(None,
    None)`` for nothing typed."""
    name = normalise_name(text)
    if not name:
        return None, None
    problem = name_problem(name)
    return (None, problem) if problem else (name, None)


def _remember_personal_name(text: str) -> str:
    name, problem = personal_name(text)
    st.session_state["visitor"] = name or ""
    st.session_state["visitor-problem"] = problem
    return name or ""


def is_admin() -> bool:
    return bool(st.session_state.get("is_admin"))


def can_modify_run(record: dict) -> bool:
    return can_modify(settings(), current_user(), is_admin(), record)


def check_modify_run(record: dict, action: str) -> None:
    check_modify(settings(), current_user(), is_admin(), record, action)


# -- the sidebar ---------------------------------------------------------------------------------------------------

def identity_sidebar() -> None:
    """The sidebar block every page shows: who you are, and on a classroom instance
    its rules and the admin sign-in. (The page's heavy modules are loaded by now: the
    skeleton ``app.py`` drew is taken down first.)"""
    clear_skeleton()
    from .resources import start_numba_warmup, start_weights_fetch

    start_weights_fetch()  # the first start fetches musicnn's weights in the server's background (once per machine)
    start_numba_warmup()  # and makes librosa's numba cache whole, in a child process (gtzan_core.numba_cache)
    conf = settings()
    with st.sidebar:
        _cookie_script()  # first: by the time "Signed in as" shows, the browser has the cookie's script
        if auth_configured():
            if st.user.is_logged_in:
                st.caption(f"Signed in as **{md_text(current_user())}**")
                st.button("Log out", on_click=st.logout, key="logout")
            else:
                st.button("Log in", on_click=st.login, key="login", type="primary")
        elif names_claimed():
            claimed_name_sign_in()
        else:
            def remember():
                name = _remember_personal_name(st.session_state.get("visitor-input", ""))
                if name:
                    st.query_params["who"] = name
                elif "who" in st.query_params:
                    del st.query_params["who"]

            st.text_input("Your name", value=current_user() or "", key="visitor-input", on_change=remember,
                          placeholder="shown on your runs", max_chars=40,
                          help="Kept for this session and in the page address (?who=): bookmark it.")
            if problem := st.session_state.get("visitor-problem"):
                st.error(md_text(problem))
        if conf.classroom:
            epochs = f", at most {conf.max_epochs} epochs each" if conf.max_epochs else ""
            st.caption(f"Shared classroom instance: you can stop and delete only your own runs; "
                       f"{conf.max_jobs} job(s) at a time{epochs}; the queue takes turns between people.")
            if is_admin():
                st.caption("🔑 signed in as admin")
                if names_claimed():
                    admin_name_reset()
            elif conf.admin_password:
                with st.expander("Admin"):
                    attempt = st.text_input("Admin password", type="password", key="admin-password")
                    if st.button("Sign in as admin", key="admin-sign-in"):
                        try:  # audited first: a sign-in the log cannot hold (a full disk) does not happen
                            ok = attempt_limiter().attempt("admin password", guesser_keys(),
                                                           lambda: check_admin_password(conf, attempt))
                            from .resources import store

                            audit(store().root, current_user(), "admin sign-in" if ok else "admin sign-in refused")
                        except StudioError as exc:
                            show_error(exc)
                        else:
                            if ok:
                                st.session_state["is_admin"] = True
                                st.rerun()
                            st.error("wrong password")


def claimed_name_sign_in() -> None:
    """A classroom instance without a sign-in provider: sign in as a name with its
    passcode, or claim a new name by choosing one. ``?who=`` only pre-fills the name."""
    from .resources import store

    me = claimed_user()
    if me:
        st.caption(f"Signed in as **{md_text(me)}**")
        if st.button("Sign out", key="sign-out", help="Signs this name out in every tab and browser"):
            try:
                sign_out()
            except StudioError as exc:  # a full disk: the tokens stay valid, say so
                show_error(exc)
            else:
                st.rerun()
        return
    typed = st.text_input("Your name", value=normalise_name(st.query_params.get("who", "")), key="name-input",
                          max_chars=MAX_NAME, placeholder="shown on your runs",
                          help="Claim a name with a passcode the first time; give the passcode to act as it later, "
                               "from any browser. This browser stays signed in (reloads, new tabs) until you sign "
                               f"out, for at most {TOKEN_TTL // 3600} hours.")
    name = normalise_name(typed)
    if not name:
        st.caption("Enter your name to start jobs and manage your runs.")
        return
    registry = name_registry()
    try:  # a claimed name signs in (one claimed before today's rules too); a new one must follow them
        stored = registry.find(name)
        problem = None if stored else registry.claim_problem(name)
    except StudioError as exc:
        show_error(exc)
        return
    if problem:
        st.error(md_text(problem))
        return
    claimed = stored is not None
    label = "Passcode" if claimed else "Choose a passcode to claim this name"
    # a form: Enter in the passcode field submits it (the name above, outside it, commits on Enter or Tab
    # and decides between signing in and claiming). No max_chars: Streamlit would draw a "n/129" counter
    # under a passcode; the length is checked below instead, before anything is tried.
    with st.form("name-sign-in-form", border=False, enter_to_submit=True):
        passcode = st.text_input(label, type="password", key="passcode-input",
                                 help=None if claimed else f"{MIN_PASSCODE}-{MAX_PASSCODE} characters; you will "
                                                           "need it to act as this name in another browser")
        submitted = st.form_submit_button("Sign in" if claimed else "Claim name", key="name-sign-in",
                                          type="primary")
    if submitted:
        try:
            problem = passcode_problem(passcode, claimed)
            if problem:
                st.error(problem)
                return
            if claimed:
                limiter = attempt_limiter()
                if not limiter.attempt("passcode", guesser_keys(), lambda: registry.verify(name, passcode)):
                    n, free = limiter.failures(session_key()), limiter.free_tries
                    raise PermissionDenied(f"wrong passcode for {name!r} (wrong try {n}; after {free}, every try "
                                           "waits longer)")
                name = stored
            else:
                name = registry.claim(name, passcode)
                audit(store().root, name, "claim name")
            sign_in_as(name)
            st.query_params["who"] = name
            st.rerun()
        except StudioError as exc:
            show_error(exc)


def passcode_problem(passcode: str, claimed: bool) -> str | None:
    """Why a typed passcode is not even tried (None: try it). Nothing typed, or longer than
    any passcode can be, is said so and never counted as a wrong try (a new name's passcode is
    checked by the registry: :func:`gtzan_core.classroom.names.check_passcode`)."""
    if not passcode:
        return ("Type the passcode first." if claimed
                else f"Choose a passcode of {MIN_PASSCODE}-{MAX_PASSCODE} characters.")
    if len(passcode) > MAX_PASSCODE:
        return (f"A passcode has at most {MAX_PASSCODE} characters; this one has {len(passcode)}: "
                "nothing was tried.")
    return None


def admin_name_reset() -> None:
    """The admin resets a claimed name: its passcode is forgotten, every sign-in of it
    ends (in every browser), and the next visitor claims it."""
    from .resources import store

    with st.expander("Reset a name's passcode"):
        try:
            names = name_registry().claimed()
        except StudioError as exc:
            show_error(exc)
            return
        name = st.selectbox("Name", names, index=None, key="reset-name", placeholder="choose a claimed name",
                            format_func=plain_text)
        if st.button("Reset passcode", key="reset-passcode", disabled=name is None):
            try:
                name_registry().reset(name)
                token_book().revoke_name(name)
                audit(store().root, current_user(), "reset passcode", name=name)
            except StudioError as exc:  # a full disk, say
                show_error(exc)
            else:
                st.success(f"{md_text(name)} may be claimed again with a new passcode; its sign-ins have ended.")
