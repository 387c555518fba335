"""Chunk prose documents along their headings into coherent, bounded passages."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from core.types import Chunk, ChunkKind
from rag.chunking.lines import make_chunk, split_lines, trim_blank, window_ranges
from rag.chunking.markup import clean_markup
from rag.chunking.outline import Outline, markdown_outline, rst_outline

MAX_CHARS = 1_500
MIN_CHARS = 150
TITLE_SEPARATOR = " > "


@dataclass(frozen=True, slots=True)
class _Section:
    """Lines [start, end) under one heading, its text from `body`; `path` is () before any."""

    path: tuple[str, ...]
    start: int
    body: int
    end: int


@dataclass(slots=True)
class _Group:
    """Sections chunked together; `main` is the one the others were merged into."""

    members: list[int]
    main: int


@dataclass(frozen=True, slots=True)
class _Block:
    """Lines [start, end) that stay together: a paragraph, a fenced block, a list."""

    start: int
    end: int
    section: int


class _Text:
    """The visible text of a document: its lines minus hidden ones, measured in O(1)."""

    def __init__(self, lines: Sequence[str], hidden: set[int]) -> None:
        self.lines = lines
        self.hidden = hidden
        self._offsets = [0]
        for index, line in enumerate(lines):
            width = 0 if index in hidden else len(line) + 1
            self._offsets.append(self._offsets[-1] + width)

    def size(self, start: int, end: int) -> int:
        """Characters of the visible text of lines [start, end), newlines between them included."""
        return max(self._offsets[end] - self._offsets[start] - 1, 0)

    def join(self, start: int, end: int) -> str:
        return "\n".join(self.lines[i] for i in range(start, end) if i not in self.hidden)

    def blank(self, index: int) -> bool:
        return index in self.hidden or not self.lines[index].strip()

    def empty(self, start: int, end: int) -> bool:
        return all(self.blank(index) for index in range(start, end))


def chunk_document(
    *,
    kb: str,
    path: str,
    text: str,
    language: str,
    commit: str = "",
    max_chars: int = MAX_CHARS,
    min_chars: int = MIN_CHARS,
) -> list[Chunk]:
    """Doc chunks of a markdown, rst or plain-text file, one or more per section.

    A chunk is titled with its heading path ("Guide > Install > Linux"), or the file name
    before the first heading; its text is the clean text of its markup (rag.chunking.markup).
    Sections over `max_chars` are cut between paragraphs (inside
    a fenced block only when that block alone is too long); sections under `min_chars`
    join the next section of the same parent, or else the previous one.
    """
    lines = split_lines(text)
    if language == "markdown":
        outline = markdown_outline(lines)
    elif language == "rst":
        outline = rst_outline(lines)
    else:
        outline = Outline()
    visible = _Text(lines, outline.hidden)
    sections = _sections(outline, len(lines), title_first=language != "rst")
    name = PurePosixPath(path).name
    chunks: list[Chunk] = []
    for group in _groups(sections, visible, min_chars):
        for start, end, title_path in _pieces(group, sections, outline, visible, max_chars):
            clean = clean_markup(visible.join(start, end), language)
            if not clean.strip():
                continue
            chunks.append(
                make_chunk(
                    kb=kb,
                    path=path,
                    title=TITLE_SEPARATOR.join(title_path) or name,
                    text=clean,
                    start=start,
                    end=end,
                    language=language,
                    kind=ChunkKind.DOC,
                    commit=commit,
                )
            )
    return chunks


# A heading that names a release ("Version 3.0.1", "v2.1 (2024-01-02)", "[1.4.0] - ..."):
# a changelog's top-level headings are releases side by side, not one title over the rest.
_RELEASE = re.compile(r"^\W*(version\s+|release\s+|v)?\d+\.\d+", re.IGNORECASE)


def _sections(outline: Outline, line_count: int, *, title_first: bool) -> list[_Section]:
    """The document cut at each heading, with heading paths rooted at the first H1 (unless
    the H1s are releases, which stand side by side).

    With `title_first` (Markdown) a later H1 nests under the first, the document's title.
    reStructuredText says otherwise: its title is the one top-level section, and several
    sections underlined alike are siblings ("Donations", then "What's a Task Queue?" at
    the same level of a README are not one under the other).
    """
    headings = outline.headings
    first_heading = headings[0].line if headings else line_count
    sections = [_Section((), outline.first, outline.first, first_heading)]
    root = ""
    stack: list[tuple[int, str]] = []
    for index, heading in enumerate(headings):
        level = heading.level
        releases = _RELEASE.match(root) and _RELEASE.match(heading.title)
        if title_first and root and level <= 1 and not releases:
            level = 2  # a later H1 sits under the document title rather than replacing it
        if not root and level == 1:
            root = heading.title
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, heading.title))
        end = headings[index + 1].line if index + 1 < len(headings) else line_count
        path = tuple(title for _, title in stack)
        sections.append(_Section(path, heading.line, min(heading.body, end), end))
    return sections


def _groups(sections: Sequence[_Section], visible: _Text, min_chars: int) -> list[_Group]:
    """Sections merged so that none under `min_chars` stands alone.

    A small section joins the sections that follow while they share its parent; at a
    parent's end it joins the previous group if that group is under the same parent.
    A lone heading with nothing to join is dropped. A release's section ("Version 3.0.2",
    a changelog's patch release of one line) joins no sibling and no sibling joins it: merged,
    it would be titled and found as another section.
    """
    groups: list[_Group] = []
    pending: list[int] = []
    for index, section in enumerate(sections):
        if visible.empty(section.start, section.end):
            continue
        if pending and _releases_apart(pending, section, sections):
            _release_group(pending, groups, sections, visible)
            pending = []
        if pending and not _within(section.path, sections[pending[0]].path[:-1]):
            _flush(pending, groups, sections, visible)
            pending = []
        pending.append(index)
        size = sum(
            visible.size(*trim_blank(visible.lines, sections[i].start, sections[i].end))
            for i in pending
        )
        if size >= min_chars and not _headings_only(pending, sections, visible):
            groups.append(_Group(pending, index))
            pending = []
    if pending:
        _flush(pending, groups, sections, visible)
    return groups


def _releases_apart(
    members: Sequence[int], section: _Section, sections: Sequence[_Section]
) -> bool:
    """Whether `section` and a section among `members` are siblings of which one names a
    release: a release's section is joined only by its own subsections."""
    if not section.path:
        return False
    depth = len(section.path)
    siblings = [sections[m].path[-1] for m in members if len(sections[m].path) == depth]
    if not siblings:
        return False
    return bool(_RELEASE.match(section.path[-1])) or any(_RELEASE.match(t) for t in siblings)


