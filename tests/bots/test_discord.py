"""@mentions are answered as replies through discord.py, against a fake Discord REST API."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from bots.discord.client import HELP
from bots.rendering import FAILED, FEEDBACK_HINT, RATE_LIMITED
from tests.support.discord_api import FakeDiscord, message, user
from tests.support.discord_bot import (
    ASKER,
    BOT,
    DOCS_CHANNEL,
    GUILD,
    MENTION,
    OTHER_CHANNEL,
    SOURCES,
    THREAD,
    UNCACHED_GUILD,
    BrokenRetriever,
    fake_discord,
    next_id,
    running,
)
from tests.support.polling import eventually


@pytest.fixture
def api(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> FakeDiscord:
    return fake_discord(httpserver, monkeypatch)


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
        assert await bot.linked(posted["id"])


async def test_channels_and_threads_are_routed_to_their_knowledge_base(
    tmp_path: Path, api: FakeDiscord
) -> None:
    """The help channel and its threads use `docs`, another channel the default kb; a guild
    missing from the client's cache is still routed by its id."""
    replies = ["From docs [1].", "From the thread [1].", "From the other guild [1]."]
    async with running(tmp_path, api, replies=replies) as bot:
        bot.ask(f"{MENTION} how do I run the tests?", channel=OTHER_CHANNEL)
        await bot.wait_for_replies(1)
        bot.ask(f"{MENTION} how do I run the tests?", channel=THREAD)
        await bot.wait_for_replies(2)
        elsewhere = message(
            next_id(),
            channel_id=651,
            guild_id=UNCACHED_GUILD,
            author=ASKER,
            content=f"{MENTION} how do I run the tests?",
            mentions=[BOT],
        )
        bot.feed("MESSAGE_CREATE", elsewhere)
        first, second, third = await bot.wait_for_replies(3)
        assert "OTHER.md" in first.body["content"]  # abstained or answered, from `other`
        assert "docs/testing.md" in second.body["content"]
        assert second.path.endswith(f"/channels/{THREAD}/messages")
        assert "docs/testing.md" in third.body["content"]


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
        await eventually(
            lambda: bool(bot.replies()) and FEEDBACK_HINT in bot.replies()[-1].body["content"],
            what="the last part",
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
        interactions = {await bot.linked(posted[p.body["content"]]) for p in parts}
        assert len(interactions) == 1


async def test_a_reply_chain_carries_earlier_turns(tmp_path: Path, api: FakeDiscord) -> None:
    """A mention replying to an answer walks the chain, fetching what is not sent along, and
    hands the earlier question and answer to the core."""
    first_q = message(
        next_id(),
        channel_id=DOCS_CHANNEL,
        guild_id=GUILD,
        author=ASKER,
        content=f"{MENTION} how do I run the tests?",
        mentions=[BOT],
    )
    first_a = message(
        next_id(),
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


async def test_a_reply_to_a_vanished_message_is_answered_without_history(
    tmp_path: Path, api: FakeDiscord
) -> None:
    """When an earlier message cannot be fetched (deleted: 404), the chain ends there and the
    question is still answered."""
    gone = message(
        next_id(), channel_id=DOCS_CHANNEL, guild_id=GUILD, author=BOT, content="Deleted."
    )
    async with running(tmp_path, api) as bot:
        bot.ask(f"{MENTION} how do I run the tests?", replies_to=gone, include_parent=False)
        [reply] = await bot.wait_for_replies(1)
        assert api.calls("GET", rf"/channels/{DOCS_CHANNEL}/messages/{gone['id']}")
        assert reply.body["content"].startswith("Run `make test` [1].")
        assert len(bot.model.prompts[0]) == 2  # system and question: no earlier turns
