"""Counts in words: the one place a noun is made plural ("1 patch", "26 patches").

The studio's units ("segment", "patch", "window", "C value", "boosting iteration")
are English nouns; :func:`plural` knows the regular rules they follow (``-s``, ``-es``
after s, x, z, ch, sh, ``-ies`` after a consonant and y), and :func:`count` puts a number
before the right form."""

from __future__ import annotations


def plural(noun: str) -> str:
    """``noun``'s plural: "patch" -> "patches", "segment" -> "segments", "C value" -> "C values"."""
    if not noun:
        return noun
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and len(noun) > 1 and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def count(n: int, noun: str) -> str:
    """``n`` and the form of ``noun`` that goes with it: "1 patch", "26 patches", "0 segments"."""
    return f"{n} {noun if n == 1 else plural(noun)}"
