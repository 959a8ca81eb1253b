"""Sign-in tokens for claimed names: a sign-in that survives a reload and a new tab.

A visitor who gave a name's passcode gets a token, kept by the browser (the app puts
it in a cookie) and shown back to the server by every new session of that browser.
A token never carries the passcode, and a bare name is never enough:

* the token is ``<payload>.<mac>``: ``payload`` is base64url JSON ``{"n": name,
  "e": expiry, "i": id}`` (a random id of 16 bytes), ``mac`` the base64url
  HMAC-SHA256 of the payload under the server's secret, so a token cannot be made or
  changed (another name, a later expiry) without the secret;
* the secret is 32 random bytes in ``<studio home>/signin-secret`` (mode 0600),
  created once by the first server that needs it: another server (another home) has
  another secret, and its tokens are refused here;
* a token expires (:data:`TOKEN_TTL`, 12 hours by default);
* the server keeps the ids it issued per name in ``<studio home>/signin-tokens.json``
  (written atomically under a lock): a token whose id is not there is refused, so
  Sign out (:meth:`TokenBook.revoke_name`: every token of that name) and the admin's
  reset of a name's passcode end the sign-in everywhere, in every tab and browser.

Nothing here imports Streamlit; time comes from a ``clock`` parameter (tests move it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import StudioError
from ..locks import file_lock
from ..paths import studio_home
from .names import clean_name

#: How long a sign-in lasts (seconds): a class day.
TOKEN_TTL = 12 * 3600
#: Tokens kept per name (the oldest are dropped beyond it: a browser that never signs out).
MAX_TOKENS_PER_NAME = 32
#: What a token may look like (base64url, one dot): anything else is refused unread.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{8,512}\.[A-Za-z0-9_-]{43}")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key(name: str) -> str:
    return clean_name(name).casefold()


class TokenBook:
    """The sign-in tokens of one studio home: issue, verify, revoke."""

    def __init__(self, home: str | Path | None = None, ttl: float = TOKEN_TTL, clock: Callable[[], float] = time.time):
        self.home = Path(home) if home else studio_home()
        self.ttl, self.clock = ttl, clock
        self.secret_path = self.home / "signin-secret"
        self.path = self.home / "signin-tokens.json"
        self._cache: tuple[tuple, dict] | None = None  # (file identity, its contents)

    # -- the secret ------------------------------------------------------------------------------------------------
    def _secret(self) -> bytes:
        """The server's secret, created once (a new file linked into place: two servers
        starting together agree on the first one written)."""
        try:
            secret = self.secret_path.read_bytes()
        except FileNotFoundError:
            self.home.mkdir(parents=True, exist_ok=True)
            tmp = self.secret_path.with_name(f".signin-secret.{secrets.token_hex(6)}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, secrets.token_bytes(32))
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                os.link(tmp, self.secret_path)  # fails if another process made it first: use theirs
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
            secret = self.secret_path.read_bytes()
        if len(secret) < 32:
            raise StudioError(f"{self.secret_path}: the sign-in secret is damaged; the admin must remove it "
                              "(everyone signs in again)")
        return secret

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._secret(), payload.encode(), hashlib.sha256).digest())

    # -- the issued ids --------------------------------------------------------------------------------------------
    def _load(self) -> dict:
        """The issued ids as the file holds them now (damaged: none, until the next sign-in rewrites it)."""
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("names"), dict):
            data = {"names": {}}
        return data

    def _read(self) -> dict:
        """:meth:`_load`, parsed again only when the file changed (every page run verifies its token)."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return {"names": {}}
        ident = (st.st_ino, st.st_mtime_ns, st.st_size)
        if self._cache is None or self._cache[0] != ident:
            self._cache = (ident, self._load())
        return self._cache[1]

    def _write(self, data: dict) -> None:
        from ..fileio import atomic_write_json

        atomic_write_json(self.path, data)
        self.path.chmod(0o600)

    def _lock(self):
        return file_lock(self.home / ".signin-tokens.lock")

    # -- the API ---------------------------------------------------------------------------------------------------
    def issue(self, name: str) -> str:
        """A new token for ``name`` (who has just given its passcode or claimed it)."""
        name = clean_name(name)
        if not name:
            raise StudioError("no name to sign in as")
        now = self.clock()
        token_id, expires = _b64(secrets.token_bytes(16)), int(now + self.ttl)
        payload = _b64(json.dumps({"n": name, "e": expires, "i": token_id}, separators=(",", ":")).encode())
        token = f"{payload}.{self._mac(payload)}"
        with self._lock():
            data = self._load()
            names = {k: {i: e for i, e in ids.items() if isinstance(e, (int, float)) and e > now}
                     for k, ids in data["names"].items() if isinstance(ids, dict)}
            ids = names.setdefault(_key(name), {})
            ids[token_id] = expires
            if len(ids) > MAX_TOKENS_PER_NAME:
                for old in sorted(ids, key=ids.get)[:len(ids) - MAX_TOKENS_PER_NAME]:
                    del ids[old]
            self._write({"names": {k: v for k, v in names.items() if v}})
        return token

    def _claims(self, token: str) -> dict | None:
        """The token's payload when its MAC is this server's, else None."""
        if not isinstance(token, str) or not TOKEN_SHAPE.fullmatch(token):
            return None
        payload, mac = token.split(".")
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        try:
            claims = json.loads(_unb64(payload))
        except ValueError:
            return None
        if not (isinstance(claims, dict) and isinstance(claims.get("n"), str) and isinstance(claims.get("i"), str)
                and isinstance(claims.get("e"), int)):
            return None
        return claims

    def verify(self, token: str | None) -> str | None:
        """The name ``token`` signs in as, or None: not made with this server's secret,
        changed, expired, or revoked (signed out, the name reset)."""
        claims = self._claims(token) if token else None
        if claims is None or claims["e"] <= self.clock():
            return None
        ids = self._read()["names"].get(_key(claims["n"]))
        if not isinstance(ids, dict) or claims["i"] not in ids:
            return None
        return claims["n"]

    def revoke(self, token: str) -> bool:
        """End one token (True if it was valid)."""
        claims = self._claims(token)
        if claims is None:
            return False
        with self._lock():
            data = self._load()
            ids = data["names"].get(_key(claims["n"])) or {}
            gone = ids.pop(claims["i"], None) is not None
            if gone:
                self._write(data)
        return gone

    def revoke_name(self, name: str) -> int:
        """End every token of ``name`` (Sign out everywhere; the admin's reset); how many."""
        with self._lock():
            data = self._load()
            ids = data["names"].pop(_key(name), None) or {}
            if ids:
                self._write(data)
        return len(ids)
