"""Checks of text from outside that every boundary shares: the CLI, the HTTP API, the bots.

Errors quote at most a short prefix of what they refuse (`excerpt`), so a 10,000-character
name or question is never echoed back whole.
"""

from __future__ import annotations

KB_NAME_MAX = 64
KB_NAME_PATTERN = r"^[\w.-]+$"  # Python's \w: what str.isalnum() accepts, and "_"
EXCERPT_CHARS = 40


def excerpt(value: str, limit: int = EXCERPT_CHARS) -> str:
    """`value` quoted for an error message: its repr, cut to `limit` characters with "…".

    The repr escapes what a terminal or a JSON encoder cannot take (control characters,
    lone surrogates), so the message itself is always printable.
    """
    if len(value) <= limit:
        return repr(value)
    return repr(value[:limit]) + "…"


def unencodable_at(value: str) -> int | None:
    """The index of the first character that has no UTF-8 form (a lone UTF-16 surrogate, or
    a byte that was not UTF-8, as Python decodes program arguments), or None."""
    if value.isascii():
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def validate_text(value: str, *, what: str) -> str:
    """`value` unchanged; raises ValueError when it holds characters that are not text."""
    where = unencodable_at(value)
    if where is not None:
        raise ValueError(
            f"{what} is not valid Unicode text: character {where + 1} is a lone surrogate "
            "or an undecodable byte"
        )
    return value


def validate_kb_name(value: str) -> str:
    """A knowledge base name: 1-64 letters, digits, '.', '_' or '-'; raises ValueError."""
    if (
        not value
        or len(value) > KB_NAME_MAX
        or not all(ch.isalnum() or ch in "._-" for ch in value)
    ):
        raise ValueError(
            f"invalid knowledge base name {excerpt(value)}: use 1-{KB_NAME_MAX} letters, "
            "digits, . _ -"
        )
    return value
