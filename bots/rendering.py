"""Answers as chat messages: text, cited sources as links, the feedback hint.

Adapters pick a Markup (Slack mrkdwn or Markdown) and send the result; nothing here knows a
platform's API.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from core.types import Answer, Source

ASKED_BEFORE = "Asked before:"
ENDORSED_THREAD = "Endorsed answer:"
FEEDBACK_HINT = "React with 👍 or 👎 to tell me whether this helped; it teaches the bot."
ABSTAINED_LEAD = "I don't know the answer to that from this project's docs and code."
RATE_LIMITED = (
    "You've asked a lot of questions in a short time, so I'm taking a breather. "
    "Please try again in a minute."
)
FAILED = "Sorry, something went wrong while I was looking that up. Please try again later."

_ZERO_WIDTH_SPACE = "\u200b"
# Slack special mentions (<!channel>, <!here|here>, <!subteam^S1|@team>) and the plain
# @everyone / @here / @channel that Discord and Slack both honour.
_SLACK_SPECIAL = re.compile(r"<!(channel|here|everyone|subteam\^[A-Z0-9]+)(\|[^>]*)?>", re.I)
_PLAIN_MASS = re.compile(r"(?<![\w.+-])@(everyone|here|channel)\b", re.I)
_DISCORD_ROLE = re.compile(r"<@&(\d+)>")


def neutralise_mentions(text: str) -> str:
    """Text whose mass mentions can no longer notify anyone, still readable by people."""
    text = _SLACK_SPECIAL.sub(lambda m: f"@{m.group(1).split('^')[0].lower()}", text)
    text = _PLAIN_MASS.sub(lambda m: f"@{_ZERO_WIDTH_SPACE}{m.group(1)}", text)
    return _DISCORD_ROLE.sub(lambda m: f"@{_ZERO_WIDTH_SPACE}role-{m.group(1)}", text)


@dataclass(frozen=True, slots=True)
class Markup:
    """How a platform writes links and emphasis."""

    link: Callable[[str, str], str]
    bold: Callable[[str], str]


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


SLACK_MRKDWN = Markup(
    link=lambda text, url: f"<{url}|{_slack_escape(text).replace('|', '¦')}>",
    bold=lambda text: f"*{text}*",
)
MARKDOWN = Markup(
    link=lambda text, url: f"[{text.replace('[', '(').replace(']', ')')}](<{url}>)",
    bold=lambda text: f"**{text}**",
)


def source_label(source: Source) -> str:
    """`path` and line range, plus the heading or qualified name when it says more."""
    chunk = source.chunk
    where = f"{chunk.path}:{chunk.start_line}-{chunk.end_line}"
    return f"{where} ({chunk.title})" if chunk.title and chunk.title != chunk.path else where


def render_sources(sources: tuple[Source, ...], markup: Markup) -> list[str]:
    """One numbered line per source, a link when the source has a URL."""
    lines = []
    for number, source in enumerate(sources, start=1):
        label = source_label(source)
        lines.append(f"[{number}] {markup.link(label, source.url) if source.url else label}")
    return lines


def render_memory_link(answer: Answer, markup: Markup) -> list[str]:
    """The thread of the endorsed answer that leads the text, as a link: "Asked before"
    when that question was asked on another surface."""
    hit = answer.memory
    if hit is None or not hit.entry.link:
        return []
    label = ASKED_BEFORE if hit.asked_before else ENDORSED_THREAD
    return [f"{markup.bold(label)} {markup.link(hit.entry.link, hit.entry.link)}"]


def render_answer(answer: Answer, markup: Markup, *, hint: bool = True) -> str:
    """The full reply for an answer or an abstention, mass mentions neutralised."""
    if answer.abstained:
        parts = [ABSTAINED_LEAD]
        if answer.sources:
            parts.append("The closest things I found:")
            parts.extend(render_sources(answer.sources, markup))
    else:
        parts = [answer.text.strip()]  # extractive texts already say they are quoted
        parts.extend(render_memory_link(answer, markup))
        if answer.sources:
            parts.append(markup.bold("Sources"))
            parts.extend(render_sources(answer.sources, markup))
    if hint:
        parts.append(f"_{FEEDBACK_HINT}_")
    return neutralise_mentions("\n".join(parts))
