"""The answer Leximind gives with no language model: the best sentences, quoted and cited."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from core.overview import asks_overview, defines, is_overview_page
from core.types import ChunkKind, Source
from core.versions import named_versions, names_release

EXTRACTIVE_MODEL = "extractive"
_WORD = re.compile(r"[a-z0-9_]+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z`*\[(])")
_STOP = frozenset(
    (
        "a an and are as at be by can do does for from how i if in into is it its me my of on "
        "or so that the their then there these this to was what when where which who why will "
        "with you your we our use using"
    ).split()
)
_FENCE = re.compile(r"(?ms)^[ \t]*(```|~~~).*?^[ \t]*\1[^\n]*$")
_CODE_LINES = 12
_MARKUP = re.compile(r"^\s*(#+\s*|[*-]\s+|\d+\.\s+|>\s*)")
_ITEM = re.compile(r"^\s*(?:[*+-]|\d+[.)])\s+(?=\S)")
_LIST_ITEMS = 8  # items of a quoted list
_SHORT_ITEM = 8  # words: a list of short items is quoted as a list, not as sentences
_COMPLETIONS = 2  # code blocks or lists quoted because a chosen sentence announces them
_INDENTED_CODE = re.compile(r"^(?: {4}|\t)")
# A lone line of a few words without closing punctuation: a heading, not a sentence (a
# sentence in bold or italics, "**X makes it easy to ...**", still ends as a sentence).
_TITLE = re.compile(r"^(?:\S+[ \t]+){0,9}\S+$(?<![.!?:;,)])(?<![.!?][*_])(?<![.!?][*_]{2})")


def _normalised(text: str) -> str:
    """Lower-case words joined by single spaces; empty for under three words."""
    words = _WORD.findall(text.lower())
    return " ".join(words) if len(words) >= 3 else ""


def content_terms(text: str) -> set[str]:
    """Content words, lower-cased, with a plural "s" dropped so "tests" meets "test"."""
    words = (w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 1)
    return {w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in words}


@dataclass(frozen=True, slots=True)
class _Unit:
    """A quotable piece of a passage: one prose sentence, or one fenced code block."""

    text: str
    code_language: str | None = None
    items: tuple[str, ...] = ()  # a list quoted as a list

    def render(self, number: int) -> str:
        if self.items:
            shown = [f"> - {item}" for item in self.items]
            return "\n".join(shown) + f" [{number}]"
        if self.code_language is None:
            return f"> {self.text} [{number}]"
        return f"[{number}]\n```{self.code_language}\n{self.text}\n```"


def _units(text: str) -> list[_Unit]:
    """Sentences of the prose and its fenced code blocks, in order; headings, tables,
    HTML and include directives are left out."""
    units: list[_Unit] = []
    position = 0
    for fence in _FENCE.finditer(text):
        units.extend(_sentences(text[position : fence.start()]))
        lines = fence.group().strip().splitlines()
        info = lines[0].strip().lstrip("`~").strip()
        body = "\n".join(lines[1:-1][:_CODE_LINES])
        if body.strip():
            units.append(_Unit(body, code_language=info.split()[0] if info else ""))
        position = fence.end()
    units.extend(_sentences(text[position:]))
    return units


def _sentences(prose: str) -> list[_Unit]:
    """Sentences of the prose paragraphs; a paragraph of indented code or of an interactive
    session is one code unit that keeps its lines, a one-line title is left out."""
    found: list[_Unit] = []
    for paragraph in re.split(r"\n[ \t]*\n", prose):
        stripped = paragraph.strip()
        if not stripped or stripped.startswith(("#", "{*", "<", "|", "///", "```", "~~~")):
            continue
        lines = paragraph.strip("\n").splitlines()
        indented = all(_INDENTED_CODE.match(line) for line in lines)
        if stripped.startswith(">>>") or (indented and not _MARKUP.match(stripped)):
            body = textwrap.dedent("\n".join(lines[:_CODE_LINES]))
            found.append(_Unit(body, code_language="pycon" if body.startswith(">>>") else ""))
            continue
        if len(lines) == 1 and _TITLE.match(stripped):
            continue
        items = _list_items(stripped.splitlines())
        if items and max(len(item.split()) for item in items) <= _SHORT_ITEM:
            found.append(_Unit("; ".join(items), items=tuple(items)))
            continue
        if items:
            found.extend(_Unit(s.strip()) for i in items for s in _SENTENCE.split(i) if len(s) > 20)
            continue
        flat = " ".join(_MARKUP.sub("", line) for line in stripped.splitlines())
        found.extend(_Unit(s.strip()) for s in _SENTENCE.split(flat) if len(s.strip()) > 20)
    return found


def _list_items(lines: Sequence[str]) -> list[str]:
    """The items of a paragraph that is a bullet or numbered list (continuation lines
    joined to their item); empty when the paragraph is not a list."""
    items: list[str] = []
    for line in lines:
        if _ITEM.match(line):
            items.append(_ITEM.sub("", line).strip())
        elif items and line.strip():
            items[-1] += " " + line.strip()
        else:
            return []
    return items if len(items) >= 2 else []


def _matching_items(unit: _Unit, wanted: set[str]) -> _Unit:
    """A long list cut to `_LIST_ITEMS` items, those that share the question's words kept
    first, in the list's order, with "…" where items were left out."""
    ranked = sorted(
        range(len(unit.items)), key=lambda i: (-len(wanted & content_terms(unit.items[i])), i)
    )
    shown: list[str] = []
    previous = -1
    for i in sorted(ranked[:_LIST_ITEMS]):
        if i != previous + 1:
            shown.append("…")
        shown.append(unit.items[i])
        previous = i
    if previous != len(unit.items) - 1:
        shown.append("…")
    return _Unit(unit.text, items=tuple(shown))


