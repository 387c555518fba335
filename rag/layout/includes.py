"""Include directives: a page that pulls in another file's text, which belongs to the page.

Recognised: `{* path hl[3] ln[1:5] *}` and `{! path !}` (mkdocs-include style), `--8<-- "path"`
snippets (one per line or a block of paths), Sphinx and MyST `literalinclude` / `include`.
A target is resolved against the page's folder, then each folder above it (tools resolve
from the docs root or the config file's folder), and must be a file of the repository.

Pages often show one example several times, each time highlighting the lines the prose
next to it explains (`hl[8,13]`, Sphinx `:emphasize-lines:`). The page's first showing
brings the whole selection into its passage; a later one brings only its highlighted
lines, so the same code does not count as new evidence in every passage of the page.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import cast

from core.types import Chunk
from rag.chunking.ids import chunk_id, language_for
from rag.chunking.outline import markdown_outline, rst_outline

MAX_INCLUDED_CHARS = 2_000  # of one included file, in the including passage

_BRACE = re.compile(r"\{\*\s*(?P<path>[^\s*]+)(?P<opts>[^}]*?)\*\}|\{!>?\s*(?P<bang>[^!\s]+)\s*!\}")
_LINE_OPTION = re.compile(r"\bln\[(?P<spec>[^\]]*)\]")
_HIGHLIGHT_OPTION = re.compile(r"\bhl\[(?P<spec>[^\]]*)\]")
_SNIPPET = re.compile(r"""^\s*--8<--\s+(["'])(?P<path>[^"']+)\1\s*$""")
_SNIPPET_FENCE = re.compile(r"^\s*--8<--\s*$")
_DIRECTIVE = re.compile(
    r"^\s*(?:\.\.\s+(?P<rst>literalinclude|include)::|(?:```|~~~|:::)\{(?P<myst>literalinclude|include)\})"
    r"\s*(?P<path>\S+)\s*$"
)
_OPTION = re.compile(r"^\s*:(?P<name>[\w-]+):\s*(?P<value>.*?)\s*$")
_SNIPPET_RANGE = re.compile(r"^(?P<path>.+?)((?::-?\d*){1,2})$")


_Ranges = tuple[tuple[int, int | None], ...]  # 1-based inclusive line ranges


@dataclass(frozen=True, slots=True)
class Include:
    """One directive: the 1-based line it is on, the file it names and which of its lines."""

    line: int
    target: str
    lines: _Ranges = ()  # () is all
    start_after: str = ""
    end_before: str = ""
    directive: str = ""  # the directive's own line, as written
    # The lines the page highlights: 1-based inclusive ranges of the target's own lines
    # (`hl[...]`) or, with `highlight_in_selection`, of the selected lines (Sphinx).
    highlight: _Ranges = ()
    highlight_in_selection: bool = False


def find_includes(path: str, text: str, known: Collection[str]) -> list[Include]:
    """The include directives of a page whose targets are among the `known` paths."""
    lines = text.splitlines()
    found: list[Include] = []
    in_snippets = False
    for index, line in enumerate(lines):
        number = index + 1
        if _SNIPPET_FENCE.match(line):
            in_snippets = not in_snippets
            continue
        if in_snippets:
            if line.strip() and not line.lstrip().startswith(";"):
                found.extend(_snippet(path, line.strip(), number, line, known))
            continue
        if match := _SNIPPET.match(line):
            found.extend(_snippet(path, match["path"], number, line, known))
            continue
        if match := _DIRECTIVE.match(line):
            options = _options(lines, index + 1)
            target = resolve_target(path, match["path"], known)
            if target is not None:
                found.append(
                    Include(
                        number,
                        target,
                        _ranges(options.get("lines", ""), "-"),
                        options.get("start-after", ""),
                        options.get("end-before", ""),
                        line,
                        _ranges(options.get("emphasize-lines", ""), "-"),
                        highlight_in_selection=True,
                    )
                )
            continue
        for match in _BRACE.finditer(line):
            target = resolve_target(path, match["path"] or match["bang"], known)
            if target is None:
                continue
            spec = _LINE_OPTION.search(match["opts"] or "")
            ranges = _ranges(spec["spec"], ":") if spec else ()
            marked = _HIGHLIGHT_OPTION.search(match["opts"] or "")
            highlight = _ranges(marked["spec"], ":") if marked else ()
            found.append(
                Include(number, target, ranges, directive=match.group(), highlight=highlight)
            )
    return found


# reST comments and targets: `.. _name:`, `.. |sub| ...`, and a bare `..`.
_RST_COMMENT = re.compile(r"^\s*\.\.\s*(_[^:]+:.*|\|[^|]+\|.*)?$")


# A page of a few sentences around a whole document many times its length is a wrapper too.
ALIAS_OWN_WORDS = 60
ALIAS_RATIO = 10
_WORDS = re.compile(r"\w+")


def is_alias(
    path: str, text: str, includes: Sequence[Include], included: Callable[[str], str]
) -> bool:
    """Whether a page is only a wrapper around whole files it includes: no words of its own
    but headings, labels and comments (Sphinx's `docs/changes.rst` holding
    `.. include:: ../CHANGES.rst`), or at most ALIAS_OWN_WORDS of them beside documents
    ALIAS_RATIO times as long (a "Community Updates" page of two sentences that includes
    the 2,000-line release history). When what it includes is prose, the page is that
    document under another name, not a page that quotes it (a page of only a heading and
    an example still shows the example). `included` gives an included file's text."""
    if not includes or any(i.lines or i.start_after or i.end_before for i in includes):
        return False
    lines = text.splitlines()
    outline = rst_outline(lines) if language_for(path) == "rst" else markdown_outline(lines)
    own = set(range(outline.first, len(lines))) - outline.hidden
    for heading in outline.headings:
        own -= set(range(heading.line, heading.body))
    for include in includes:
        at = include.line - 1
        own -= set(range(at, at + 1 + len(_options(lines, at + 1))))
    words = sum(len(_WORDS.findall(lines[i])) for i in own if not _RST_COMMENT.match(lines[i]))
    if words == 0:
        return True
    pulled = sum(len(_WORDS.findall(included(t))) for t in {i.target for i in includes})
    return words <= ALIAS_OWN_WORDS and pulled >= ALIAS_RATIO * words


def _snippet(page: str, spec: str, number: int, line: str, known: Collection[str]) -> list[Include]:
    """A snippet line: "path", or "path:start:end" for a range of its lines."""
    path, ranges = spec, cast(_Ranges, ())
    if (match := _SNIPPET_RANGE.match(spec)) and resolve_target(page, spec, known) is None:
        path, ranges = match["path"], _ranges(match.group(2)[1:], ":")
    target = resolve_target(page, path, known)
    return [] if target is None else [Include(number, target, ranges, directive=line)]


def _options(lines: Sequence[str], start: int) -> dict[str, str]:
    """The `:name: value` lines that follow a directive."""
    options: dict[str, str] = {}
    for line in lines[start : start + 20]:
        match = _OPTION.match(line)
        if match is None:
            break
        options[match["name"]] = match["value"]
    return options


def _ranges(spec: str, separator: str) -> _Ranges:
    """1-based inclusive ranges from "1-5,8,10-" (Sphinx) or "1:5,8" (brace includes)."""
    ranges: list[tuple[int, int | None]] = []
    for part in spec.split(","):
        first, sep, last = (piece.strip() for piece in part.partition(separator))
        if (first and not first.isdigit()) or (last and not last.isdigit()):
            continue
        if not sep:
            if first:
                ranges.append((int(first), int(first)))
            continue
        ranges.append((int(first) if first else 1, int(last) if last else None))
    return tuple(ranges)


def resolve_target(page: str, target: str, known: Collection[str]) -> str | None:
    """The repository path `target` names from `page`, or None when no known file matches."""
    target = target.strip().strip("\"'")
    if not target or "://" in target:
        return None
    folder = PurePosixPath(page).parent
    relative = target.lstrip("/")
    for base in [folder, *folder.parents]:
        candidate = posixpath.normpath(posixpath.join(str(base), relative))
        if candidate.startswith("../") or candidate == "..":
            continue
        if candidate in known:
            return candidate
    return None


def included_text(include: Include, text: str, *, highlighted_only: bool = False) -> str:
    """The part of the target's text that the directive selects, at most MAX_INCLUDED_CHARS;
    with `highlighted_only`, only the lines of it that the directive highlights (all of
    them when it highlights none)."""
    numbered = list(enumerate(text.splitlines(), start=1))
    if include.start_after and (at := _find(numbered, include.start_after)) is not None:
        numbered = numbered[at + 1 :]
    if include.end_before and (at := _find(numbered, include.end_before)) is not None:
        numbered = numbered[:at]
    if include.lines:
        numbered = _picked(numbered, include.lines)
    if highlighted_only and include.highlight:
        if include.highlight_in_selection:
            numbered = _picked(numbered, include.highlight)
        else:
            numbered = [(n, line) for n, line in numbered if _within(n, include.highlight)]
    body = "\n".join(line for _, line in numbered).strip("\n")
    if len(body) > MAX_INCLUDED_CHARS:
        body = body[:MAX_INCLUDED_CHARS].rsplit("\n", 1)[0]
    return body


def _picked(
    numbered: Sequence[tuple[int, str]], ranges: Sequence[tuple[int, int | None]]
) -> list[tuple[int, str]]:
    """The lines at 1-based positions `ranges` of `numbered`, in the ranges' order."""
    picked: list[tuple[int, str]] = []
    for start, end in ranges:
        picked.extend(numbered[start - 1 : end])
    return picked


def _within(number: int, ranges: Sequence[tuple[int, int | None]]) -> bool:
    return any(start <= number and (end is None or number <= end) for start, end in ranges)


def _find(numbered: Sequence[tuple[int, str]], marker: str) -> int | None:
    return next((i for i, (_, line) in enumerate(numbered) if marker in line), None)


def _fenced(target: str, body: str) -> str:
    language = language_for(target) or ""
    if language in ("markdown", "rst", "text"):
        return body
    fence = "````" if "```" in body else "```"
    return f"{fence}{language}\n{body}\n{fence}"


_Selection = tuple[str, _Ranges, str, str]  # target, lines, start-after, end-before


def expand_chunks(
    chunks: Sequence[Chunk], includes: Sequence[Include], texts: Mapping[str, str]
) -> list[Chunk]:
    """A page's chunks, in page order, each with the text of the files it includes
    (`expand_chunk`); a selection the page has already shown comes again only as its
    highlighted lines."""
    shown: set[_Selection] = set()
    expanded = {
        index: expand_chunk(chunks[index], includes, texts, shown=shown)
        for index in sorted(range(len(chunks)), key=lambda i: chunks[i].start_line)
    }
    return [expanded[index] for index in range(len(chunks))]


def expand_chunk(
    chunk: Chunk,
    includes: Sequence[Include],
    texts: Mapping[str, str],
    *,
    shown: set[_Selection] | None = None,
) -> Chunk:
    """The chunk with the text of the files its lines include, where each directive was.

    A directive still written in the passage is replaced by the included text (fenced as
    code for code files); one that markup cleaning turned into something else gets the text
    after the passage. The id follows the new text, so a changed example re-embeds the page.
    `shown` collects the selections brought in so far; one already in it comes as its
    highlighted lines only.
    """
    mine = [i for i in includes if chunk.start_line <= i.line <= chunk.end_line]
    if not mine:
        return chunk
    text = chunk.text
    tail: list[str] = []
    for include in mine:
        source = texts.get(include.target)
        if source is None:
            continue
        selection = (include.target, include.lines, include.start_after, include.end_before)
        again = shown is not None and selection in shown
        if shown is not None:
            shown.add(selection)
        block = _fenced(include.target, included_text(include, source, highlighted_only=again))
        if include.directive and include.directive in text:
            text = text.replace(include.directive, block, 1)
        else:
            tail.append(block)
    if tail:
        text = "\n\n".join([text, *tail])
    if text == chunk.text:
        return chunk
    return replace(chunk, text=text, id=chunk_id(chunk.kb, chunk.path, chunk.title, text))
