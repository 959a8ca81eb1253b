"""Sign-in tokens of a classroom instance (gtzan_core.classroom.tokens): signed, expiring,
revocable; time moves through the clock parameter, never by sleeping."""

import base64
import json
import stat

import pytest

from gtzan_core.classroom.tokens import TokenBook
from tests.helpers import ROOT


@pytest.fixture
def clock():
    now = [1_000_000.0]
    return now


def book(home, clock, ttl=3600):
    return TokenBook(home, ttl=ttl, clock=lambda: clock[0])


def test_a_token_names_its_holder_until_it_expires(tmp_path, clock):
    tokens = book(tmp_path, clock)
    token = tokens.issue("  Alice ")
    assert tokens.verify(token) == "Alice"
    assert book(tmp_path, clock).verify(token) == "Alice"  # another session, another server process: same home
    clock[0] += 3599
    assert tokens.verify(token) == "Alice"
    clock[0] += 1
    assert tokens.verify(token) is None  # expired
    assert "Alice" not in (tmp_path / "signin-secret").read_bytes().decode("latin-1")
    mode = stat.S_IMODE((tmp_path / "signin-secret").stat().st_mode)
    assert mode == 0o600 and stat.S_IMODE((tmp_path / "signin-tokens.json").stat().st_mode) == 0o600


def test_a_changed_token_is_refused(tmp_path, clock):
    tokens = book(tmp_path, clock)
    token = tokens.issue("alice")
    payload, mac = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    for changed in ({**claims, "n": "bob"}, {**claims, "e": claims["e"] + 10 ** 6}):
        forged = base64.urlsafe_b64encode(json.dumps(changed).encode()).rstrip(b"=").decode()
        assert tokens.verify(f"{forged}.{mac}") is None
    flipped = mac[:-2] + ("A" if mac[-2] != "A" else "B") + mac[-1]
    assert tokens.verify(f"{payload}.{flipped}") is None
    for junk in ("", "alice", "a.b", token + "x", token.replace(".", ""), "é" * 60 + "." + mac, None):
        assert tokens.verify(junk) is None
    assert tokens.verify(token) == "alice"


def test_another_servers_token_is_refused(tmp_path, clock):
    here, there = book(tmp_path / "here", clock), book(tmp_path / "there", clock)
    theirs = there.issue("alice")
    assert there.verify(theirs) == "alice" and here.verify(theirs) is None
    here.issue("alice")  # alice signs in here too: still not the other server's token
    assert here.verify(theirs) is None


def test_sign_out_revokes_every_token_of_the_name(tmp_path, clock):
    tokens = book(tmp_path, clock)
    laptop, phone, bob = tokens.issue("alice"), tokens.issue("ALICE"), tokens.issue("bob")
    assert (tokens.verify(laptop), tokens.verify(phone)) == ("alice", "ALICE")  # one name, as each signed in
    assert tokens.revoke_name("Alice") == 2  # Sign out: ends it in every tab and browser
    assert tokens.verify(laptop) is None and tokens.verify(phone) is None
    assert tokens.verify(bob) == "bob"  # nobody else's
    again = tokens.issue("alice")  # signing in again gives a new token; the old ones stay dead
    assert tokens.verify(again) == "alice" and tokens.verify(laptop) is None
    assert tokens.revoke(again) and tokens.verify(again) is None and not tokens.revoke(again)


def test_the_issued_list_stays_small_and_a_damaged_one_signs_everyone_out(tmp_path, clock):
    tokens = book(tmp_path, clock, ttl=60)
    old = tokens.issue("alice")
    clock[0] += 61
    tokens.issue("bob")  # expired ids are dropped when a token is issued
    assert "alice" not in json.loads((tmp_path / "signin-tokens.json").read_text())["names"]
    assert tokens.verify(old) is None
    many = [tokens.issue("carol") for _ in range(40)]
    assert tokens.verify(many[0]) is None and tokens.verify(many[-1]) == "carol"  # at most 32 a name
    (tmp_path / "signin-tokens.json").write_text("{not json")
    assert tokens.verify(many[-1]) is None
    assert tokens.verify(tokens.issue("carol")) == "carol"


def test_a_damaged_secret_is_named(tmp_path, clock):
    (tmp_path / "signin-secret").write_bytes(b"short")
    with pytest.raises(Exception, match="sign-in secret is damaged"):
        book(tmp_path, clock).issue("alice")


# -- in the app: every run verifies the session's token ------------------------------------------------------------



def session(token: str | None = None):
    """A session of the leaderboard; ``token``: the one its browser's cookie would bring."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page("pages/leaderboard.py")
    if token:
        at.session_state["signin-token"] = token
    return at.run()


def signed_in(at) -> str:
    return " ".join(c.value for c in at.sidebar.caption)


def test_sign_out_and_a_reset_end_the_sign_in_in_every_session(classroom):
    alice = session()
    alice.sidebar.text_input(key="name-input").input("alice").run()
    alice.sidebar.text_input(key="passcode-input").input("alice-secret")
    alice.sidebar.button(key="name-sign-in").click().run()
    assert "Signed in as **alice**" in signed_in(alice)
    token = alice.session_state["signin-token"]
    assert TokenBook().verify(token) == "alice" and "alice-secret" not in token
    other_tab = session(token)  # a new tab of her browser: the cookie brings the token
    assert "Signed in as **alice**" in signed_in(other_tab)
    assert "Signed in as" not in signed_in(session("alice"))  # a bare name is no token
    alice.sidebar.button(key="sign-out").click().run()
    assert "Signed in as" not in signed_in(alice)
    assert "Signed in as" not in signed_in(other_tab.run())  # signed out there too, at its next run
    assert TokenBook().verify(token) is None

    alice.sidebar.text_input(key="passcode-input").input("alice-secret")
    alice.sidebar.button(key="name-sign-in").click().run()
    assert "Signed in as **alice**" in signed_in(alice)
    admin = session()
    admin.sidebar.text_input(key="admin-password").input("s3cret")
    admin.sidebar.button(key="admin-sign-in").click().run()
    admin.sidebar.selectbox(key="reset-name").set_value("alice").run()
    admin.sidebar.button(key="reset-passcode").click().run()
    assert "Signed in as" not in signed_in(alice.run())  # the admin's reset ends her sign-in everywhere
