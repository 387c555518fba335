"""An answer led by an endorsed answer renders on Slack, Discord and GitHub with the lead first,
the entry's thread as a link ("Asked before" from another surface), then the sources."""

from __future__ import annotations

import asyncio

from bots.answering import BotReply, Outcome
from bots.github.bot import render_reply
from bots.rendering import MARKDOWN, render_answer
from bots.slack.threads import render_slack
from core.answering import AnswerService
from core.memory import MemoryEntry, MemoryHit, MemorySource
from core.types import Answer, Question, Source
from tests.fakes import ListRetriever, MemoryInteractionLog, chunk

LINK = "https://github.com/octo/widgets/issues/1#issuecomment-7"
ENTRY = MemoryEntry(
    id="github-octo.widgets.1",
    kb="widgets",
    question="How do I run the test suite?",
    answer="Run `make test` <!channel> @everyone; it installs the dev dependencies first.",
    source=MemorySource.GITHUB,
    endorsed_by=("maint",),
    endorsed_at="2026-11-20T10:00:00+00:00",
    link=LINK,
    platform="github",
)
SOURCE = Source(chunk("CONTRIBUTING.md", "Run make test.", kb="widgets"), 0.8, "https://x/c#L1")


class OneEntryMemory:
    """Implements core.ports.AnswerMemory: the same close match for every question."""

    async def recall(self, question: str, *, kb: str, k: int = 1) -> list[MemoryHit]:
        return [MemoryHit(entry=ENTRY, score=0.9)]


def answered(platform: str) -> Answer:
    """The question answered by the real service, with the memory beside the docs."""
    service = AnswerService(
        retriever=ListRetriever({"widgets": [SOURCE]}),
        chat_model=None,
        interaction_log=MemoryInteractionLog(),
        memory=OneEntryMemory(),
    )
    question = Question(text="how can I run the tests?", kb="widgets", platform=platform)
    return asyncio.run(service.answer(question))


LEAD = "A maintainer answered a similar question on 2026-11-20: Run `make test`"


def test_slack_leads_with_the_entry_and_links_the_github_thread_as_asked_before() -> None:
    text = render_slack(answered("slack"))
    assert text.startswith(LEAD)
    assert f"*Asked before:* <{LINK}|{LINK}>" in text.splitlines()
    assert text.index("Asked before") < text.index("*Sources*") < text.index("[1] <https://x/c")
    assert "<!channel>" not in text and "@everyone" not in text


def test_discord_leads_with_the_entry_and_links_the_github_thread_as_asked_before() -> None:
    answer = answered("discord")
    text = render_answer(answer, MARKDOWN)
    assert text.startswith(LEAD)
    assert f"**Asked before:** [{LINK}](<{LINK}>)" in text.splitlines()
    assert "**Sources**" in text and "@\u200beveryone" in text
    assert answer.memory is not None and answer.memory.asked_before == LINK


def test_github_links_its_own_thread_as_the_endorsed_answer() -> None:
    """On the surface the entry came from, the link is the endorsed answer, not 'asked before'."""
    answer = answered("github")
    text = render_reply(BotReply(Outcome.ANSWERED, answer=answer))
    assert text.startswith(LEAD)
    assert f"**Endorsed answer:** [{LINK}](<{LINK}>)" in text.splitlines()
    assert "Asked before" not in text
    assert answer.memory is not None and answer.memory.asked_before is None