def _release_group(
    members: list[int], groups: list[_Group], sections: Sequence[_Section], visible: _Text
) -> None:
    """A small release's sections as a group of their own, titled by the first with a body."""
    if _headings_only(members, sections, visible):
        return
    main = next(m for m in members if not visible.empty(sections[m].body, sections[m].end))
    groups.append(_Group(list(members), main))


def _flush(
    pending: list[int], groups: list[_Group], sections: Sequence[_Section], visible: _Text
) -> None:
    """Places a small run of sections that found no following sibling."""
    parent = sections[pending[0]].path[:-1]
    if groups and _releases_apart(groups[-1].members, sections[pending[0]], sections):
        _release_group(pending, groups, sections, visible)
        return
    if groups and _within(sections[groups[-1].members[-1]].path, parent):
        groups[-1].members.extend(pending)
    elif not _headings_only(pending, sections, visible):
        groups.append(_Group(list(pending), pending[-1]))


def _headings_only(indices: Sequence[int], sections: Sequence[_Section], visible: _Text) -> bool:
    return all(visible.empty(sections[i].body, sections[i].end) for i in indices)


def _within(path: tuple[str, ...], parent: tuple[str, ...]) -> bool:
    return path[: len(parent)] == parent


def _pieces(
    group: _Group,
    sections: Sequence[_Section],
    outline: Outline,
    visible: _Text,
    max_chars: int,
) -> list[tuple[int, int, tuple[str, ...]]]:
    """The group's blocks packed into balanced pieces of at most `max_chars`.

    Each piece is (start, end, heading path), titled by the group's main section where
    the piece holds part of it, else by the section it holds most of.
    """
    blocks = [b for i in group.members for b in _blocks(sections[i], i, outline, visible)]
    blocks = [part for b in blocks for part in _split_block(b, visible, max_chars)]
    if not blocks:
        return []
    packed = _pack(blocks, visible, max_chars)
    main = group.main
    pieces = []
    for piece in packed:
        owners = {b.section for b in piece}
        owner = main if main in owners else max(owners, key=lambda s: _share(piece, s, visible))
        pieces.append((piece[0].start, piece[-1].end, sections[owner].path))
    return pieces


def _pack(blocks: Sequence[_Block], visible: _Text, max_chars: int) -> list[list[_Block]]:
    """Consecutive blocks grouped into the fewest, most even pieces of at most `max_chars`.

    Minimises the summed squared room left in each piece (dynamic programming over the
    cut points), which keeps greedy packing from leaving a small last piece.
    """
    count = len(blocks)
    best: list[float] = [0.0] + [math.inf] * count
    cut = [0] * (count + 1)
    for end in range(1, count + 1):
        for start in range(end - 1, -1, -1):
            size = visible.size(blocks[start].start, blocks[end - 1].end)
            if size > max_chars and start < end - 1:
                break
            cost = best[start] + max(max_chars - size, 0) ** 2
            if cost < best[end]:
                best[end], cut[end] = cost, start
    pieces: list[list[_Block]] = []
    end = count
    while end > 0:
        pieces.append(list(blocks[cut[end] : end]))
        end = cut[end]
    return pieces[::-1]


def _share(piece: Sequence[_Block], section: int, visible: _Text) -> int:
    return sum(visible.size(b.start, b.end) for b in piece if b.section == section)


def _blocks(section: _Section, index: int, outline: Outline, visible: _Text) -> list[_Block]:
    """Paragraphs of a section; the heading sticks to the first, fenced code stays whole.

    A blank line ends a paragraph unless the next text is indented (a list item's
    continuation, an rst literal block).
    """
    atomic = dict(outline.atomic)
    blocks: list[_Block] = []
    start = end = -1
    line = section.start
    while line < section.end:
        if visible.blank(line):
            line += 1
            continue
        if start < 0:
            start = line
        elif end != line and not visible.lines[line][0].isspace() and end > section.body:
            blocks.append(_Block(start, end, index))
            start = line
        end = min(atomic.get(line, line + 1), section.end)
        line = end
    if start >= 0:
        blocks.append(_Block(start, end, index))
    return blocks


def _split_block(block: _Block, visible: _Text, max_chars: int) -> list[_Block]:
    """The block itself, or line windows of it when it alone exceeds `max_chars`."""
    if visible.size(block.start, block.end) <= max_chars:
        return [block]
    windows = window_ranges(
        visible.lines,
        block.start,
        block.end,
        max_lines=block.end - block.start,
        max_chars=max_chars,
    )
    parts = [trim_blank(visible.lines, start, end) for start, end in windows]
    return [_Block(start, end, block.section) for start, end in parts if start < end]
