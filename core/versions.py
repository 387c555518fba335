"""Version numbers in text, as whole words: "3.0.1" is not the digits of "0.3.1"."""

from __future__ import annotations

import re
from collections.abc import Collection

_VERSION = re.compile(r"(?<![\w.])[vV]?(\d+)\.(\d+)(?:\.(\d+))?(?![\w]|\.\d)")


def version_words(text: str) -> list[str]:
    """A word for each version number of `text` and for its shorter prefixes ("3.0.1" gives
    `ver3p0`, `ver3p0p1`).

    Tokenisers cut "3.0.1" into 3, 0 and 1, the same words as "0.3.1" or "1.0.3"; a question
    about "version 3.0" then matches every release. Whole version words tell them apart, and
    the prefix lets "3.0" find "3.0.1".
    """
    words: list[str] = []
    for parts in _numbers(text):
        words.extend("ver" + "p".join(parts[:size]) for size in range(2, len(parts) + 1))
    return words


def named_versions(text: str) -> list[str]:
    """The word of each version number of `text` as written, without its prefixes: the
    release a question names ("what changed in 3.0.2?" names `ver3p0p2`, not 3.0.0 through
    `ver3p0`; "in 3.0?" names `ver3p0`, which every 3.0.x title holds)."""
    return ["ver" + "p".join(parts) for parts in _numbers(text)]


def names_release(title: str, asked: Collection[str]) -> bool:
    """Whether a section title names one of the releases `asked` (named_versions of a
    question): "Version 3.0.2" names `ver3p0p2` and `ver3p0`, not `ver3p0p0`."""
    return bool(asked) and not set(asked).isdisjoint(version_words(title))


def _numbers(text: str) -> list[list[str]]:
    """The parts of each version number of `text` ("3.0.1" -> 3, 0, 1)."""
    return [[p for p in m.groups() if p is not None] for m in _VERSION.finditer(text)]
