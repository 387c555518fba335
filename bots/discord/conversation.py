"""Discord messages read as questions and as the earlier turns of a reply chain."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bots.rendering import FEEDBACK_HINT
from core.types import Turn

_HINT_LINE = f"_{FEEDBACK_HINT}_"


def mentions_of(user_id: int) -> re.Pattern[str]:
    """Matches `<@id>` and the older nickname form `<@!id>` of one user."""
    return re.compile(rf"<@!?{user_id}>")


def question_text(content: str, bot_id: int) -> str:
    """The message with the bot's mentions taken out and whitespace trimmed."""
    return " ".join(mentions_of(bot_id).sub(" ", content).split())


def quoted_question(content: str) -> str | None:
    """The question a slash-command answer repeats in its first `> ` line, if any."""
    first = content.split("\n", 1)[0]
    if not first.startswith("> "):
        return None
    return first[2:].strip() or None


def without_quote_and_hint(content: str) -> str:
    """A posted answer as the core should read it: no echoed question, no feedback hint."""
    lines = content.split("\n")
    if lines and lines[0].startswith("> "):
        lines = lines[1:]
    return "\n".join(line for line in lines if line.strip() != _HINT_LINE).strip()


@dataclass(frozen=True, slots=True)
class ChainMessage:
    """One message of a reply chain: who wrote it and what it says."""

    by_bot: bool
    content: str


def turns_from_chain(chain: Sequence[ChainMessage], bot_id: int) -> tuple[Turn, ...]:
    """Question/answer turns from a reply chain given oldest first.

    A user's question followed by one or more bot messages (an answer split in parts) is a
    turn; a bot message that opens the chain is a turn when it repeats its question (the
    answers to /leximind do). Messages that answer nothing are left out.
    """
    turns: list[Turn] = []
    question: str | None = None
    answer: list[str] = []

    def close() -> None:
        if question and answer:
            turns.append(Turn(question=question, answer="\n".join(answer)))

    for message in chain:
        if not message.by_bot:
            close()
            question, answer = question_text(message.content, bot_id) or None, []
            continue
        if not answer and question is None:
            question = quoted_question(message.content)
        text = without_quote_and_hint(message.content)
        if text:
            answer.append(text)
    close()
    return tuple(turns)
