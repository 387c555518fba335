"""A generated answer checked against the passages it cites, before it leaves the service.

Three steps, all pure functions of the answer text and the passages:

1. Citation markers (`[3]`, `[1, 2]`) that name no passage are removed and counted; markers
   inside code (fenced blocks, inline code) are code, not citations, and stay as they are.
2. Each sentence (or fenced code block) gets a support score in 0..1 from the passages it
   cites: the share of its content words found in them (lexical), averaged with its best
   cosine similarity to them (semantic) when an embedding function is given. A sentence
   without a marker is scored against the passages cited next to it in its paragraph; if
   none are, against the passage that supports it best, whose marker is then added when the
   support reaches `min_sentence_support` (so the reader can check it).
3. The answer's support is the mean of its sentences' scores, weighted by their content
   words. Below `min_support` the answer is not sent as it is (core.answering falls back).
4. When the question is given, the answer must also relate to it: support alone passes an
   answer that copies a retrieved passage that does not address the question. A text's
   relevance to the question is the share of the question's content words it holds, averaged
   (by `semantic_weight`) with its cosine similarity to the question when an embedding
   function is given. The answer's relevance is the larger of its own and that of the passages
   its sentences were scored against (weighted like the support, so a short answer that cites
   the passage that answers the question is on topic without repeating the question's words),
   relative to the most relevant passage's. Below `min_question_relevance` the answer is off
   topic and not sent as it is; when no passage relates to the question there is nothing to
   compare with, and the evidence threshold of core.answering decides.
5. Two shapes of text make no claim a passage could support, and small models write both.
   A line that only names a source ("[2] docs/a.md — Title (lines 3-9)", as the prompt
   heads each passage, or a bare file path) is not scored when it names a passage as the
   prompt did; when it names a passage that does not exist, or a file under another
   passage's number, or one that no passage comes from, the answer invents a source and is
   not sent as it is. An answer whose lines or sentences mostly repeat one another (a
   sentence said a third time, a list of the same item) is not sent either.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.extractive import content_terms

# A run of citation markers such as "[1]", "[2][3]" or "[1, 2]", not an index like `x[0]`.
_MARKER = re.compile(r"(?<![\w)\]`])((?:\[\d+(?:\s*,\s*\d+)*\])+)")
_NUMBERS = re.compile(r"\d+")
_CODE = re.compile(r"(?ms)^[ \t]*(```|~~~).*?^[ \t]*\1[^\n]*$|`[^`\n]+`")
_FENCE = re.compile(r"(?ms)^[ \t]*(```|~~~).*?^[ \t]*\1[^\n]*$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_PARAGRAPH = re.compile(r"\n\s*\n")
# A line that only names a source: an optional list number, citation markers, a file path,
# then optionally "— title" and "(lines a-b)" as core.prompting heads each passage.
_REFERENCE = re.compile(
    r"^\s*(?:[-*]\s+|\d+[.)]\s*)?(?P<markers>(?:\[\d+(?:\s*,\s*\d+)*\]\s*)*)`?"
    r"(?P<path>[\w.-]*(?:/[\w.-]+)+/?|[\w-]+(?:\.[\w-]+)*\.[A-Za-z]\w{0,7})`?"
    r"(?:\s+[—–-]+\s+(?P<title>.*?))?(?:\s*\(lines\s+(?P<lines>\d+\s*-\s*\d+)\)?)?\s*:?\s*$"
)
_LIST_NUMBER = re.compile(r"^\s*(?:[-*]\s+|\d+[.)]\s*)")
_NOT_WORD = re.compile(r"[^\w]+")

Embed = Callable[[Sequence[str]], Sequence[Sequence[float]]]


@dataclass(frozen=True, slots=True)
class GroundingPolicy:
    """The thresholds of the check (calibrated in docs/benchmarks.md, "Grounding").

    `semantic_weight` is the share of the semantic score in a sentence's support when an
    embedding function is given; `min_terms` the content words a sentence needs to be scored
    (shorter ones, like "Sure!", neither help nor hurt); `max_repeated_share` the share of an
    answer's lines and sentences that may repeat earlier ones (two at least are needed).
    """

    min_support: float = 0.6
    min_sentence_support: float = 0.5
    semantic_weight: float = 0.5
    min_terms: int = 2
    min_question_relevance: float = 0.4
    max_repeated_share: float = 0.3


@dataclass(frozen=True, slots=True)
class PassageHeader:
    """Where a passage comes from, as the prompt named it above the passage's text."""

    path: str
    start_line: int | None = None
    end_line: int | None = None


