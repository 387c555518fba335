"""A Discord reply chain reads as question/answer turns; the bot's mention is not the question."""

from __future__ import annotations

from bots.discord.conversation import ChainMessage, question_text, turns_from_chain
from bots.rendering import FEEDBACK_HINT
from core.types import Turn

BOT = 42
HINT = f"_{FEEDBACK_HINT}_"


def asked(text: str) -> ChainMessage:
    return ChainMessage(by_bot=False, content=text)


def said(text: str) -> ChainMessage:
    return ChainMessage(by_bot=True, content=text)


def test_the_bots_mentions_are_taken_out_of_the_question() -> None:
    """Both mention forms go, anywhere in the text; other users' mentions stay."""
    assert question_text("<@42> how do I   run\nthe tests?", BOT) == "how do I run the tests?"
    assert question_text("ask <@!42> about <@7>", BOT) == "ask about <@7>"
    assert question_text("<@42>", BOT) == ""


def test_answers_in_parts_form_one_turn_and_lose_the_hint() -> None:
    """Consecutive bot messages are one answer; the feedback hint is not part of it."""
    chain = [
        asked("<@42> how do I run the tests?"),
        said("Run `make test` [1]."),
        said(f"[1] Makefile:1-5\n{HINT}"),
        asked("<@42> and the linters?"),
        said(f"Run `make lint` [1].\n{HINT}"),
    ]
    assert turns_from_chain(chain, BOT) == (
        Turn("how do I run the tests?", "Run `make test` [1].\n[1] Makefile:1-5"),
        Turn("and the linters?", "Run `make lint` [1]."),
    )


def test_a_slash_command_answer_brings_its_quoted_question() -> None:
    """An answer to /leximind opens with `> question`, which becomes the turn's question."""
    chain = [said(f"> how do I run the tests?\nRun `make test` [1].\n{HINT}")]
    assert turns_from_chain(chain, BOT) == (
        Turn("how do I run the tests?", "Run `make test` [1]."),
    )


def test_messages_that_answer_nothing_are_left_out() -> None:
    """A user message with no answer, or a bot message with no question, makes no turn."""
    chain = [
        said("Welcome to the server!"),
        asked("<@42> first try"),
        asked("<@42> second try"),
        said("An answer [1]."),
    ]
    assert turns_from_chain(chain, BOT) == (Turn("second try", "An answer [1]."),)