def _code_excerpt(source: Source) -> str:
    lines = source.chunk.text.splitlines()
    more = "\n…" if len(lines) > _CODE_LINES else ""
    return f"```{source.chunk.language}\n" + "\n".join(lines[:_CODE_LINES]) + more + "\n```"


def extractive_answer(question: str, sources: Sequence[Source], *, max_units: int = 4) -> str:
    """An answer quoted from the passages, each quote citing its passage number.

    Sentences and code blocks of documents are chosen by the question words they share,
    better-ranked passages first; at most one code block is quoted. For a question that
    names a release, they come from the sections titled with it, if any. For a question
    about what the project is (core.overview), the first passage's opening sentences are
    quoted in order: a README says what its project is in words the question does not use.
    When a source-code passage ranks first, its definition is shown as an excerpt.
    """
    header = "From the project's sources (quoted, not generated):"
    lead = sources[0].chunk if sources else None
    if asks_overview(question) and lead and is_overview_page(lead.path):
        prose = [u for u in _units(lead.text) if u.code_language is None]
        name = lead.title.split(" > ")[0]
        start = next((n for n, u in enumerate(prose) if defines(u.text, name)), 0)
        opening = prose[start:]
        if opening:
            quoted = "\n\n".join(u.render(1) for u in opening[:max_units])
            return header + "\n\n" + quoted
    wanted = content_terms(question)
    echo = _normalised(question)
    asked = set(named_versions(question))
    # The notes of the release a question names answer it, in words of their own: when a
    # section titled with that release is among the passages, the quotes come from it.
    releases = {n for n, s in enumerate(sources, start=1) if names_release(s.chunk.title, asked)}
    scored: list[tuple[float, int, int, _Unit]] = []
    units_of: dict[int, list[_Unit]] = {}
    for number, source in enumerate(sources, start=1):
        if source.chunk.kind is ChunkKind.CODE or (releases and number not in releases):
            continue
        units_of[number] = _units(source.chunk.text)
        for position, unit in enumerate(units_of[number]):
            if echo and unit.code_language is None and echo in _normalised(unit.text):
                continue  # a sentence that quotes the question is about it, not an answer
            overlap = len(wanted & content_terms(unit.text)) + (number in releases)
            if overlap and len(unit.items) > _LIST_ITEMS:
                unit = _matching_items(unit, wanted)
            if overlap:
                score = overlap / (1 + 0.35 * (number - 1)) - 0.01 * position
                scored.append((score, number, position, unit))
    best: list[tuple[float, int, int, _Unit]] = []
    for item in sorted(scored, key=lambda s: -s[0]):
        is_code = item[3].code_language is not None
        if is_code and any(b[3].code_language is not None for b in best):
            continue
        best.append(item)
        if len(best) == max_units:
            break
    best.extend(_completions(best, units_of))
    best.sort(key=lambda s: (s[1], s[2]))
    parts = [unit.render(number) for _, number, _, unit in best]
    code = [(n, s) for n, s in enumerate(sources, start=1) if s.chunk.kind is ChunkKind.CODE]
    if code and (not parts or code[0][0] == 1):
        number, source = code[0]
        parts.append(f"`{source.chunk.title}` in `{source.chunk.path}` [{number}]:\n\n")
        parts[-1] += _code_excerpt(source)
    if not parts:
        first = sources[0].chunk
        parts.append(f"See {first.title} in `{first.path}` [1].")
    return header + "\n\n" + "\n\n".join(parts)


def _completions(
    best: Sequence[tuple[float, int, int, _Unit]], units_of: dict[int, list[_Unit]]
) -> list[tuple[float, int, int, _Unit]]:
    """What the chosen sentences announce: a sentence that ends with a colon ("To run the
    tests, use:") is completed by the code block or list that follows it, which seldom
    shares the question's words (at most _COMPLETIONS of them)."""
    chosen = {(number, position) for _, number, position, _ in best}
    added: list[tuple[float, int, int, _Unit]] = []
    for _, number, position, unit in sorted(best, key=lambda b: -b[0]):
        following = units_of.get(number, [])[position + 1 : position + 2]
        if unit.code_language is not None or not unit.text.rstrip().endswith(":"):
            continue
        if not following or (number, position + 1) in chosen:
            continue
        added.append((0.0, number, position + 1, following[0]))
        chosen.add((number, position + 1))
        if len(added) == _COMPLETIONS:
            break
    return added


def abstention(sources: Sequence[Source]) -> str:
    """The text of an answer that declines, pointing at the closest passages if any."""
    if not sources:
        return "I don't know: nothing in the indexed sources matches this question."
    closest = "\n".join(
        f"- [{n}] {s.chunk.title} (`{s.chunk.path}`)" for n, s in enumerate(sources[:3], 1)
    )
    return (
        "I don't know: the indexed sources don't answer this clearly. "
        "The closest passages are:\n" + closest
    )