@dataclass(frozen=True, slots=True)
class SentenceSupport:
    """One scored sentence: the passages (1-based) it was scored against and its scores."""

    text: str
    cited: tuple[int, ...]
    lexical: float
    semantic: float | None
    score: float
    weight: int
    attributed: bool = False


@dataclass(frozen=True, slots=True)
class GroundingCheck:
    """The checked answer text and what the check found."""

    text: str
    support: float
    sentences: tuple[SentenceSupport, ...]
    removed_citations: int
    attributed_citations: int
    grounded: bool
    sentence_floor: float = 0.5
    relevance: float | None = None
    on_topic: bool = True
    invented_sources: int = 0
    repeated: int = 0
    repetitive: bool = False

    @property
    def unsupported(self) -> int:
        """Scored sentences whose support is below the sentence threshold."""
        return sum(1 for s in self.sentences if s.score < self.sentence_floor)


def _code_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _CODE.finditer(text)]


def _inside(position: int, spans: Sequence[tuple[int, int]]) -> bool:
    return any(start <= position < end for start, end in spans)


def remove_invalid_citations(text: str, passages: int) -> tuple[str, int]:
    """`text` without the citation numbers outside 1..`passages`, and how many were removed.

    "[1, 9]" with two passages becomes "[1]"; "[9]" disappears with the space before it.
    """
    code = _code_spans(text)
    removed = 0
    parts: list[str] = []
    position = 0
    for match in _MARKER.finditer(text):
        if _inside(match.start(), code):
            continue
        kept: list[str] = []
        for group in re.findall(r"\[[^\]]*\]", match.group(1)):
            numbers = [int(n) for n in _NUMBERS.findall(group)]
            valid = [n for n in numbers if 1 <= n <= passages]
            removed += len(numbers) - len(valid)
            if valid:
                kept.append("[" + ", ".join(str(n) for n in valid) + "]")
        start = match.start()
        if not kept:
            while start > position and text[start - 1] in " \t":
                start -= 1
        parts.append(text[position:start] + "".join(kept))
        position = match.end()
    parts.append(text[position:])
    return "".join(parts), removed


def cited_numbers(text: str) -> list[int]:
    """The passage numbers cited in `text`, in order of appearance (code excluded)."""
    code = _code_spans(text)
    found: list[int] = []
    for match in _MARKER.finditer(text):
        if not _inside(match.start(), code):
            found.extend(int(n) for n in _NUMBERS.findall(match.group(1)))
    return found


@dataclass(frozen=True, slots=True)
class _Unit:
    start: int
    end: int
    paragraph: int

    def text(self, answer: str) -> str:
        return answer[self.start : self.end]


def _units(text: str) -> list[_Unit]:
    """Sentences and fenced code blocks with their spans; a blank line starts a paragraph."""
    units: list[_Unit] = []
    paragraph = 0
    position = 0
    for fence in [*_FENCE.finditer(text), None]:
        end = fence.start() if fence is not None else len(text)
        previous_line_end = position
        for line in re.finditer(r"[^\n]+", text[position:end]):
            start = position + line.start()
            if units and "\n" in text[previous_line_end:start].replace("\n", "", 1):
                paragraph += 1
            previous_line_end = position + line.end()
            cursor = start
            for boundary in [*_SENTENCE_END.finditer(line.group()), None]:
                stop = start + boundary.start() if boundary is not None else previous_line_end
                if text[cursor:stop].strip():
                    units.append(_Unit(cursor, stop, paragraph))
                if boundary is not None:
                    cursor = start + boundary.end()
        if fence is not None:
            paragraph += 1
            units.append(_Unit(fence.start(), fence.end(), paragraph))
            paragraph += 1
            position = fence.end()
    return _merge_leading_markers(text, units)


def _merge_leading_markers(text: str, units: list[_Unit]) -> list[_Unit]:
    """ "It runs pytest. [1]" splits into "It runs pytest." and "[1]": the marker belongs to
    the sentence before it."""
    merged: list[_Unit] = []
    for unit in units:
        body = unit.text(text)
        if merged and not _MARKER.sub("", body).strip() and merged[-1].paragraph == unit.paragraph:
            merged[-1] = _Unit(merged[-1].start, unit.end, unit.paragraph)
        else:
            merged.append(unit)
    return merged


