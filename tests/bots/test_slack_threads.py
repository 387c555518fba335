"""Slack text: questions from mentions, answers as mrkdwn, and a thread's earlier turns."""

from __future__ import annotations

from bots.rendering import ABSTAINED_LEAD, FEEDBACK_HINT, RATE_LIMITED
from bots.slack.threads import (
    PLACEHOLDER,
    BotIdentity,
    answer_body,
    question_text,
    quoted_question,
    render_slack,
    root_message,
    thread_turns,
)
from core.types import Answer, Source, Timings, Turn
from tests.fakes import chunk

ME = BotIdentity(user_id="UBOT", bot_id="BBOT")
SOURCE = Source(chunk("README.md", "Run make test."), 0.9, "https://example.org/README.md#L1-L5")


def answer(text: str, *, abstained: bool = False) -> Answer:
    return Answer(text, (SOURCE,), 0.8, abstained, "m", False, Timings(), "interaction-1")


def bot(ts: str, text: str, **extra: str) -> dict[str, str]:
    return {"ts": ts, "user": "UBOT", "bot_id": "BBOT", "text": text, **extra}


def person(ts: str, text: str, **extra: str) -> dict[str, str]:
    return {"ts": ts, "user": "U1", "text": text, **extra}


def test_the_bots_mention_is_removed_and_escapes_undone() -> None:
    """Only the bot's own mention goes; Slack's escapes become the characters typed."""
    assert question_text("<@UBOT> why is a &lt; b &amp;&amp; c?", "UBOT") == "why is a < b && c?"
    assert question_text("<@UBOT|leximind>  hi <@U2>", "UBOT") == "hi <@U2>"
    assert question_text("<@UBOT>", "UBOT") == ""


def test_answers_are_escaped_so_model_text_cannot_ping_or_link() -> None:
    """Model text with <!channel> or <url|label> is shown as text; sources stay links."""
    text = render_slack(answer("<!channel> see <https://evil.example|here> [1]"))
    assert "<!channel>" not in text and "<https://evil" not in text
    assert "&lt;!channel&gt;" in text
    assert "[1] <https://example.org/README.md#L1-L5|README.md:1-5 (Title)>" in text


def test_an_answer_message_reads_back_as_its_text() -> None:
    """Sources and the hint are cut; placeholders and apologies are no answers."""
    assert answer_body(render_slack(answer("Use `a < b` [1]."))) == "Use `a < b` [1]."
    assert answer_body(render_slack(answer("x", abstained=True))) == ABSTAINED_LEAD
    assert answer_body(PLACEHOLDER) is None
    assert answer_body(RATE_LIMITED) is None
    assert FEEDBACK_HINT not in (answer_body(render_slack(answer("ok"))) or FEEDBACK_HINT)


def test_a_slash_command_root_quotes_the_question_and_reads_back() -> None:
    """The root message quotes each line; as Slack returns it (escaped) it reads back."""
    root = root_message("U1", "How do I\nrun <!here> tests?")
    assert root == "*<@U1> asked:*\n>How do I\n>run @\u200bhere tests?"
    slack_returned = root.replace(">How", "&gt;How").replace(">run", "&gt;run")
    assert quoted_question(slack_returned) == "How do I\nrun @here tests?"
    assert quoted_question("Looking that up…") is None


def test_thread_turns_pair_each_answer_with_its_question() -> None:
    """Mentions pair with the bot's next answer; chatter, apologies and later messages don't."""
    messages = [
        person("1.0", "<@UBOT> How do I run the tests?"),
        bot("2.0", render_slack(answer("Run `make test` [1].")), thread_ts="1.0"),
        person("3.0", "thanks!", thread_ts="1.0"),
        person("4.0", "<@UBOT> and the linters?", thread_ts="1.0"),
        bot("5.0", RATE_LIMITED, thread_ts="1.0"),
        {"ts": "5.5", "user": "U7", "bot_id": "B7", "text": "<@UBOT> hi", "thread_ts": "1.0"},
        person("6.0", "<@UBOT> where is CI configured?", thread_ts="1.0"),
        bot("7.0", render_slack(answer("In .ci/run [1].")), thread_ts="1.0"),
        person("8.0", "<@UBOT> now?", thread_ts="1.0"),
        bot("9.0", PLACEHOLDER, thread_ts="1.0"),
    ]
    assert thread_turns(messages, me=ME, before="8.0") == (
        Turn("How do I run the tests?", "Run `make test` [1]."),
        Turn("where is CI configured?", "In .ci/run [1]."),
    )
    assert thread_turns(messages, me=ME, before="2.0") == ()


def test_a_slash_command_thread_starts_with_the_quoted_question() -> None:
    """The root's quoted question is the question the first answer in its thread answered."""
    messages = [
        bot("1.0", root_message("U1", "How do I run the tests?")),
        bot("2.0", render_slack(answer("Run `make test` [1].")), thread_ts="1.0"),
    ]
    assert thread_turns(messages, me=ME, before="3.0") == (
        Turn("How do I run the tests?", "Run `make test` [1]."),
    )
