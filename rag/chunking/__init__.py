"""Split files into passages: documents along headings, code along its syntax."""

from __future__ import annotations

from core.types import Chunk
from rag.chunking.code import chunk_code
from rag.chunking.docs import chunk_document
from rag.chunking.ids import chunk_id, language_for
from rag.chunking.lines import chunk_lines
from rag.chunking.syntax import supported

__all__ = ["chunk_code", "chunk_document", "chunk_file", "chunk_id", "chunk_lines", "language_for"]

_DOCUMENTS = frozenset({"markdown", "rst", "text"})


def chunk_file(*, kb: str, path: str, text: str, commit: str = "") -> list[Chunk]:
    """The chunks of one repository file, chosen by its extension; [] for unknown kinds.

    `path` is repo-relative POSIX. Prose is cut along headings, python, javascript,
    typescript, java and go along their syntax, other known languages in line windows.
    A passage repeated word for word under the same title is kept once, since its id,
    taken from the content, would collide.
    """
    language = language_for(path)
    if language is None:
        return []
    if language in _DOCUMENTS:
        chunks = chunk_document(kb=kb, path=path, text=text, language=language, commit=commit)
    elif supported(language):
        chunks = chunk_code(kb=kb, path=path, text=text, language=language, commit=commit)
    else:
        chunks = chunk_lines(kb=kb, path=path, text=text, language=language, commit=commit)
    seen: set[str] = set()
    unique: list[Chunk] = []
    for chunk in chunks:
        if chunk.id not in seen:
            seen.add(chunk.id)
            unique.append(chunk)
    return unique