def _lexical(terms: set[str], passage_terms: Sequence[set[str]], cited: Sequence[int]) -> float:
    if not terms or not cited:
        return 0.0
    pool: set[str] = set().union(*(passage_terms[n - 1] for n in cited))
    return len(terms & pool) / len(terms)


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def check_answer(
    text: str,
    passages: Sequence[str],
    *,
    policy: GroundingPolicy | None = None,
    embed: Embed | None = None,
    question: str | None = None,
    headers: Sequence[PassageHeader] | None = None,
) -> GroundingCheck:
    """The answer with invalid citations removed and missing ones attributed, its support
    and, when `question` is given, its relevance to the question (step 4 above).

    `passages` are the texts numbered 1.. in the prompt; `embed`, if given, turns texts into
    vectors (any length, compared by cosine); `headers`, if given, where each passage comes
    from, which lines that only name a source are checked against (step 5).
    """
    p = policy or GroundingPolicy()
    references = [_reference(u.text(text)) for u in _units(text)]
    invented = sum(_invented(r, headers, passages) for r in references if r is not None)
    cleaned, removed = remove_invalid_citations(text, len(passages))
    units = _units(cleaned)
    bodies = [_MARKER.sub("", u.text(cleaned)) for u in units]
    naming = [_reference(u.text(cleaned)) is not None for u in units]
    terms = [set() if naming[i] else content_terms(b) for i, b in enumerate(bodies)]
    cites = [tuple(dict.fromkeys(cited_numbers(u.text(cleaned)))) for u in units]
    passage_terms = [content_terms(t) for t in passages]
    repeats = _repeats(cleaned, units)
    said = [i for i, t in enumerate(terms) if t or naming[i]]
    scored = [i for i, t in enumerate(terms) if len(t) >= p.min_terms and i not in repeats]
    repetitive = len(repeats) >= 2 and len(repeats) > p.max_repeated_share * len(said)

    question_terms = content_terms(question) if question is not None else set()
    asks = bool(question_terms) and bool(scored) and bool(passages)
    vectors: Sequence[Sequence[float]] = ()
    if embed is not None and scored and passages:
        extra = [question or "", " ".join(bodies)] if asks else []
        vectors = embed([*passages, *(bodies[i] for i in scored), *extra])
    semantic_of = {i: vectors[len(passages) + k] for k, i in enumerate(scored)} if vectors else {}

    def support(i: int, cited: Sequence[int]) -> tuple[float, float | None, float]:
        lexical = _lexical(terms[i], passage_terms, cited)
        if i not in semantic_of:
            return lexical, None, lexical
        if not cited:
            return lexical, 0.0, (1 - p.semantic_weight) * lexical
        semantic = max(0.0, max(_cosine(semantic_of[i], vectors[n - 1]) for n in cited))
        score = (1 - p.semantic_weight) * lexical + p.semantic_weight * semantic
        return lexical, semantic, score

    results: list[SentenceSupport] = []
    insertions: list[tuple[int, str]] = []
    for i in scored:
        cited = cites[i] or _neighbours(i, units, cites)
        attributed = False
        if not cited and passages:
            best = max(range(1, len(passages) + 1), key=lambda n: support(i, (n,))[2])
            if support(i, (best,))[2] >= p.min_sentence_support:
                cited, attributed = (best,), True
                insertions.append(_marker_insertion(cleaned, units[i], best))
        lexical, semantic, score = support(i, cited)
        results.append(
            SentenceSupport(
                text=bodies[i].strip(),
                cited=tuple(cited),
                lexical=round(lexical, 3),
                semantic=None if semantic is None else round(semantic, 3),
                score=round(score, 3),
                weight=len(terms[i]),
                attributed=attributed,
            )
        )
    for position, marker in sorted(insertions, reverse=True):
        cleaned = cleaned[:position] + marker + cleaned[position:]
    total = sum(r.weight for r in results)
    answer_support = sum(r.score * r.weight for r in results) / total if total else 0.0
    relevance: float | None = None
    if asks:
        own_vector = vectors[-1] if vectors else None
        question_vector = vectors[-2] if vectors else None

        def related(text_terms: set[str], vector: Sequence[float] | None) -> float:
            lexical = len(text_terms & question_terms) / len(question_terms)
            if vector is None or question_vector is None:
                return lexical
            semantic = max(0.0, _cosine(vector, question_vector))
            return (1 - p.semantic_weight) * lexical + p.semantic_weight * semantic

        of_passage = [
            related(passage_terms[n], vectors[n] if vectors else None) for n in range(len(passages))
        ]
        reference = max(of_passage)
        if reference > 0:
            own = related(set().union(*(terms[i] for i in scored)), own_vector)
            via = sum(
                r.weight * max((of_passage[n - 1] for n in r.cited), default=0.0) for r in results
            )
            relevance = min(1.0, max(own, via / total if total else 0.0) / reference)
    on_topic = relevance is None or relevance >= p.min_question_relevance
    return GroundingCheck(
        text=cleaned,
        support=round(answer_support, 3),
        sentences=tuple(results),
        removed_citations=removed,
        attributed_citations=len(insertions),
        grounded=bool(results)
        and answer_support >= p.min_support
        and on_topic
        and not invented
        and not repetitive,
        sentence_floor=p.min_sentence_support,
        relevance=None if relevance is None else round(relevance, 3),
        on_topic=on_topic,
        invented_sources=invented,
        repeated=len(repeats),
        repetitive=repetitive,
    )


