"""Display names claimed with a passcode, for a classroom instance without a sign-in
provider.

The first use of a name claims it: the visitor chooses a passcode, stored only as a
salted scrypt hash (``hashlib.scrypt``, n=2**14, r=8, p=1, 16-byte salt, 32-byte key)
in ``$GTZAN_STUDIO_HOME/names.json``, never in a log or a run record. Later sessions,
other browsers and ``?who=NAME`` links act as that name only after giving the
passcode. The admin can reset a name (its claim is removed; the next visitor to use it
claims it again). Names are compared case-insensitively, spaces collapsed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from pathlib import Path

from ..errors import StudioError
from ..locks import file_lock
from ..paths import studio_home

MIN_PASSCODE, MAX_PASSCODE = 4, 128
MAX_NAME = 40
SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}


class NameRefused(StudioError):
    """A name or passcode that cannot be used (empty, too long, only spaces...)."""


def clean_name(text: str) -> str:
    """Printable characters only, runs of spaces collapsed, at most 40 characters."""
    return " ".join("".join(ch for ch in str(text) if ch.isprintable()).split())[:MAX_NAME]


def _key(name: str) -> str:
    return clean_name(name).casefold()


def check_name(text: str) -> str:
    name = clean_name(text)
    if not name:
        raise NameRefused("enter a name with at least one letter or digit (spaces and control characters alone "
                         "are not a name)")
    if not any(ch.isalnum() for ch in name):
        raise NameRefused(f"{name!r} is not a name: use at least one letter or digit")
    return name


def check_passcode(passcode: str) -> str:
    if not isinstance(passcode, str) or not passcode:
        raise NameRefused("enter a passcode")
    if len(passcode) < MIN_PASSCODE:
        raise NameRefused(f"a passcode needs at least {MIN_PASSCODE} characters")
    if len(passcode) > MAX_PASSCODE:
        raise NameRefused(f"a passcode may have at most {MAX_PASSCODE} characters")
    return passcode


def _hash(passcode: str, salt: bytes, params: dict) -> bytes:
    return hashlib.scrypt(passcode.encode(), salt=salt, n=params["n"], r=params["r"], p=params["p"],
                          maxmem=64 * 1024 * 1024, dklen=32)


class NameRegistry:
    """The claimed names of one studio home (one JSON file, written atomically under a lock)."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else studio_home() / "names.json"

    def _read(self) -> dict:
        try:
            data = json.loads(self.path.read_text())
            return data if isinstance(data, dict) and isinstance(data.get("names"), dict) else {"names": {}}
        except FileNotFoundError:
            return {"names": {}}
        except (OSError, ValueError) as exc:
            raise StudioError(f"{self.path}: the list of claimed names is damaged ({exc}); the admin must fix or "
                              "remove it") from None

    def _write(self, data: dict) -> None:
        from ..fileio import atomic_write_json

        atomic_write_json(self.path, data)
        self.path.chmod(0o600)

    def _lock(self):
        return file_lock(self.path.with_name(".names.lock"))

    def is_claimed(self, name: str) -> bool:
        return _key(name) in self._read()["names"]

    def claimed(self) -> list[str]:
        return sorted(v.get("name", k) for k, v in self._read()["names"].items())

    def claim(self, name: str, passcode: str) -> str:
        """Claim an unclaimed name with a passcode; returns the name as stored."""
        name, passcode = check_name(name), check_passcode(passcode)
        salt = secrets.token_bytes(16)
        digest = _hash(passcode, salt, SCRYPT)
        with self._lock():
            data = self._read()
            if _key(name) in data["names"]:
                raise NameRefused(f"the name {name!r} is already taken: give its passcode, or choose another name")
            data["names"][_key(name)] = {"name": name, "salt": salt.hex(), "hash": digest.hex(), **SCRYPT,
                                         "claimed": time.time()}
            self._write(data)
        return name

    def verify(self, name: str, passcode: str) -> bool:
        """Whether ``passcode`` is the passcode of the claimed ``name`` (False if unclaimed)."""
        entry = self._read()["names"].get(_key(name))
        if not entry or not isinstance(passcode, str) or not passcode or len(passcode) > MAX_PASSCODE:
            return False
        digest = _hash(passcode, bytes.fromhex(entry["salt"]), entry)
        return hmac.compare_digest(digest, bytes.fromhex(entry["hash"]))

    def reset(self, name: str) -> bool:
        """Remove a name's claim (the admin); True if it was claimed."""
        with self._lock():
            data = self._read()
            gone = data["names"].pop(_key(name), None) is not None
            if gone:
                self._write(data)
        return gone
