"""A LeximindDiscord client logged in to the fake Discord API, over a real core with fakes."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord
import pytest
from pytest_httpserver import HTTPServer

from adapters.storage.logs import ObjectFeedbackLog
from bots.answering import BotAnswerer
from bots.discord.client import LeximindDiscord
from bots.identity import UserHasher
from bots.reactions import EmojiLabels, FeedbackRecorder
from bots.routing import KnowledgeBaseRoutes
from bots.state import SqliteBotState
from core.answering import AnswerPolicy, AnswerService
from core.errors import StoreUnavailable
from core.types import Source
from tests.fakes import ListRetriever, ScriptedChatModel, chunk
from tests.support.discord_api import (
    Call,
    FakeDiscord,
    guild,
    message,
    reaction,
    slash_command,
    text_channel,
    thread,
    user,
)
from tests.support.polling import eventually
from tests.support.storage import local_feedback_log, local_interaction_log

APP_ID = 500
BOT_ID = 501
GUILD = 600
DOCS_CHANNEL = 601
OTHER_CHANNEL = 602
THREAD = 603
UNCACHED_GUILD = 650  # a guild the client has not received GUILD_CREATE for
BOT = user(BOT_ID, "Leximind", bot=True)
ASKER = user(700, "newcomer")
MENTION = f"<@{BOT_ID}>"
HASH = UserHasher(b"k" * 32)
SOURCES = {
    "docs": [
        Source(
            chunk("docs/testing.md", "Run make test to run the tests.", kb="docs", title="Testing"),
            0.9,
            "https://example.org/docs/testing.md#L1-L5",
        )
    ],
    "other": [Source(chunk("OTHER.md", "Something else entirely.", kb="other"), 0.9)],
}
_ids = itertools.count(100_000)


def next_id() -> int:
    """A fresh snowflake for a test message."""
    return next(_ids)


class BrokenRetriever(ListRetriever):
    """A retriever whose index is gone."""

    async def search(self, query: str, **_: object) -> list[Source]:  # type: ignore[override]
        raise StoreUnavailable("the index is gone")


def fake_discord(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> FakeDiscord:
    """The fake API, with discord.py's REST base URL pointed at it."""
    fake = FakeDiscord(httpserver, bot=BOT, app_id=APP_ID)
    monkeypatch.setattr(discord.http.Route, "BASE", fake.base_url)
    return fake


@dataclass
class Bot:
    """A logged-in client, its fake API and the state behind it."""

    client: LeximindDiscord
    api: FakeDiscord
    state: SqliteBotState
    feedback: ObjectFeedbackLog
    model: ScriptedChatModel

    def feed(self, event: str, data: dict[str, Any]) -> None:
        """A gateway event, parsed by discord.py's own parser."""
        getattr(self.client._connection, f"parse_{event.lower()}")(data)

    def ask(self, content: str, *, channel: int = DOCS_CHANNEL, **fields: Any) -> dict[str, Any]:
        """A user's message in the guild, fed as MESSAGE_CREATE."""
        fields.setdefault("author", ASKER)
        fields.setdefault("mentions", [BOT] if MENTION in content else [])
        data = message(next_id(), channel_id=channel, guild_id=GUILD, content=content, **fields)
        self.feed("MESSAGE_CREATE", data)
        return data

    def react(self, message_id: str, emoji: str, *, added: bool = True, user_id: int = 700) -> None:
        """A user's reaction added or removed, fed as MESSAGE_REACTION_ADD / _REMOVE."""
        event = "MESSAGE_REACTION_ADD" if added else "MESSAGE_REACTION_REMOVE"
        self.feed(
            event,
            reaction(
                message_id=message_id,
                user_id=user_id,
                emoji=emoji,
                channel_id=DOCS_CHANNEL,
                guild_id=GUILD,
            ),
        )

    def command(self, question: str | None, *, interaction_id: int) -> None:
        """/leximind in the help channel, fed as INTERACTION_CREATE."""
        self.feed(
            "INTERACTION_CREATE",
            slash_command(
                "leximind",
                {} if question is None else {"question": question},
                interaction_id=interaction_id,
                app_id=APP_ID,
                member=ASKER,
                channel=text_channel(DOCS_CHANNEL, GUILD, "help"),
            ),
        )

    def replies(self) -> list[Call]:
        return self.api.calls("POST", r"/channels/\d+/messages")

    async def wait_for_replies(self, count: int) -> list[Call]:
        return await eventually(
            lambda: len(replies := self.replies()) >= count and replies, what=f"{count} replies"
        )

    async def linked(self, message_id: str) -> str:
        """The interaction a posted message is linked to, once the bot has stored the link."""
        key = f"discord:{message_id}"

        async def stored() -> bool:
            return await self.state.interaction_for(key) is not None

        await eventually(stored, what=f"the link of {key}")
        found = await self.state.interaction_for(key)
        assert found is not None
        return found

    async def answered(self) -> tuple[str, str]:
        """Asks once; the id of the bot's reply and of the interaction it answers."""
        self.ask(f"{MENTION} how do I run the tests?")
        [reply] = await self.wait_for_replies(1)
        [posted] = [m for m in self.api.messages.values() if m["content"] == reply.body["content"]]
        return posted["id"], await self.linked(posted["id"])


@asynccontextmanager
async def running(
    tmp_path: Path,
    api: FakeDiscord,
    *,
    replies: Sequence[str | Exception] = ("Run `make test` [1].",),
    retriever: ListRetriever | None = None,
    rate_limit: int = 5,
    **options: Any,
) -> AsyncIterator[Bot]:
    """A client logged in to the fake, with one guild of two channels and a thread.

    The help channel and UNCACHED_GUILD are routed to the `docs` knowledge base, everything
    else to `other`.
    """
    state = SqliteBotState(tmp_path / "state.sqlite3", rate_limit=rate_limit)
    model = ScriptedChatModel(list(replies))
    feedback = local_feedback_log(tmp_path)
    answers = AnswerService(
        retriever=retriever or ListRetriever(SOURCES),
        chat_model=model,
        interaction_log=local_interaction_log(tmp_path),
        # The adapter renders the model's text as written: no grounding check.
        policy=AnswerPolicy(grounding=None),
    )
    client = LeximindDiscord(
        answerer=BotAnswerer(answers=answers, rate_limiter=state, hash_user=HASH),
        routes=KnowledgeBaseRoutes(
            {f"discord:{GUILD}/{DOCS_CHANNEL}": "docs", f"discord:{UNCACHED_GUILD}": "docs"},
            default="other",
        ),
        ledger=state,
        answers=state,
        feedback=FeedbackRecorder(
            answers=state, feedback=feedback, labels=EmojiLabels(), hash_user=HASH
        ),
        **options,
    )
    try:
        await client.login("fake-bot-token")
        bot = Bot(client, api, state, feedback, model)
        channels = [
            text_channel(DOCS_CHANNEL, GUILD, "help"),
            text_channel(OTHER_CHANNEL, GUILD, "general"),
        ]
        threads = [thread(THREAD, GUILD, DOCS_CHANNEL, owner_id=700)]
        bot.feed("GUILD_CREATE", guild(GUILD, owner_id=1, channels=channels, threads=threads))
        yield bot
    finally:
        await client.close()
        state.close()
