"""Text prepared for keyword (BM25) search: identifiers split into their words, version
numbers kept whole (core.versions)."""

from __future__ import annotations

import re

from core.types import Chunk
from core.versions import version_words

_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+|[a-z]+[A-Z][A-Za-z0-9]*")
_CAMEL_PART = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def split_identifiers(text: str) -> str:
    """The words inside snake_case and camelCase identifiers of `text`, space separated.

    BM25 tokenisers keep `query_params` or `getUserName` whole, so a question that says
    "query params" would miss them; indexing the parts as well fixes that.
    """
    words: list[str] = []
    for match in _IDENTIFIER.finditer(text):
        for piece in match.group().split("_"):
            words.extend(part.lower() for part in _CAMEL_PART.findall(piece))
    return " ".join(words)


def keyword_query(question: str) -> str:
    """The question as the keyword index is searched: its words and its version words."""
    versions = version_words(question)
    return " ".join([question, *versions])


def keyword_text(chunk: Chunk) -> str:
    """What the keyword index sees for a chunk: its path, title, text, identifier words and
    version words."""
    body = f"{chunk.title}\n{chunk.text}"
    return f"{chunk.path}\n{body}\n{split_identifiers(body)}\n{' '.join(version_words(body))}"
