"""The Discord client answers mentions and /leximind through discord.py against a fake API."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import discord
import pytest
from pytest_httpserver import HTTPServer

from bots.answering import BotAnswerer
from bots.discord.client import HELP, LeximindDiscord
from bots.identity import UserHasher
from bots.reactions import EmojiLabels, FeedbackRecorder
from bots.rendering import FAILED, FEEDBACK_HINT, RATE_LIMITED
from bots.routing import KnowledgeBaseRoutes
from bots.state import SqliteBotState
from core.answering import AnswerService
from core.errors import StoreUnavailable
from core.storage.local import LocalFeedbackLog, LocalInteractionLog
from core.types import FeedbackLabel, Source
from tests.fakes import ListRetriever, ScriptedChatModel, chunk
from tests.support.discord_api import (
    Call,
    FakeDiscord,
    guild,
    message,
    text_channel,
    thread,
    user,
)

APP_ID = 500
BOT_ID = 501
GUILD = 600
DOCS_CHANNEL = 601
OTHER_CHANNEL = 602
THREAD = 603
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
T = TypeVar("T")


class BrokenRetriever(ListRetriever):
    async def search(self, query: str, **_: object) -> list[Source]:  # type: ignore[override]
        raise StoreUnavailable("the index is gone")


@dataclass
class Bot:
    """A logged-in client, its fake API and the state behind it."""

    client: LeximindDiscord
    api: FakeDiscord
    state: SqliteBotState
    feedback: LocalFeedbackLog
    model: ScriptedChatModel

    def feed(self, event: str, data: dict[str, Any]) -> None:
        """A gateway event, parsed by discord.py's own parser."""
        getattr(self.client._connection, f"parse_{event.lower()}")(data)

    def ask(self, content: str, *, channel: int = DOCS_CHANNEL, **fields: Any) -> dict[str, Any]:
        """A user's message in the guild, fed as MESSAGE_CREATE."""
        fields.setdefault("author", ASKER)
        fields.setdefault("mentions", [BOT] if MENTION in content else [])
        data = message(next(_ids), channel_id=channel, guild_id=GUILD, content=content, **fields)
        self.feed("MESSAGE_CREATE", data)
        return data

    def replies(self) -> list[Call]:
        return self.api.calls("POST", r"/channels/\d+/messages")

    async def wait_for_replies(self, count: int) -> list[Call]:
        return await until(lambda: len(self.replies()) >= count, self.replies, f"{count} replies")


async def linked(bot: Bot, message_id: str) -> str:
    """The interaction a posted message was linked to, once the bot has stored the link."""
    key = f"discord:{message_id}"

    async def stored() -> bool:
        return await bot.state.interaction_for(key) is not None

    await until(stored, lambda: None, f"the link of {key}")
    found = await bot.state.interaction_for(key)
    assert found is not None
    return found


async def until(
    ready: Callable[[], bool | Awaitable[bool]], result: Callable[[], T], what: str
) -> T:
    """Polls for background work's effect; the generous deadline only guards a hang."""
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        done = ready()
        if not isinstance(done, bool):
            done = await done
        if done:
            return result()
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.02)


