"""Find the headings of Markdown and reStructuredText documents, line by line."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})(.*)$")
# pymdownx blocks (`/// note` ... `///`) hold admonitions and tabs whose parts belong together.
_BLOCK_OPEN = re.compile(r"^(/{3,})[ \t]*\S")
_ATTRIBUTES = re.compile(r"\s*\{\s*[#.:][^}]*\}\s*$")
_RST_ADORNMENT = re.compile(r"^([!-/:-@\[-`{-~])\1{2,}[ \t]*$")
# List items, quotes, table rows and HTML do not become setext headings here.
_NOT_A_TITLE = re.compile(r"^\s*(?:<|[-*+>|](?:\s|$)|\d+[.)](?:\s|$))")


@dataclass(frozen=True, slots=True)
class Heading:
    """A section title: `line` is its first line (the overline in rst), `body` the line after it."""

    line: int
    body: int
    level: int
    title: str


@dataclass(slots=True)
class Outline:
    """The headings of a document and the lines that must stay together or stay out.

    Lines are 0-based. `atomic` holds half-open ranges (fenced code, `///` blocks) that are
    never cut, `hidden` the lines of whole-line HTML comments, `first` the first line
    after any front matter.
    """

    first: int = 0
    headings: list[Heading] = field(default_factory=list)
    atomic: list[tuple[int, int]] = field(default_factory=list)
    hidden: set[int] = field(default_factory=set)


def heading_title(raw: str) -> str:
    """A heading's text without a trailing `{ #anchor }` attribute list."""
    return _ATTRIBUTES.sub("", raw).strip()


def markdown_outline(lines: Sequence[str]) -> Outline:
    """ATX and setext headings outside fenced code, comments and front matter."""
    outline = Outline(first=_front_matter_end(lines))
    index = outline.first
    while index < len(lines):
        line = lines[index]
        skip = _atomic_end(lines, index)
        if skip is not None:
            outline.atomic.append((index, skip))
            index = skip
            continue
        comment_end = _comment_end(lines, index)
        if comment_end is not None:
            outline.hidden.update(range(index, comment_end))
            index = comment_end
            continue
        atx = _ATX.match(line)
        title = heading_title(atx.group(2) or "") if atx else ""
        if atx and title:
            outline.headings.append(Heading(index, index + 1, len(atx.group(1)), title))
        elif _is_setext(lines, index, outline):
            level = 1 if line.strip().startswith("=") else 2
            title = heading_title(lines[index - 1])
            outline.headings.append(Heading(index - 1, index + 1, level, title))
        index += 1
    return outline


def _front_matter_end(lines: Sequence[str]) -> int:
    """The first line after a YAML front matter block, or 0 when there is none."""
    if not lines or lines[0].strip() != "---":
        return 0
    for index in range(1, len(lines)):
        if lines[index].strip() in ("---", "..."):
            return index + 1
    return 0


def _atomic_end(lines: Sequence[str], index: int) -> int | None:
    """When a fence or `///` block opens at `index`, the line after it closes (or the end)."""
    fence = _FENCE.match(lines[index])
    if fence:
        marker = fence.group(1)
        if marker[0] == "`" and "`" in fence.group(2):
            return None
        closing = re.compile(rf"^\s*{re.escape(marker[0])}{{{len(marker)},}}\s*$")
    else:
        block = _BLOCK_OPEN.match(lines[index])
        if not block:
            return None
        closing = re.compile(rf"^{block.group(1)}[ \t]*$")
    for end in range(index + 1, len(lines)):
        if closing.match(lines[end]):
            return end + 1
    return len(lines)


def _comment_end(lines: Sequence[str], index: int) -> int | None:
    """When an HTML comment fills whole lines from `index`, the line after it ends."""
    if not lines[index].lstrip().startswith("<!--"):
        return None
    offset = lines[index].index("<!--") + 4
    for end in range(index, len(lines)):
        line = lines[end][offset:] if end == index else lines[end]
        if "-->" in line:
            return end + 1 if not line.split("-->", 1)[1].strip() else None
    return None


def _is_setext(lines: Sequence[str], index: int, outline: Outline) -> bool:
    """Whether `index` underlines a one-line paragraph, making it a heading."""
    if index - 1 < outline.first or not _SETEXT.match(lines[index]):
        return False
    title = lines[index - 1]
    if not title.strip() or _NOT_A_TITLE.match(title) or _ATX.match(title):
        return False
    if index - 1 in outline.hidden or any(end == index for _, end in outline.atomic):
        return False
    if outline.headings and outline.headings[-1].body >= index:
        return False
    before = index - 2
    return before < outline.first or not lines[before].strip()


def rst_outline(lines: Sequence[str]) -> Outline:
    """Section titles underlined (and optionally overlined) with punctuation.

    Levels follow the order in which adornment styles first appear, as docutils does.
    """
    outline = Outline()
    styles: list[tuple[str, bool]] = []
    index = 1
    while index < len(lines):
        underline = _RST_ADORNMENT.match(lines[index])
        title = lines[index - 1]
        overline = index >= 2 and lines[index - 2].strip() == lines[index].strip()
        start = index - 2 if overline else index - 1
        if (
            not underline
            or not _is_rst_title(title, inset=overline)
            or (start > 0 and lines[start - 1].strip())
        ):
            index += 1
            continue
        char = underline.group(1)
        style = (char, overline)
        if style not in styles:
            styles.append(style)
        level = styles.index(style) + 1
        outline.headings.append(Heading(start, index + 1, level, title.strip()))
        index += 2
    return outline


def _is_rst_title(line: str, *, inset: bool) -> bool:
    """Whether a line can be a section title: text, not itself an adornment.

    Only an overlined title may be indented.
    """
    if not line.strip() or _RST_ADORNMENT.match(line):
        return False
    return inset or not line[0].isspace()
