"""Questions about what a project is, and the passage that answers them: its README's lead.

"What does this project do?" shares no word with "Starlette is a lightweight ASGI
framework", so no search finds the answer by its words (MiniLM puts READMEs' opening
paragraphs at cosine 0.1-0.3 to the question). By convention a README opens by saying what
the project is; the retriever takes that passage for such questions (rag.retrieval) and the
quoted answer quotes its opening sentences (core.extractive).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import PurePosixPath

from core.types import Chunk, ChunkKind

# "this project", "the library", "this repo", "it": the project itself, never a part of it.
_ITSELF = (
    r"(this|the)\s+(project|library|package|repo(sitory)?|framework|tool(kit)?|module|app"
    r"|application|codebase|software|lib)"
)
_OVERVIEW = re.compile(
    rf"\bwhat\s+(does|do|can|is)\s+{_ITSELF}\s+(do|for|about|used\s+for)\b"
    rf"|\bwhat\s+is\s+{_ITSELF}\s*\??\s*$"
    rf"|\bwhat('s|\s+is)\s+the\s+(purpose|point|goal|aim)\s+of\s+{_ITSELF}\b"
    rf"|\bwhat\s+(problems?|use\s+cases?)\s+does\s+{_ITSELF}\s+(solve|address|have)\b"
    rf"|\bwhy\s+(would|should)\s+(i|we|you|one)\s+use\s+{_ITSELF}\b"
    rf"|\bwhat\s+can\s+(i|we|you)\s+do\s+with\s+{_ITSELF}\b"
    rf"|\b(give\s+me\s+an?\s+)?overview\s+of\s+{_ITSELF}\b",
    re.IGNORECASE,
)
# A README at the repository's root, else the landing page of its docs folder.
_README = re.compile(r"^readme(\.[a-z]+)?$", re.IGNORECASE)
_INDEX = re.compile(r"^(index|readme)\.[a-z]+$", re.IGNORECASE)
_DOCS_DIRS = frozenset({"docs", "doc", "documentation"})
_WORD = re.compile(r"\b[A-Za-z][A-Za-z'-]*\b")
_NOISE = re.compile(r"<[^>]*>|\]\([^)]*\)|https?://\S+|\|\S+\|")
_SENTENCE_END = re.compile(r"(?<=[.!?])[*_]*\s+(?=[A-Z`*\[(])")
# What a README's opening sentence does: says what the project is, or what it lets you do.
_DEFINES = re.compile(
    r"\b(is|are)\s+(a|an|the|one)\b|\b(lets|helps|allows|enables)\s+(you|users|developers|one)\b"
    r"|\bmakes\s+it\s+(easy|easier|simple|possible)\b|\b(provides|offers)\s+(a|an)\b",
    re.IGNORECASE,
)
DEFINING_WORDS = 6  # words a sentence needs to say what a project is


_PROJECT_PHRASE = re.compile(rf"\b{_ITSELF}\b(?!\s*'s)", re.IGNORECASE)
_BARE_PRONOUN = re.compile(r"\b(it|this)\b", re.IGNORECASE)
# What else "it" could stand for: code, a CamelCase or dotted name, "my app", "the response".
_OTHER_THING = re.compile(
    r"`|\b[A-Z][a-z]+[A-Z]\w*|\b\w+[._/]\w+|\b(?i:my|your|our|the|a|an|their)\s+\w+"
)
PRONOUN_WORDS = 8  # a question this short that says "it" means the project


def naming_project(question: str, name: str) -> str | None:
    """The question with the project's `name` for "this library", or for the "it" of a short
    question about nothing else ("How do I install it?"); None when it names nothing so.

    Only what a search compares with the passages: "it" is a word every passage might
    stand for, the project's name is the one the README's "pip install <name>" uses.
    """
    if not name:
        return None
    if _PROJECT_PHRASE.search(question):
        return _PROJECT_PHRASE.sub(name, question, count=1)
    words = _WORD.findall(question)
    if len(words) > PRONOUN_WORDS or _OTHER_THING.search(question):
        return None
    if _BARE_PRONOUN.search(question):
        return _BARE_PRONOUN.sub(name, question, count=1)
    return None


def asks_overview(question: str) -> bool:
    """Whether the question asks what the project itself is, does or is for."""
    return bool(_OVERVIEW.search(question))


def is_overview_page(path: str) -> bool:
    """Whether a page is of the kind that says what a project is: a README at the root, or
    the landing page of a top docs folder."""
    parts = PurePosixPath(path).parts
    if len(parts) == 1:
        return bool(_README.match(parts[0]))
    return len(parts) == 2 and parts[0].lower() in _DOCS_DIRS and bool(_INDEX.match(parts[1]))


def overview_page(paths: Iterable[str]) -> str | None:
    """The page that says what a project is: its root README, else the landing page of its
    top docs folder; None when it has neither."""
    found = sorted(p for p in paths if is_overview_page(p))
    root = [p for p in found if "/" not in p]
    best = root or found
    return best[0] if best else None


def defines(sentence: str, name: str = "") -> bool:
    """Whether a sentence says what something is or does ("X is a framework for ...", "X
    makes it easy to ...", or `name`, the page's title, doing something: "Leximind answers
    ..."), in enough words and ending as a sentence."""
    text = _NOISE.sub(" ", sentence).strip().rstrip("*_`")
    words = _WORD.findall(text)
    if len(words) < DEFINING_WORDS or not text.endswith((".", "!")):
        return False
    if _DEFINES.search(text):
        return True
    named = name.strip("*_` ").lower()
    opening = [w.lower() for w in words[:2]]
    return bool(named) and named in opening and words[opening.index(named) + 1].islower()


def lead_passage(chunks: Iterable[Chunk]) -> Chunk | None:
    """The first passage of a page, in line order, with a sentence that says what the
    project is: a README's opening lines are often only a logo, badges, links or a list of
    fields, and some open with a call for donations."""
    for chunk in sorted(chunks, key=lambda c: c.start_line):
        name = chunk.title.split(" > ")[0]
        if chunk.kind is ChunkKind.DOC and any(defines(s, name) for s in sentences(chunk.text)):
            return chunk
    return None


_SUBJECT = re.compile(
    r"^\W*([A-Za-z][\w.-]*)\W*\s+(is|are|makes|lets|helps|provides|offers|answers)\b"
)


def project_name(lead: Chunk) -> str:
    """The project's name as its README's opening uses it: the page's title when the
    opening mentions it ("Starlette"), else the subject of its defining sentence ("*attrs*
    is the Python package ..."); empty when neither says."""
    title = lead.title.split(" > ")[0].strip()
    if "." not in title and len(title.split()) <= 3 and title.lower() in lead.text.lower():
        return title
    for sentence in sentences(lead.text):
        if defines(sentence) and (match := _SUBJECT.match(_NOISE.sub(" ", sentence))):
            return match.group(1)
    return ""


def sentences(text: str) -> list[str]:
    """A passage's lines and sentences, roughly: enough to find a defining one."""
    found: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        joined = " ".join(line.strip() for line in paragraph.splitlines())
        found.extend(s for s in _SENTENCE_END.split(joined) if s.strip())
    return found
