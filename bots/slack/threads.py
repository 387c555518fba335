"""Slack message text: questions out of mentions, answers as mrkdwn, and threads as turns.

Everything here is pure: it reads and writes the message text the Slack Web API carries
(`<@U123>` user mentions, `&lt;` escapes) and knows no client.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from bots.rendering import (
    ABSTAINED_LEAD,
    FAILED,
    FEEDBACK_HINT,
    RATE_LIMITED,
    SLACK_MRKDWN,
    neutralise_mentions,
    render_answer,
)
from core.types import Answer, Turn

PLACEHOLDER = "Looking that up…"
USAGE = (
    "Ask me about this project's docs and code: `/leximind how do I run the tests?`, "
    "or mention me in a channel I am in. React with 👍 or 👎 to my answers to teach me."
)
NOT_IN_CHANNEL = (
    "I can't post in this channel. Invite me with `/invite @Leximind`, "
    "or ask me where I already am."
)
_SOURCES_HEADING = "\n" + SLACK_MRKDWN.bold("Sources") + "\n"
_CLOSEST = "\nThe closest things I found:"
_HINT = "\n_" + FEEDBACK_HINT + "_"
_NOT_TURNS = frozenset({PLACEHOLDER, RATE_LIMITED, FAILED, USAGE})
_ROOT = re.compile(r"^\*<@(?P<user>[A-Z0-9]+)> asked:\*\n(?P<quote>(?:>.*(?:\n|$))+)$")


def escape(text: str) -> str:
    """Text Slack shows as written: `&`, `<` and `>` cannot start a link or mention."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """The characters behind Slack's three escapes."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def question_text(text: str, bot_user_id: str | None) -> str:
    """A mention's text without the bot's own `<@U...>`, as plain characters."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(\|[^>]*)?>", " ", text)
    return unescape(re.sub(r"[ \t]+", " ", text).strip())


def render_slack(answer: Answer) -> str:
    """The answer as mrkdwn: the model's text escaped, sources as links, mass mentions defused."""
    return render_answer(replace(answer, text=escape(answer.text)), SLACK_MRKDWN)


def root_message(user_id: str, command_text: str) -> str:
    """The channel message a slash command starts its thread with, quoting the question.

    `command_text` is the command's text as Slack sent it (already escaped mrkdwn).
    """
    quoted = "\n".join(f">{line}" for line in command_text.splitlines() or [""])
    return neutralise_mentions(f"*<@{user_id}> asked:*\n{quoted}")


def quoted_question(text: str) -> str | None:
    """The question in a slash command's root message, or None for any other text."""
    found = _ROOT.match(unescape(text).strip("\n") + "\n")
    if found is None:
        return None
    lines = [line[1:] for line in found.group("quote").splitlines()]
    return "\n".join(lines).replace("\u200b", "").strip()


def answer_body(text: str) -> str | None:
    """What an answer message said, without its sources and hint; None for placeholders,
    apologies and other messages that answered nothing."""
    text = unescape(text)
    if text in _NOT_TURNS or text.startswith("I can't answer that:"):
        return None
    if text.startswith(ABSTAINED_LEAD):
        return ABSTAINED_LEAD
    text = text.removesuffix(_HINT)
    body = text.split(_SOURCES_HEADING, 1)[0].split(_CLOSEST, 1)[0]
    return body.replace("\u200b", "").strip() or None


@dataclass(frozen=True, slots=True)
class BotIdentity:
    """Who the bot is on a workspace: its user id and its bot id, from `auth.test`."""

    user_id: str | None
    bot_id: str | None

    def wrote(self, message: Mapping[str, Any]) -> bool:
        """Whether this bot posted the message."""
        user, bot = message.get("user"), message.get("bot_id")
        return bool((self.user_id and user == self.user_id) or (self.bot_id and bot == self.bot_id))

    def mentioned_in(self, text: str) -> bool:
        return bool(self.user_id) and f"<@{self.user_id}" in text


def thread_turns(
    messages: Iterable[Mapping[str, Any]], *, me: BotIdentity, before: str
) -> tuple[Turn, ...]:
    """Earlier question/answer turns of a thread, oldest first.

    Each answer of this bot is paired with the question it answered: the latest message
    that mentioned the bot before it, or the question a slash command's root message quotes.
    Messages at or after `before` (the ts of the question being asked) are left out.
    """
    turns: list[Turn] = []
    pending: str | None = None
    for message in sorted(messages, key=lambda m: float(m.get("ts", "0"))):
        if float(message.get("ts", "0")) >= float(before):
            break
        text = str(message.get("text", ""))
        if me.wrote(message):
            quoted = quoted_question(text)
            if quoted is not None:
                pending = quoted
                continue
            body = answer_body(text)
            if pending and body:
                turns.append(Turn(question=pending, answer=body))
            if text != PLACEHOLDER:  # the answer replaces the placeholder later
                pending = None
        elif not message.get("bot_id") and me.mentioned_in(text):
            pending = question_text(text, me.user_id) or None
    return tuple(turns)
