"""Display names claimed with a passcode, for a classroom instance without a sign-in
provider, and the rules every display name follows.

The first use of a name claims it: the visitor chooses a passcode, stored only as a
salted scrypt hash (``hashlib.scrypt``, n=2**14, r=8, p=1, 16-byte salt, 32-byte key)
in ``$GTZAN_STUDIO_HOME/names.json``, never in a log or a run record. Later sessions,
other browsers and ``?who=NAME`` links act as that name only after giving the
passcode. The admin can reset a name (its claim is removed; the next visitor to use it
claims it again).

A name is text people read on every page, so it is one word or a few of letters and
digits (:func:`name_problem`, the one place these rules live; the app's sign-in, its
personal-mode name and :meth:`NameRegistry.claim` all ask it):

* it is normalised first (:func:`normalise_name`): Unicode NFKC (fullwidth ``ａ`` is
  ``a``, the ligature ``ﬁ`` is ``fi``), runs of spaces collapsed, none at either end;
* it has 1-40 characters, the first a letter or a digit;
* it holds letters and digits of any script (Unicode categories L* and N*), combining
  marks after a letter (at most 3 in a row: no "Zalgo" text drawn over other lines),
  spaces and the separators ``- _ . '``; nothing else: no control or format characters
  (bidirectional overrides, zero-width joiners and spaces), no invisible "letters" (the
  Hangul fillers), no symbols or punctuation that Markdown or HTML would read;
* it is refused as taken when it *looks like* a claimed name: their confusable
  skeletons are equal (:func:`looks_alike`: Unicode TR39's skeleton with the mappings
  of its confusables.txt, compared case-insensitively, so a Cyrillic ``а`` for a Latin
  ``a``, ``0`` for ``O``, ``rn`` for ``m`` or a capital ``I`` for a small ``l`` is the
  same name).

Names are compared case-insensitively (after NFKC, spaces collapsed). A name claimed
before these rules (under the old ones: any printable characters) still signs in with
its passcode and is still shown (as text, like every name); only new claims follow the
rules, and the admin can reset an old name so that it is claimed again under them.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import secrets
import time
import unicodedata
from pathlib import Path

from ..errors import StudioError
from ..locks import file_lock
from ..paths import studio_home

MIN_PASSCODE, MAX_PASSCODE = 4, 128
MAX_NAME = 40
SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}
#: What may separate the letters and digits of a name.
SEPARATORS = " -_.'"
#: Combining marks allowed in a row after a letter (Indic and Vietnamese need a few; "Zalgo" needs many).
MAX_MARKS = 3
#: Letters that draw nothing (Unicode's default-ignorable Hangul fillers): a "name" made of them looks empty.
INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0")
#: The confusables table (:func:`skeleton`), beside this module.
CONFUSABLES = Path(__file__).with_name("confusables.txt")


class NameRefused(StudioError):
    """A name or passcode that cannot be used (empty, too long, only spaces...)."""


def clean_name(text: str) -> str:
    """The old rules' name: printable characters only, runs of spaces collapsed, at most
    40 characters. Kept to find the names claimed under them (and sign-in tokens)."""
    return " ".join("".join(ch for ch in str(text) if ch.isprintable()).split())[:MAX_NAME]


def normalise_name(text: str) -> str:
    """``text`` as a name is stored and compared: NFKC, runs of white space collapsed to
    one space, none at either end. Nothing is refused here (:func:`name_problem` does)."""
    return " ".join(unicodedata.normalize("NFKC", str(text)).split())


def _describe(ch: str) -> str:
    return f"U+{ord(ch):04X} {unicodedata.name(ch, 'unnamed character')}"


def name_problem(text: str) -> str | None:
    """Why ``text`` cannot be a new name (one line), or None when it can: the rules in
    this module's docstring, checked on :func:`normalise_name`'s result."""
    name = normalise_name(text)
    if not name:
        return ("enter a name with at least one letter or digit (spaces and control characters alone are not a "
                "name)")
    shown = repr(name[:MAX_NAME + 10])
    if not any(unicodedata.category(ch)[0] in "LN" and ch not in INVISIBLE_LETTERS for ch in name):
        return f"{shown} is not a name: use at least one letter or digit"
    if len(name) > MAX_NAME:
        return f"a name may have at most {MAX_NAME} characters ({len(name)} given)"
    marks = 0
    for i, ch in enumerate(name):
        category = unicodedata.category(ch)[0]
        if ch in INVISIBLE_LETTERS:
            return f"{shown}: {_describe(ch)} draws nothing: use letters and digits that can be seen"
        if i == 0 and category not in "LN":
            return f"{shown} is not a name: start it with a letter or a digit"
        if category == "M":
            marks += 1
            if marks > MAX_MARKS or unicodedata.category(name[i - 1])[0] not in "LM":
                return (f"{shown}: too many accents or marks on one letter ({_describe(ch)}): at most {MAX_MARKS}, "
                        "and only after a letter")
            continue
        marks = 0
        if category not in "LN" and ch not in SEPARATORS:
            return (f"{shown}: {_describe(ch)} cannot be in a name: use letters, digits, spaces and "
                    f"{' '.join(SEPARATORS.strip())}")
    return None


def check_name(text: str) -> str:
    """``text`` as a new name (normalised), or :class:`NameRefused` saying why not."""
    problem = name_problem(text)
    if problem:
        raise NameRefused(problem)
    return normalise_name(text)


@functools.lru_cache(maxsize=1)
def _confusables() -> dict[str, str]:
    table = {}
    for line in CONFUSABLES.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            source, *target = line.split()
            table[chr(int(source, 16))] = "".join(chr(int(h, 16)) for h in target)
    return table


def _tr39(text: str) -> str:
    """TR39's skeleton: NFD, every character replaced by its prototype, NFD again."""
    table = _confusables()
    return unicodedata.normalize("NFD", "".join(table.get(ch, ch) for ch in unicodedata.normalize("NFD", text)))


