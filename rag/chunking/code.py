"""Chunk source code along its syntax: one chunk per function, method and type."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from core.types import Chunk, ChunkKind
from rag.chunking.lines import chunk_lines, make_chunk, split_lines, trim_blank, window_ranges
from rag.chunking.syntax import Definition, ParsedSource, parse_source

MAX_LINES = 120
MAX_CHARS = 4_000
# Module-level code with fewer import lines than this and nothing else is noise in search;
# comments of at least MIN_PROSE_CHARS (a Go package doc, a usage example) are not.
MIN_IMPORT_LINES = 3
MIN_PROSE_CHARS = 60

_PUNCTUATION_ONLY = re.compile(r"^[\s{}()\[\];,]*$")
_IMPORT = re.compile(r"^\s*(?:import\b|from\s+\S+\s+import\b|package\b)")
_SOURCE_MAP = re.compile(r"^\s*//[#@]\s*source(?:Mapping)?URL=")

_Span = tuple[str, int, int]


def chunk_code(
    *,
    kb: str,
    path: str,
    text: str,
    language: str,
    commit: str = "",
    max_lines: int = MAX_LINES,
    max_chars: int = MAX_CHARS,
) -> list[Chunk]:
    """Code chunks titled with qualified names: `parse`, `Parser`, `Parser.feed`, `T.Method`.

    A class gives a chunk for its header (signature, docstring, fields) and one per method.
    Code outside every definition comes in chunks titled "<path> (module)". A span over
    `max_lines` or `max_chars` is cut into windows titled "name (part 2)" and so on. Files
    the parser cannot handle are chunked in line windows instead.
    """
    lines = split_lines(text)
    parsed = parse_source(language, "\n".join(lines))
    if parsed is None:
        return chunk_lines(kb=kb, path=path, text=text, language=language, commit=commit)
    module = f"{path} (module)"
    chunks: list[Chunk] = []
    for title, start, end in _spans(parsed, lines, module=module):
        windows = window_ranges(lines, start, end, max_lines=max_lines, max_chars=max_chars)
        for part, (begin, cut) in enumerate(windows, start=1):
            first, last = trim_blank(lines, begin, cut)
            if first >= last:
                continue
            chunks.append(
                make_chunk(
                    kb=kb,
                    path=path,
                    title=title if part == 1 or title == module else f"{title} (part {part})",
                    text="\n".join(lines[first:last]),
                    start=first,
                    end=last,
                    language=language,
                    kind=ChunkKind.CODE,
                    commit=commit,
                )
            )
    return chunks


def _spans(parsed: ParsedSource, lines: Sequence[str], *, module: str) -> list[_Span]:
    """Every (title, start, end) to chunk, in file order: definitions, then the code between."""
    spans: list[_Span] = []
    for definition in parsed.definitions:
        spans.extend(_definition_spans(definition, lines, parsed.comment_rows))
    outside = _gaps(0, len(lines), [(d.start, d.end) for d in parsed.definitions])
    # A file of nothing but imports is a re-export module: keep it, it says where names live.
    keep_imports = not parsed.definitions
    spans.extend(
        (module, start, end)
        for start, end in outside
        if _significant(lines, start, end, parsed.comment_rows, keep_imports=keep_imports)
    )
    return sorted(spans, key=lambda span: span[1])


def _definition_spans(
    definition: Definition, lines: Sequence[str], comment_rows: frozenset[int]
) -> list[_Span]:
    """The definition whole, or for a container its header and each member on its own.

    The header is the container's text up to its first member; text between or after
    members (fields declared late, a stray statement) is kept when it is more than
    closing braces and comments.
    """
    if not definition.container:
        return [(definition.name, definition.start, definition.end)]
    members = [(m.start, m.end) for m in definition.members]
    header, *rest = _gaps(definition.start, definition.end, members) or [
        (definition.start, definition.end)
    ]
    spans: list[_Span] = [(definition.name, *header)]
    spans.extend(
        (definition.name, start, end)
        for start, end in rest
        if _significant(lines, start, end, comment_rows)
    )
    for member in definition.members:
        spans.extend(_definition_spans(member, lines, comment_rows))
    return spans


def _gaps(start: int, end: int, taken: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of rows [start, end) outside every taken range, in order."""
    gaps: list[tuple[int, int]] = []
    cursor = start
    for first, last in sorted(taken):
        if first > cursor:
            gaps.append((cursor, first))
        cursor = max(cursor, last)
    if cursor < end:
        gaps.append((cursor, end))
    return gaps


def _significant(
    lines: Sequence[str],
    start: int,
    end: int,
    comment_rows: frozenset[int],
    *,
    keep_imports: bool = False,
) -> bool:
    """Whether rows [start, end) hold code worth a chunk of its own.

    Blank lines, lone braces and short comments are not; nor are a few import lines
    alone, unless `keep_imports`.
    """
    rows = range(start, end)
    code = [
        lines[r] for r in rows if r not in comment_rows and not _PUNCTUATION_ONLY.match(lines[r])
    ]
    prose = sum(
        len(lines[r].strip()) for r in rows if r in comment_rows and not _SOURCE_MAP.match(lines[r])
    )
    if prose >= MIN_PROSE_CHARS or any(not _IMPORT.match(line) for line in code):
        return True
    return bool(code) and (keep_imports or len(code) >= MIN_IMPORT_LINES)
