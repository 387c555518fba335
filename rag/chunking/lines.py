"""Line windows: the chunker for files without a parser, and the splitter the others share."""

from __future__ import annotations

import math
from collections.abc import Sequence

from core.types import Chunk, ChunkKind
from rag.chunking.ids import chunk_id

WINDOW_LINES = 60
WINDOW_CHARS = 2_000


def split_lines(text: str) -> list[str]:
    """The file's lines without their endings, numbered as an editor numbers them.

    Only \\n, \\r\\n and \\r end a line (str.splitlines also splits on form feeds and
    Unicode separators, which would shift every later line number).
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def window_ranges(
    lines: Sequence[str], start: int, end: int, *, max_lines: int, max_chars: int
) -> list[tuple[int, int]]:
    """Cuts lines[start:end] into consecutive half-open ranges within both limits.

    The windows are balanced (a 130-line run under a 120-line limit gives two of 65, not
    120 and 10) and a cut moves to a nearby blank line when there is one. A single line
    longer than `max_chars` becomes a window of its own.
    """
    total_chars = sum(len(line) + 1 for line in lines[start:end])
    count = max(math.ceil((end - start) / max_lines), math.ceil(total_chars / max_chars), 1)
    target_lines = math.ceil((end - start) / count)
    target_chars = total_chars / count
    ranges: list[tuple[int, int]] = []
    begin = start
    while begin < end:
        cut = _cut(lines, begin, end, max_lines, max_chars, target_lines, target_chars)
        ranges.append((begin, cut))
        begin = cut
    return ranges


def _cut(
    lines: Sequence[str],
    begin: int,
    end: int,
    max_lines: int,
    max_chars: int,
    target_lines: int,
    target_chars: float,
) -> int:
    """Where the window starting at `begin` should end (exclusive)."""
    chars = 0
    target = hard = begin
    while hard < end and hard - begin < max_lines and chars + len(lines[hard]) + 1 <= max_chars:
        chars += len(lines[hard]) + 1
        hard += 1
        if hard - begin <= target_lines and chars <= target_chars:
            target = hard
    if hard == begin:
        return begin + 1
    if hard == end:
        return end
    target = max(target, begin + 1)
    # Prefer ending just before a blank line, searching outwards from the balanced target.
    lowest = begin + max(1, (target - begin) // 2)
    for offset in range(hard - lowest + 1):
        for candidate in (target + offset, target - offset):
            if lowest <= candidate <= hard and candidate < end and not lines[candidate].strip():
                return candidate
    return target


def trim_blank(lines: Sequence[str], start: int, end: int) -> tuple[int, int]:
    """The half-open range narrowed to drop blank lines at both ends (may become empty)."""
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return start, end


def make_chunk(
    *,
    kb: str,
    path: str,
    title: str,
    text: str,
    start: int,
    end: int,
    language: str,
    kind: ChunkKind,
    commit: str,
) -> Chunk:
    """A chunk for the half-open, 0-based line range [start, end) with an id from its content."""
    return Chunk(
        id=chunk_id(kb, path, title, text),
        kb=kb,
        path=path,
        title=title,
        text=text,
        start_line=start + 1,
        end_line=end,
        language=language,
        kind=kind,
        commit=commit,
    )


def chunk_lines(
    *,
    kb: str,
    path: str,
    text: str,
    language: str,
    commit: str = "",
    window_lines: int = WINDOW_LINES,
    window_chars: int = WINDOW_CHARS,
) -> list[Chunk]:
    """Code chunks of a file cut into balanced line windows, each titled with the path."""
    lines = split_lines(text)
    chunks: list[Chunk] = []
    for begin, cut in window_ranges(
        lines, 0, len(lines), max_lines=window_lines, max_chars=window_chars
    ):
        start, end = trim_blank(lines, begin, cut)
        if start < end:
            chunks.append(
                make_chunk(
                    kb=kb,
                    path=path,
                    title=path,
                    text="\n".join(lines[start:end]),
                    start=start,
                    end=end,
                    language=language,
                    kind=ChunkKind.CODE,
                    commit=commit,
                )
            )
    return chunks
