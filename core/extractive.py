"""The answer Leximind gives with no language model: the best sentences, quoted and cited."""

from __future__ import annotations

import re
from collections.abc import Sequence

from core.types import ChunkKind, Source

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
_MARKUP = re.compile(r"^\s*(#+\s*|[*-]\s+|\d+\.\s+|>\s*)")


def _terms(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 1}


def _units(text: str) -> list[str]:
    """Prose split into sentences, leaving out code blocks, directives, tables and headings."""
    prose = _FENCE.sub("\n", text)
    units: list[str] = []
    for paragraph in re.split(r"\n\s*\n", prose):
        stripped = paragraph.strip()
        if not stripped or stripped.startswith(("#", "{*", "<", "|", "///", "```", "~~~")):
            continue
        flat = " ".join(_MARKUP.sub("", line) for line in stripped.splitlines())
        units.extend(s.strip() for s in _SENTENCE.split(flat) if len(s.strip()) > 20)
    return units


def _code_excerpt(source: Source, lines: int = 12) -> str:
    body = source.chunk.text.splitlines()[:lines]
    more = "\n…" if len(source.chunk.text.splitlines()) > lines else ""
    return f"```{source.chunk.language}\n" + "\n".join(body) + more + "\n```"


def extractive_answer(question: str, sources: Sequence[Source], *, max_sentences: int = 4) -> str:
    """An answer quoted from the passages, each quote citing its passage number.

    Sentences are chosen by the question words they share, with earlier (better ranked)
    passages preferred; code passages are shown as a short excerpt instead.
    """
    wanted = _terms(question)
    scored: list[tuple[float, int, int, str]] = []
    for number, source in enumerate(sources, start=1):
        if source.chunk.kind is ChunkKind.CODE:
            continue
        for position, sentence in enumerate(_units(source.chunk.text)):
            overlap = len(wanted & _terms(sentence))
            score = overlap / (1 + 0.35 * (number - 1)) - 0.01 * position
            scored.append((score, number, position, sentence))
    best = sorted(scored, key=lambda s: -s[0])[:max_sentences]
    best.sort(key=lambda s: (s[1], s[2]))
    parts = [f"> {sentence} [{number}]" for _, number, _, sentence in best]
    code = [(n, s) for n, s in enumerate(sources, start=1) if s.chunk.kind is ChunkKind.CODE]
    if code and (not parts or code[0][0] == 1):
        number, source = code[0]
        parts.append(f"`{source.chunk.title}` in `{source.chunk.path}` [{number}]:\n\n")
        parts[-1] += _code_excerpt(source)
    if not parts:
        first = sources[0].chunk
        parts.append(f"See {first.title} in `{first.path}` [1].")
    header = "From the project's sources (quoted, not generated):"
    return header + "\n\n" + "\n\n".join(parts)


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
