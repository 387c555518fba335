"""The prompt: numbered passages, the conversation so far, and instructions to cite."""

from __future__ import annotations

from collections.abc import Sequence

from core.memory import MemoryEntry
from core.types import ChatMessage, Source, Turn

SYSTEM_PROMPT = (
    "You are Leximind, an assistant that helps newcomers to the open-source project "
    "{project}. Answer the question using only the numbered passages from the project's "
    "documentation and code. Cite every claim with the passage number in brackets, like [1] "
    "or [2][3]. Keep the answer short and concrete; include a code example only when a "
    "passage shows one. If the passages do not contain the answer, say that you don't know "
    "and point to the closest passage instead of guessing."
)
ENDORSED_NOTE = (
    " The passage marked [M] is not documentation: it is an answer that a maintainer or "
    "several users endorsed for a similar question. Prefer it when it answers this question, "
    "cite it as [M], and use the numbered passages for what it leaves out."
)


def format_endorsed(entry: MemoryEntry, *, limit: int) -> str:
    """The endorsed answer as the model sees it: marked [M], the question it answered first."""
    answer = entry.answer if len(entry.answer) <= limit else entry.answer[:limit].rstrip() + "[…]"
    return (
        f"[M] Endorsed answer ({entry.source}, {entry.endorsed_at[:10]})\n"
        f"Question: {entry.question}\nAnswer: {answer}"
    )


def format_passage(number: int, source: Source, *, limit: int) -> str:
    """One passage as the model sees it: number, location, then the text, cut to `limit`."""
    c = source.chunk
    text = c.text if len(c.text) <= limit else c.text[:limit].rstrip() + "\n[…]"
    return f"[{number}] {c.path} — {c.title} (lines {c.start_line}-{c.end_line})\n{text}"


def build_messages(
    question: str,
    sources: Sequence[Source],
    *,
    project: str,
    history: Sequence[Turn] = (),
    max_context_chars: int = 6000,
    endorsed: MemoryEntry | None = None,
) -> list[ChatMessage]:
    """Chat messages asking `question` over `sources`, numbered from 1 in the given order.

    The context budget is shared so that the first passages, the best ones, keep the most
    text; every passage keeps at least its location so its number stays citable. An
    `endorsed` answer comes first, marked [M], and the system prompt says what it is.
    """
    system = SYSTEM_PROMPT.format(project=project) + (ENDORSED_NOTE if endorsed else "")
    messages = [ChatMessage("system", system)]
    for turn in history:
        messages.append(ChatMessage("user", turn.question))
        messages.append(ChatMessage("assistant", turn.answer))
    budget = max_context_chars
    blocks: list[str] = []
    if endorsed is not None:
        blocks.append(format_endorsed(endorsed, limit=max(budget // 3, 200)))
        budget -= len(blocks[0])
    for number, source in enumerate(sources, start=1):
        share = max(budget // (len(sources) - number + 1), 200)
        block = format_passage(number, source, limit=share)
        budget -= len(block)
        blocks.append(block)
    passages = "\n\n".join(blocks) if blocks else "(no passages found)"
    messages.append(
        ChatMessage("user", f"Passages:\n\n{passages}\n\nQuestion: {question}\n\nAnswer:")
    )
    return messages