@pytest.fixture
def api(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> FakeDiscord:
    fake = FakeDiscord(httpserver, bot=BOT, app_id=APP_ID)
    monkeypatch.setattr(discord.http.Route, "BASE", fake.base_url)
    return fake


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
    """A client logged in to the fake, with one guild of two channels and a thread."""
    state = SqliteBotState(tmp_path / "state.sqlite3", rate_limit=rate_limit)
    model = ScriptedChatModel(list(replies))
    feedback = LocalFeedbackLog(tmp_path)
    answers = AnswerService(
        retriever=retriever or ListRetriever(SOURCES),
        chat_model=model,
        interaction_log=LocalInteractionLog(tmp_path),
    )
    client = LeximindDiscord(
        answerer=BotAnswerer(answers=answers, rate_limiter=state, hash_user=HASH),
        routes=KnowledgeBaseRoutes({f"discord:{GUILD}/{DOCS_CHANNEL}": "docs"}, default="other"),
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
        bot.feed(
            "GUILD_CREATE",
            guild(
                GUILD,
                owner_id=1,
                channels=[
                    text_channel(DOCS_CHANNEL, GUILD, "help"),
                    text_channel(OTHER_CHANNEL, GUILD, "general"),
                ],
                threads=[thread(THREAD, GUILD, DOCS_CHANNEL, owner_id=700)],
            ),
        )
        yield bot
    finally:
        await client.close()
        state.close()


async def test_a_mention_is_answered_as_a_reply_with_typing(
    tmp_path: Path, api: FakeDiscord
) -> None:
    """Typing shows, then a reply with the answer, cited links and the hint, pinging the asker
    at most; the reply is linked to its interaction for reactions."""
    async with running(tmp_path, api) as bot:
        asked = bot.ask(f"{MENTION} how do I run the tests?")
        [reply] = await bot.wait_for_replies(1)
        assert api.calls("POST", rf"/channels/{DOCS_CHANNEL}/typing")
        assert reply.path.endswith(f"/channels/{DOCS_CHANNEL}/messages")
        assert str(reply.body["message_reference"]["message_id"]) == asked["id"]
        assert reply.body["allowed_mentions"] == {"parse": [], "replied_user": True}
        lines = reply.body["content"].splitlines()
        assert lines[0] == "Run `make test` [1]."
        assert (
            "[1] [docs/testing.md:1-5 (Testing)](<https://example.org/docs/testing.md#L1-L5>)"
            in lines
        )
        assert lines[-1] == f"_{FEEDBACK_HINT}_"
        assert bot.model.prompts[0][-1].content.endswith(
            "Question: how do I run the tests?\n\nAnswer:"
        )
        [posted] = [m for m in api.messages.values() if m["content"] == reply.body["content"]]
        assert await linked(bot, posted["id"])


async def test_channels_and_threads_are_routed_to_their_knowledge_base(
    tmp_path: Path, api: FakeDiscord
) -> None:
    """The help channel and its threads use `docs`; another channel the default kb."""
    async with running(tmp_path, api, replies=["From docs [1].", "From the thread [1]."]) as bot:
        bot.ask(f"{MENTION} how do I run the tests?", channel=OTHER_CHANNEL)
        await bot.wait_for_replies(1)
        bot.ask(f"{MENTION} how do I run the tests?", channel=THREAD)
        first, second = await bot.wait_for_replies(2)
        assert "OTHER.md" in first.body["content"]  # abstained or answered, from `other`
        assert "docs/testing.md" in second.body["content"]
        assert second.path.endswith(f"/channels/{THREAD}/messages")


async def test_own_and_other_bots_messages_are_never_answered(
    tmp_path: Path, api: FakeDiscord
) -> None:
    """Messages by the bot itself or another bot are ignored, even when they mention it."""
    async with running(tmp_path, api) as bot:
        bot.ask(f"{MENTION} answer yourself", author=BOT)
        bot.ask(f"{MENTION} hello fellow bot", author=user(800, "helper", bot=True))
        bot.ask("@everyone the release is out", mentions=[])
        bot.ask(f"{MENTION} how do I run the tests?")
        [reply] = await bot.wait_for_replies(1)
        assert reply.body["content"].startswith("Run `make test`")
        assert len(bot.model.prompts) == 1


async def test_a_redelivered_message_is_answered_once_also_after_a_restart(
    tmp_path: Path, api: FakeDiscord
) -> None:
    """The same MESSAGE_CREATE again, in the same process or after a restart, is not
    answered twice: the claim is kept in the data dir."""
    async with running(tmp_path, api, replies=["Once [1].", "Again [1]."]) as bot:
        asked = bot.ask(f"{MENTION} how do I run the tests?")
        await bot.wait_for_replies(1)
        bot.feed("MESSAGE_CREATE", asked)
        later = bot.ask(f"{MENTION} and the linters?")
        await bot.wait_for_replies(2)
    async with running(tmp_path, api, replies=["After the restart [1]."]) as bot:
        bot.feed("MESSAGE_CREATE", asked)
        last = bot.ask(f"{MENTION} and the docs?")
        replies = await bot.wait_for_replies(3)
    answered_ids = [str(r.body["message_reference"]["message_id"]) for r in replies]
    assert answered_ids == [asked["id"], later["id"], last["id"]]


async def test_mass_mentions_are_neutralised_and_never_allowed(
    tmp_path: Path, api: FakeDiscord
) -> None:
    """@everyone, @here and role pings in an answer are defused, and allowed_mentions forbid
    them anyway."""
    reply_text = "Tell @everyone and @here, or ping <@&42> [1]."
    async with running(tmp_path, api, replies=[reply_text]) as bot:
        bot.ask(f"{MENTION} @everyone how do I announce a release?")
        [reply] = await bot.wait_for_replies(1)
        content = reply.body["content"]
        assert "@everyone" not in content and "@here" not in content and "<@&42>" not in content
        assert "@\u200beveryone" in content
        assert reply.body["allowed_mentions"]["parse"] == []
        assert bot.client.allowed_mentions is not None
        assert bot.client.allowed_mentions.to_dict() == {"parse": []}


async def test_a_long_answer_is_split_with_intact_code_blocks(
    tmp_path: Path, api: FakeDiscord
) -> None:
    """An answer over 2,000 characters becomes a chain of replies, each under the limit with
    balanced fences; every part is linked to the interaction."""
    code = "\n".join(f"result_{i} = run_step({i})  # step {i}" for i in range(150))
    long_answer = f"Run these steps [1]:\n\n```python\n{code}\n```\n\nThat is all."
    async with running(tmp_path, api, replies=[long_answer]) as bot:
        asked = bot.ask(f"{MENTION} how do I run every step?")
        await until(
            lambda: bool(bot.replies()) and FEEDBACK_HINT in bot.replies()[-1].body["content"],
            bot.replies,
            "the last part",
        )
        parts = bot.replies()
        assert len(parts) >= 3
        assert all(len(p.body["content"]) <= 2000 for p in parts)
        assert all(p.body["content"].count("```") % 2 == 0 for p in parts)
        assert parts[1].body["content"].startswith("```python\n")
        assert str(parts[0].body["message_reference"]["message_id"]) == asked["id"]
        posted = {m["content"]: m["id"] for m in api.messages.values()}
        for before, after in itertools.pairwise(parts):
            assert (
                str(after.body["message_reference"]["message_id"]) == posted[before.body["content"]]
            )
            assert after.body["allowed_mentions"] == {"parse": []}
        rejoined = "\n".join(p.body["content"] for p in parts).replace("\n```\n```python\n", "\n")
        assert code in rejoined
        interactions = {await linked(bot, posted[p.body["content"]]) for p in parts}
        assert len(interactions) == 1


async def test_a_reply_chain_carries_earlier_turns(tmp_path: Path, api: FakeDiscord) -> None:
    """A mention replying to an answer walks the chain, fetching what is not sent along, and
    hands the earlier question and answer to the core."""
    first_q = message(
        next(_ids),
        channel_id=DOCS_CHANNEL,
        guild_id=GUILD,
        author=ASKER,
        content=f"{MENTION} how do I run the tests?",
        mentions=[BOT],
    )
    first_a = message(
        next(_ids),
        channel_id=DOCS_CHANNEL,
        guild_id=GUILD,
        author=BOT,
        content=f"Run `make test` [1].\n_{FEEDBACK_HINT}_",
        replies_to=first_q,
        include_parent=False,
    )
    api.seed(first_q, first_a)
    async with running(tmp_path, api, replies=["Use `-k name` [1]."]) as bot:
        bot.ask(f"{MENTION} and only one test?", replies_to=first_a)
        await bot.wait_for_replies(1)
        assert api.calls("GET", rf"/channels/{DOCS_CHANNEL}/messages/{first_q['id']}")
        [_, earlier_q, earlier_a, now] = bot.model.prompts[0]
        assert (earlier_q.role, earlier_q.content) == ("user", "how do I run the tests?")
        assert (earlier_a.role, earlier_a.content) == ("assistant", "Run `make test` [1].")
        assert now.content.endswith("Question: and only one test?\n\nAnswer:")


async def test_over_the_rate_limit_the_asker_is_told_politely(
    tmp_path: Path, api: FakeDiscord
) -> None:
    """A user over the limit gets the rate-limit message as a reply; others are answered."""
    async with running(tmp_path, api, rate_limit=1, replies=["One [1].", "Two [1]."]) as bot:
        bot.ask(f"{MENTION} how do I run the tests?")
        await bot.wait_for_replies(1)
        bot.ask(f"{MENTION} and the linters?")
        await bot.wait_for_replies(2)
        bot.ask(f"{MENTION} and the docs?", author=user(701, "someone else"))
        _, limited, other = await bot.wait_for_replies(3)
        assert limited.body["content"] == RATE_LIMITED
        assert "message_reference" in limited.body
        assert other.body["content"].startswith("Two [1].")


async def test_a_core_failure_gets_an_apology(tmp_path: Path, api: FakeDiscord) -> None:
    """When the core fails, the asker gets a short apology, never silence or a trace."""
    async with running(tmp_path, api, retriever=BrokenRetriever(SOURCES)) as bot:
        bot.ask(f"{MENTION} how do I run the tests?")
        [reply] = await bot.wait_for_replies(1)
        assert reply.body["content"] == FAILED
        assert "index is gone" not in reply.body["content"]


async def test_an_empty_mention_gets_help(tmp_path: Path, api: FakeDiscord) -> None:
    """A bare mention is answered with how to ask, without calling the core."""
    async with running(tmp_path, api) as bot:
        bot.ask(f"  {MENTION}  ")
        [reply] = await bot.wait_for_replies(1)
        assert reply.body["content"] == HELP
        assert bot.model.prompts == []


def reaction(bot: Bot, message_id: str, emoji: str, *, user_id: int = 700) -> dict[str, Any]:
    return {
        "user_id": str(user_id),
        "channel_id": str(DOCS_CHANNEL),
        "message_id": message_id,
        "guild_id": str(GUILD),
        "emoji": {"id": None, "name": emoji},
        "type": 0,
        "burst": False,
    }


async def answered(bot: Bot) -> tuple[str, str]:
    """Asks once; the bot's reply message id and the interaction it answers."""
    bot.ask(f"{MENTION} how do I run the tests?")
    [reply] = await bot.wait_for_replies(1)
    [posted] = [m for m in bot.api.messages.values() if m["content"] == reply.body["content"]]
    return posted["id"], await linked(bot, posted["id"])


async def test_reactions_on_an_answer_become_feedback_and_removal_retracts(
    tmp_path: Path, api: FakeDiscord
) -> None:
    """👍 labels the answer positive for the hashed user, 👎 then wins, removing it retracts."""
    async with running(tmp_path, api) as bot:
        message_id, interaction = await answered(bot)
        labels = lambda: bot.feedback.for_interaction(interaction)  # noqa: E731

        async def label_is(expected: FeedbackLabel | None) -> bool:
            current = await labels()
            return [f.label for f in current] == ([expected] if expected else [])

        bot.feed("MESSAGE_REACTION_ADD", reaction(bot, message_id, "👍🏽"))
        await until(lambda: label_is(FeedbackLabel.POSITIVE), lambda: None, "a positive label")
        bot.feed("MESSAGE_REACTION_ADD", reaction(bot, message_id, "👎"))
        await until(lambda: label_is(FeedbackLabel.NEGATIVE), lambda: None, "a negative label")
        [current] = await labels()
        assert current.user_hash == HASH("discord", "700") and current.platform == "discord"
        bot.feed("MESSAGE_REACTION_REMOVE", reaction(bot, message_id, "👎"))
        await until(lambda: label_is(None), lambda: None, "the label retracted")


async def test_reactions_elsewhere_and_by_the_bot_are_ignored(
    tmp_path: Path, api: FakeDiscord
) -> None:
    """A reaction on a message that is not an answer, or by the bot itself, records nothing."""
    async with running(tmp_path, api) as bot:
        message_id, interaction = await answered(bot)
        bot.feed("MESSAGE_REACTION_ADD", reaction(bot, "123456", "👎"))
        bot.feed("MESSAGE_REACTION_ADD", reaction(bot, message_id, "👎", user_id=BOT_ID))
        bot.feed("MESSAGE_REACTION_ADD", reaction(bot, message_id, "👍"))

        async def one_label() -> bool:
            return len(await bot.feedback.for_interaction(interaction)) == 1

        await until(one_label, lambda: None, "the user's label")
        [only] = await bot.feedback.for_interaction(interaction)
        assert only.label is FeedbackLabel.POSITIVE
        assert [p.name for p in (tmp_path / "feedback").iterdir()] == [interaction]


def command(question: str | None, *, interaction_id: int) -> dict[str, Any]:
    """An INTERACTION_CREATE payload for /leximind in the help channel."""
    options = [] if question is None else [{"name": "question", "type": 3, "value": question}]
    return {
        "id": str(interaction_id),
        "application_id": str(APP_ID),
        "type": 2,
        "token": f"token-{interaction_id}",
        "version": 1,
        "guild_id": str(GUILD),
        "channel_id": str(DOCS_CHANNEL),
        "channel": text_channel(DOCS_CHANNEL, GUILD, "help"),
        "member": {
            "user": ASKER,
            "roles": [],
            "joined_at": "2026-01-01T00:00:00+00:00",
            "permissions": "2048",
            "deaf": False,
            "mute": False,
            "flags": 0,
        },
        "data": {"id": "701", "name": "leximind", "type": 1, "options": options},
        "app_permissions": "2048",
        "attachment_size_limit": 10_485_760,
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {"0": str(GUILD)},
        "context": 0,
    }


async def test_the_slash_command_defers_then_follows_up(tmp_path: Path, api: FakeDiscord) -> None:
    """/leximind defers (type 5) at once, then posts the answer by the follow-up webhook,
    repeating the question with mentions defused; the follow-up is linked for reactions."""
    async with running(tmp_path, api) as bot:
        bot.feed("INTERACTION_CREATE", command("@here how do I run the tests?", interaction_id=42))
        followups = await until(
            lambda: bool(api.calls("POST", rf"/webhooks/{APP_ID}/token-42")),
            lambda: api.calls("POST", rf"/webhooks/{APP_ID}/token-42"),
            "the follow-up",
        )
        [callback] = api.calls("POST", r"/interactions/42/token-42/callback")
        assert callback.body["type"] == 5
        [followup] = followups
        assert "wait=1" in followup.query
        lines = followup.body["content"].splitlines()
        assert lines[0] == "> @\u200bhere how do I run the tests?"
        assert lines[1] == "Run `make test` [1]."
        assert followup.body["allowed_mentions"] == {"parse": []}
        [posted] = [m for m in api.messages.values() if m.get("webhook_id")]
        assert await linked(bot, posted["id"])


async def test_the_slash_command_without_a_question_shows_help(
    tmp_path: Path, api: FakeDiscord
) -> None:
    """/leximind with no question answers at once, privately, with how to ask."""
    async with running(tmp_path, api) as bot:
        bot.feed("INTERACTION_CREATE", command(None, interaction_id=43))
        [callback] = await until(
            lambda: bool(api.calls("POST", r"/interactions/43/token-43/callback")),
            lambda: api.calls("POST", r"/interactions/43/token-43/callback"),
            "the callback",
        )
        assert callback.body["type"] == 4
        assert callback.body["data"]["content"] == HELP
        assert callback.body["data"]["flags"] == 64
        assert bot.model.prompts == []


async def test_login_syncs_the_command_to_the_configured_guild(
    tmp_path: Path, api: FakeDiscord
) -> None:
    """With a guild id, login registers /leximind there, with its optional question."""
    async with running(tmp_path, api, command_guild=GUILD, sync_commands=True):
        [sync] = api.calls("PUT", rf"/applications/{APP_ID}/guilds/{GUILD}/commands")
        [registered] = sync.body
        assert registered["name"] == "leximind"
        [option] = registered["options"]
        assert (option["name"], option["type"], option["required"]) == ("question", 3, False)
