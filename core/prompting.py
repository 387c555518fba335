"""The prompt: numbered passages, the conversation so far, and instructions to cite."""

from __future__ import annotations

from collections.abc import Sequence

from core.types import ChatMessage, Source, Turn

SYSTEM_PROMPT = (
    "You are Leximind, an assistant that helps newcomers to the open-source project "
    "{project}. Answer the question using only the numbered passages from the project's "
    "documentation and code. Cite every claim with the passage number in brackets, like [1] "
    "or [2][3]. Keep the answer short and concrete; include a code example only when a "
    "passage shows one. If the passages do not contain the answer, say that you don't know "
    "and point to the closest passage instead of guessing."
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
) -> list[ChatMessage]:
    """Chat messages asking `question` over `sources`, numbered from 1 in the given order.

    The context budget is shared so that the first passages, the best ones, keep the most
    text; every passage keeps at least its location so its number stays citable.
    """
    messages = [ChatMessage("system", SYSTEM_PROMPT.format(project=project))]
    for turn in history:
        messages.append(ChatMessage("user", turn.question))
        messages.append(ChatMessage("assistant", turn.answer))
    budget = max_context_chars
    blocks: list[str] = []
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
