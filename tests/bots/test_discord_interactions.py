"""/leximind and reactions through discord.py: deferred follow-ups, help, sync, feedback."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from bots.discord.client import HELP
from core.types import FeedbackLabel
from tests.support.discord_api import FakeDiscord
from tests.support.discord_bot import (
    APP_ID,
    BOT_ID,
    GUILD,
    HASH,
    Bot,
    fake_discord,
    running,
)
from tests.support.polling import eventually


@pytest.fixture
def api(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> FakeDiscord:
    return fake_discord(httpserver, monkeypatch)


async def labels(bot: Bot, interaction: str) -> list[FeedbackLabel | None]:
    return [f.label for f in await bot.feedback.for_interaction(interaction)]


async def test_reactions_on_an_answer_become_feedback_and_removal_retracts(
    tmp_path: Path, api: FakeDiscord
) -> None:
    """👍 labels the answer positive for the hashed user, 👎 then wins, removing it retracts."""
    async with running(tmp_path, api) as bot:
        message_id, interaction = await bot.answered()

        async def label_is(*expected: FeedbackLabel) -> bool:
            return await labels(bot, interaction) == list(expected)

        bot.react(message_id, "👍🏽")
        await eventually(lambda: label_is(FeedbackLabel.POSITIVE), what="a positive label")
        bot.react(message_id, "👎")
        await eventually(lambda: label_is(FeedbackLabel.NEGATIVE), what="a negative label")
        [current] = await bot.feedback.for_interaction(interaction)
        assert current.user_hash == HASH("discord", "700") and current.platform == "discord"
        bot.react(message_id, "👎", added=False)
        await eventually(lambda: label_is(), what="the label retracted")


async def test_reactions_elsewhere_and_by_the_bot_are_ignored(
    tmp_path: Path, api: FakeDiscord
) -> None:
    """A reaction on a message that is not an answer, or by the bot itself, records nothing."""
    async with running(tmp_path, api) as bot:
        message_id, interaction = await bot.answered()
        bot.react("123456", "👎")
        bot.react(message_id, "👎", user_id=BOT_ID)
        bot.react(message_id, "👍")

        async def one_label() -> bool:
            return len(await labels(bot, interaction)) == 1

        await eventually(one_label, what="the user's label")
        assert await labels(bot, interaction) == [FeedbackLabel.POSITIVE]
        assert [p.name for p in (tmp_path / "objects" / "feedback").iterdir()] == [interaction]


async def test_the_slash_command_defers_then_follows_up(tmp_path: Path, api: FakeDiscord) -> None:
    """/leximind defers (type 5) at once, then posts the answer by the follow-up webhook,
    repeating the question with mentions defused; the follow-up is linked for reactions."""
    async with running(tmp_path, api) as bot:
        bot.command("@here how do I run the tests?", interaction_id=42)
        [followup] = await eventually(
            lambda: api.calls("POST", rf"/webhooks/{APP_ID}/token-42"), what="the follow-up"
        )
        [callback] = api.calls("POST", r"/interactions/42/token-42/callback")
        assert callback.body["type"] == 5
        assert "wait=1" in followup.query
        lines = followup.body["content"].splitlines()
        assert lines[0] == "> @\u200bhere how do I run the tests?"
        assert lines[1] == "Run `make test` [1]."
        assert followup.body["allowed_mentions"] == {"parse": []}
        [posted] = [m for m in api.messages.values() if m.get("webhook_id")]
        assert await bot.linked(posted["id"])


async def test_the_slash_command_without_a_question_shows_help(
    tmp_path: Path, api: FakeDiscord
) -> None:
    """/leximind with no question answers at once, privately, with how to ask."""
    async with running(tmp_path, api) as bot:
        bot.command(None, interaction_id=43)
        [callback] = await eventually(
            lambda: api.calls("POST", r"/interactions/43/token-43/callback"), what="the callback"
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
