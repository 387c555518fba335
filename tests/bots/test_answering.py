"""The shared bot flow: answers, rate limits politely, and apologises on failures."""

from __future__ import annotations

from pathlib import Path

from bots.answering import BotAnswerer, BotQuestion, Outcome
from bots.identity import UserHasher, load_or_create_key
from bots.rendering import FAILED, RATE_LIMITED
from bots.state import SqliteBotState
from core.answering import AnswerService
from core.errors import StoreUnavailable
from core.types import Source, Turn
from tests.fakes import ListRetriever, ScriptedChatModel, chunk
from tests.support.storage import local_interaction_log

SOURCES = {"docs": [Source(chunk("README.md", "Run make test to run the tests.", kb="docs"), 0.9)]}


class BrokenRetriever(ListRetriever):
    async def search(self, query: str, **_: object) -> list[Source]:  # type: ignore[override]
        raise StoreUnavailable("the index is gone")


def answerer(
    tmp_path: Path, *, retriever: ListRetriever | None = None, limit: int = 5
) -> BotAnswerer:
    service = AnswerService(
        retriever=retriever or ListRetriever(SOURCES),
        chat_model=ScriptedChatModel(["Run `make test` [1]."] * 5),
        interaction_log=local_interaction_log(tmp_path),
    )
    return BotAnswerer(
        answers=service,
        rate_limiter=SqliteBotState(tmp_path / "state.sqlite3", rate_limit=limit),
        hash_user=UserHasher(b"k" * 32),
    )


def asked(text: str = "How do I run the tests?", user: str = "U1") -> BotQuestion:
    return BotQuestion(
        platform="slack",
        user_id=user,
        text=text,
        kb="docs",
        history=(Turn("What is this?", "A project."),),
        refs=(("channel", "C1"),),
    )


async def test_a_question_is_answered_with_a_hashed_user(tmp_path: Path) -> None:
    reply = await answerer(tmp_path).reply(asked())
    assert reply.outcome is Outcome.ANSWERED
    assert reply.answer is not None and reply.answer.text == "Run `make test` [1]."
    [record] = tmp_path.glob("objects/interactions/*/*/*/*.json")
    text = record.read_text()
    assert '"U1"' not in text
    assert UserHasher(b"k" * 32)("slack", "U1") in text


async def test_over_the_limit_the_user_is_told_politely(tmp_path: Path) -> None:
    bot = answerer(tmp_path, limit=1)
    assert (await bot.reply(asked())).outcome is Outcome.ANSWERED
    limited = await bot.reply(asked())
    assert (limited.outcome, limited.message) == (Outcome.RATE_LIMITED, RATE_LIMITED)
    assert (await bot.reply(asked(user="U2"))).outcome is Outcome.ANSWERED


async def test_a_core_failure_becomes_an_apology(tmp_path: Path) -> None:
    reply = await answerer(tmp_path, retriever=BrokenRetriever(SOURCES)).reply(asked())
    assert (reply.outcome, reply.message) == (Outcome.FAILED, FAILED)
    assert "index is gone" not in reply.message


async def test_an_empty_question_gets_a_clear_message(tmp_path: Path) -> None:
    reply = await answerer(tmp_path).reply(asked("   "))
    assert reply.outcome is Outcome.INVALID
    assert "empty" in reply.message


def test_the_user_hash_key_is_created_once(tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path / "bots" / "user-hash.key")
    assert load_or_create_key(tmp_path / "bots" / "user-hash.key") == key
    assert len(key) == 32
    assert (tmp_path / "bots" / "user-hash.key").stat().st_mode & 0o777 == 0o600


async def test_each_answer_is_reported_and_its_model_noted(tmp_path: Path) -> None:
    """Metrics see every answer; the model is noted for reactions that come later."""
    state = SqliteBotState(tmp_path / "state.sqlite3")
    seen: list[str] = []
    service = AnswerService(
        retriever=ListRetriever(SOURCES),
        chat_model=ScriptedChatModel(["Run `make test` [1]."]),
        interaction_log=local_interaction_log(tmp_path),
    )
    bot = BotAnswerer(
        answers=service,
        rate_limiter=state,
        hash_user=UserHasher(b"k" * 32),
        models=state,
        on_answer=lambda a: seen.append(a.model),
    )
    reply = await bot.reply(asked())
    assert reply.answer is not None
    assert seen == [reply.answer.model]
    assert await state.model_of(reply.answer.interaction_id) == reply.answer.model


class BrokenModels:
    """An AnswerModels whose store is down."""

    async def note(self, interaction_id: str, model: str) -> None:
        raise StoreUnavailable("bot state is gone")

    async def model_of(self, interaction_id: str) -> str | None:
        raise StoreUnavailable("bot state is gone")


async def test_the_answer_goes_out_when_its_model_cannot_be_noted(tmp_path: Path) -> None:
    """Noting the model is for metrics: its failure never turns an answer into an apology."""
    service = AnswerService(
        retriever=ListRetriever(SOURCES),
        chat_model=ScriptedChatModel(["Run `make test` [1]."]),
        interaction_log=local_interaction_log(tmp_path),
    )
    bot = BotAnswerer(
        answers=service,
        rate_limiter=SqliteBotState(tmp_path / "state.sqlite3"),
        hash_user=UserHasher(b"k" * 32),
        models=BrokenModels(),
    )
    assert (await bot.reply(asked())).outcome is Outcome.ANSWERED