@dataclass(frozen=True, slots=True)
class _Reference:
    numbers: tuple[int, ...]
    path: str
    lines: tuple[int, int] | None


def _reference(unit: str) -> _Reference | None:
    """The source a line names when it names nothing else (step 5), else None."""
    if "\n" in unit.strip() or unit.lstrip().startswith(("```", "~~~")):
        return None
    found = _REFERENCE.match(unit)
    if found is None:
        return None
    lines = None
    if found.group("lines"):
        first, last = (int(n) for n in found.group("lines").split("-"))
        lines = (first, last)
    numbers = tuple(int(n) for n in _NUMBERS.findall(found.group("markers")))
    return _Reference(numbers, found.group("path").strip("/"), lines)


def _invented(
    reference: _Reference, headers: Sequence[PassageHeader] | None, passages: Sequence[str]
) -> bool:
    """Whether a line that names a source names one the prompt did not show: a passage
    number out of range, a file under another passage's number, invented line numbers, or
    a bare path that neither heads nor appears in any passage."""
    if headers is None:
        return False

    def same_file(path: str, header: PassageHeader) -> bool:
        return path == header.path or header.path.endswith("/" + path)

    if not reference.numbers:
        named = any(same_file(reference.path, h) for h in headers)
        return not named and not any(reference.path in t for t in passages)
    for n in reference.numbers:
        if not 1 <= n <= len(headers) or not same_file(reference.path, headers[n - 1]):
            return True
        header = headers[n - 1]
        shown = (header.start_line, header.end_line)
        if (
            reference.lines is not None
            and header.start_line is not None
            and reference.lines != shown
        ):
            return True
    return False


def _repeats(text: str, units: Sequence[_Unit]) -> set[int]:
    """The units that say again what an earlier unit said (list numbers, markers, case and
    punctuation aside)."""
    seen: set[str] = set()
    again: set[int] = set()
    for i, unit in enumerate(units):
        body = _MARKER.sub("", _LIST_NUMBER.sub("", unit.text(text)))
        key = _NOT_WORD.sub(" ", body.lower()).strip()
        if not key:
            continue
        if key in seen:
            again.add(i)
        seen.add(key)
    return again


def _neighbours(
    i: int, units: Sequence[_Unit], cites: Sequence[tuple[int, ...]]
) -> tuple[int, ...]:
    """The citations of the nearest cited unit after `i` in its paragraph, else before it."""
    paragraph = units[i].paragraph
    for j in [*range(i + 1, len(units)), *range(i - 1, -1, -1)]:
        found: tuple[int, ...] = cites[j]
        if units[j].paragraph == paragraph and found:
            return found
    return ()


def _marker_insertion(text: str, unit: _Unit, number: int) -> tuple[int, str]:
    """Where and what to insert to cite `number`: before a sentence's final punctuation, or
    on the line above a code block (text after a closing fence would break it)."""
    body = text[unit.start : unit.end].rstrip()
    if body.lstrip().startswith(("```", "~~~")):
        return unit.start, f"[{number}]\n"
    end = unit.start + len(body)
    while end > unit.start and text[end - 1] in ".!?:;":
        end -= 1
    return end, f" [{number}]"