def skeleton(text: str) -> str:
    """What ``text`` looks like, case-insensitively: Unicode TR39's skeleton of the
    normalised name (:func:`normalise_name`), case-folded. A Cyrillic ``а`` for a Latin
    ``a``, ``0`` for ``O``, ``rn`` for ``m`` give one skeleton.

    The mappings are those of Unicode's confusables.txt 13.0 (``confusables.txt`` beside
    this module: every mapping whose source character NFKC leaves as it is, the only
    ones a normalised name can hold)."""
    return _tr39(unicodedata.normalize("NFKC", normalise_name(text).casefold()))


def looks_alike(a: str, b: str) -> bool:
    """Whether names ``a`` and ``b`` would be taken for one another: one :func:`skeleton`,
    or one skeleton when their capitals are looked at before case folding (TR39 maps a
    capital ``I`` to a small ``l``, which case folding alone would miss: ``Ian`` and
    ``lan``). Stricter than TR39, which compares with case: names here are compared
    case-insensitively, so a look-alike in any case is one."""
    if skeleton(a) == skeleton(b):
        return True

    def cased(text: str) -> str:
        return _tr39(unicodedata.normalize("NFKC", _tr39(normalise_name(text)).casefold()))

    return cased(a) == cased(b)


def _key(name: str) -> str:
    return normalise_name(name).casefold()


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

    @staticmethod
    def _entry(data: dict, name: str) -> tuple[str, dict] | tuple[None, None]:
        """The claim ``name`` signs in as: the one under its key, else one under its key of
        the old rules that only that key reaches (a fullwidth name claimed before NFKC). A
        claim its own key reaches is never found by the old key of another spelling: "ali" +
        a zero-width joiner + "ce" is not "alice", though the old rules dropped the joiner."""
        key = _key(name)
        entry = data["names"].get(key)
        if isinstance(entry, dict):
            return key, entry
        old = clean_name(name).casefold()
        entry = data["names"].get(old)
        if isinstance(entry, dict) and _key(str(entry.get("name") or old)) != old:
            return old, entry
        return None, None

    def find(self, name: str) -> str | None:
        """The claimed name ``name`` is (as it was claimed: its case, its spelling), or None."""
        key, entry = self._entry(self._read(), name)
        return None if key is None else str(entry.get("name") or key)

    def is_claimed(self, name: str) -> bool:
        return self.find(name) is not None

    def claimed(self) -> list[str]:
        return sorted(str(v.get("name", k)) for k, v in self._read()["names"].items() if isinstance(v, dict))

    @staticmethod
    def _lookalike(data: dict, name: str) -> str | None:
        return next((str(v.get("name", k)) for k, v in data["names"].items()
                     if isinstance(v, dict) and looks_alike(str(v.get("name", k)), name)), None)

    def lookalike(self, name: str) -> str | None:
        """The claimed name that ``name`` looks like (:func:`looks_alike`), or None."""
        return self._lookalike(self._read(), name)

    @classmethod
    def _claim_problem(cls, data: dict, name: str) -> str | None:
        problem = name_problem(name)
        if problem:
            return problem
        name = normalise_name(name)
        if cls._entry(data, name)[0] is not None:
            return f"the name {name!r} is already taken: give its passcode, or choose another name"
        other = cls._lookalike(data, name)
        if other is not None:
            return f"the name {name!r} is already taken: it looks like {other!r}, a claimed name; choose another name"
        return None

    def claim_problem(self, name: str) -> str | None:
        """Why ``name`` cannot be claimed now (against the rules, claimed, or looking like
        a claimed name), or None."""
        return self._claim_problem(self._read(), name)

    def claim(self, name: str, passcode: str) -> str:
        """Claim an unclaimed name with a passcode; returns the name as stored (normalised).
        A name that is claimed, or looks like a claimed one, is refused as taken."""
        name, passcode = check_name(name), check_passcode(passcode)
        salt = secrets.token_bytes(16)
        digest = _hash(passcode, salt, SCRYPT)
        with self._lock():
            data = self._read()
            problem = self._claim_problem(data, name)
            if problem:
                raise NameRefused(problem)
            data["names"][_key(name)] = {"name": name, "salt": salt.hex(), "hash": digest.hex(), **SCRYPT,
                                         "claimed": time.time()}
            self._write(data)
        return name

    def verify(self, name: str, passcode: str) -> bool:
        """Whether ``passcode`` is the passcode of the claimed ``name`` (False if unclaimed)."""
        entry = self._entry(self._read(), name)[1]
        if not entry or not isinstance(passcode, str) or not passcode or len(passcode) > MAX_PASSCODE:
            return False
        digest = _hash(passcode, bytes.fromhex(entry["salt"]), entry)
        return hmac.compare_digest(digest, bytes.fromhex(entry["hash"]))

    def reset(self, name: str) -> bool:
        """Remove a name's claim (the admin); True if it was claimed."""
        with self._lock():
            data = self._read()
            key = self._entry(data, name)[0]
            if key is not None:
                del data["names"][key]
                self._write(data)
        return key is not None
