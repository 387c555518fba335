"""Answers render with sources as links and the feedback hint; mass mentions are defused."""

from __future__ import annotations

from bots.rendering import (
    ABSTAINED_LEAD,
    FEEDBACK_HINT,
    MARKDOWN,
    SLACK_MRKDWN,
    neutralise_mentions,
    render_answer,
)
from core.types import Answer, Source, Timings
from tests.fakes import chunk


def answer(text: str, *, abstained: bool = False) -> Answer:
    sources = (
        Source(chunk("docs/tests.md", "Run pytest.", title="Testing"), 0.8, "https://x/t#L1-L5"),
        Source(chunk("Makefile", "test:", title="Makefile"), 0.6),
    )
    return Answer(
        text=text,
        sources=sources,
        confidence=0.7,
        abstained=abstained,
        model="m",
        extractive=False,
        timings=Timings(),
    )


def test_slack_answer_links_each_source_and_ends_with_the_hint() -> None:
    text = render_answer(answer("Run `make test` [1]."), SLACK_MRKDWN)
    lines = text.splitlines()
    assert lines[0] == "Run `make test` [1]."
    assert "[1] <https://x/t#L1-L5|docs/tests.md:1-5 (Testing)>" in lines
    assert "[2] Makefile:1-5" in lines
    assert lines[-1] == f"_{FEEDBACK_HINT}_"


def test_markdown_links_and_abstention_lists_closest_sources() -> None:
    text = render_answer(answer("ignored", abstained=True), MARKDOWN)
    assert text.startswith(ABSTAINED_LEAD)
    assert "ignored" not in text
    assert "[1] [docs/tests.md:1-5 (Testing)](<https://x/t#L1-L5>)" in text


def test_mass_mentions_in_answers_are_neutralised() -> None:
    text = render_answer(answer("Ping <!channel> and @everyone or <!subteam^S12|@devs>"), MARKDOWN)
    assert "<!channel>" not in text
    assert "<!subteam" not in text
    assert "@everyone" not in text
    assert "@\u200beveryone" in text


def test_neutralise_mentions_keeps_ordinary_text() -> None:
    assert neutralise_mentions("email me at a@here.org") == "email me at a@here.org"
    assert neutralise_mentions("<!here> hi") == "@\u200bhere hi"
    assert neutralise_mentions("<@&123> and <@456>") == "@\u200brole-123 and <@456>"
