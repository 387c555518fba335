"""The Discord gateway client: @mentions and /leximind answered, reactions turned into feedback.

Needs only the default intents: Discord delivers the content of messages that mention the bot
(and of the bot's own messages) without the privileged message-content intent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import discord
from discord import app_commands
from discord.abc import Messageable

from bots.answering import BotAnswerer, BotQuestion, BotReply, Outcome
from bots.discord.conversation import (
    ChainMessage,
    mentions_of,
    question_text,
    turns_from_chain,
)
from bots.discord.splitting import split_message
from bots.ports import AnswerIndex, DeliveryLedger
from bots.reactions import FeedbackRecorder
from bots.rendering import MARKDOWN, neutralise_mentions, render_answer
from bots.routing import KnowledgeBaseRoutes
from core.errors import LeximindError
from core.types import Turn

_log = logging.getLogger(__name__)

PLATFORM = "discord"
HELP = (
    "Ask me about this project: mention me with your question "
    "(`@Leximind how do I run the tests?`) or use `/leximind question:...`. "
    "To follow up, reply to one of my answers and mention me again."
)
# The bot may at most ping the person it replies to: never @everyone, @here, roles or users
# named in an answer. Set on the client and passed with every message.
NO_PINGS = discord.AllowedMentions.none()
PING_ASKER = discord.AllowedMentions(everyone=False, users=False, roles=False, replied_user=True)
MAX_CHAIN = 16  # messages walked up a reply chain for earlier turns
TYPING_REFRESH = 8.0  # seconds; Discord shows the indicator for about ten
QUOTE_LIMIT = 300  # characters of a slash-command question repeated above its answer
SHUTDOWN_GRACE = 30.0  # seconds that answers in progress get to finish when the bot stops


def message_key(message_id: int) -> str:
    """The AnswerIndex key of a Discord message."""
    return f"{PLATFORM}:{message_id}"


@asynccontextmanager
async def typing_indicator(channel: Messageable) -> AsyncIterator[None]:
    """Shows "is typing…" while the block runs; a channel that refuses it is only logged."""

    async def refresh() -> None:
        while True:
            await asyncio.sleep(TYPING_REFRESH)
            try:
                await channel.typing()
            except discord.HTTPException:
                return

    try:
        await channel.typing()
    except discord.HTTPException as exc:
        _log.warning("no typing indicator: Discord answered %s", exc.status)
        yield
        return
    task = asyncio.create_task(refresh())
    try:
        yield
    finally:
        task.cancel()


class LeximindDiscord(discord.Client):
    """Answers @mentions as replies and `/leximind` as deferred follow-ups.

    `command_guild` copies the command to one guild, where syncing takes effect at once
    (global commands take up to an hour); `sync_commands` registers it with Discord at login.
    """

    def __init__(
        self,
        *,
        answerer: BotAnswerer,
        routes: KnowledgeBaseRoutes,
        ledger: DeliveryLedger,
        answers: AnswerIndex,
        feedback: FeedbackRecorder,
        command_guild: int | None = None,
        sync_commands: bool = False,
    ) -> None:
        super().__init__(intents=discord.Intents.default(), allowed_mentions=NO_PINGS)
        self._answerer = answerer
        self._routes = routes
        self._ledger = ledger
        self._answers = answers
        self._feedback = feedback
        self._command_guild = discord.Object(command_guild) if command_guild else None
        self._sync_commands = sync_commands
        self._busy: set[asyncio.Task[Any]] = set()
        self.tree: app_commands.CommandTree[LeximindDiscord] = app_commands.CommandTree(self)
        self.tree.add_command(_slash_command(self))

    async def setup_hook(self) -> None:
        """Registers /leximind with Discord when asked to (after login, before the gateway)."""
        if not self._sync_commands:
            return
        if self._command_guild is not None:
            self.tree.copy_global_to(guild=self._command_guild)
        synced = await self.tree.sync(guild=self._command_guild)
        _log.info("synced %d application command(s)", len(synced))

    async def close(self) -> None:
        """Lets answers in progress finish (for up to SHUTDOWN_GRACE seconds), then disconnects.

        Without the wait, a reply could be cut off, or its link for reactions lost, because the
        HTTP session and the bot state close underneath it.
        """
        pending = self._busy - {asyncio.current_task()}
        if pending:
            _log.info("waiting for %d answer(s) in progress", len(pending))
            await asyncio.wait(pending, timeout=SHUTDOWN_GRACE)
        await super().close()

    @asynccontextmanager
    async def _working(self) -> AsyncIterator[None]:
        task = asyncio.current_task()
        if task is None:
            yield
            return
        self._busy.add(task)
        try:
            yield
        finally:
            self._busy.discard(task)

    async def on_message(self, message: discord.Message) -> None:
        """Answers a message that @mentions the bot, as a reply; bots are never answered."""
        async with self._working():
            await self._on_message(message)

    async def _on_message(self, message: discord.Message) -> None:
        me = self.user
        if me is None or message.author.bot or message.author.id == me.id:
            return
        if not mentions_of(me.id).search(message.content):
            return  # not for us: also a reply that only pings our message, or an @everyone
        text = question_text(message.content, me.id)
        if not await self._first_delivery(message.id):
            return
        if not text:
            await self._reply(message, HELP)
            return
        async with typing_indicator(message.channel):
            reply = await self._answerer.reply(
                BotQuestion(
                    platform=PLATFORM,
                    user_id=str(message.author.id),
                    text=text,
                    kb=self._kb(_guild_id(message), message.channel),
                    history=await self._earlier_turns(message),
                    refs=self._refs(_guild_id(message), message.channel, message=str(message.id)),
                )
            )
        await self._reply(message, _reply_text(reply), _interaction_of(reply))

    async def answer_command(
        self, interaction: discord.Interaction[LeximindDiscord], question: str
    ) -> None:
        """/leximind: defer at once (Discord allows 3 s), then answer as follow-up messages."""
        async with self._working():
            await self._answer_command(interaction, question)

    async def _answer_command(
        self, interaction: discord.Interaction[LeximindDiscord], question: str
    ) -> None:
        text = question.strip()
        if not text:
            await interaction.response.send_message(HELP, ephemeral=True)
            return
        try:  # Discord delivers an interaction once; a second acknowledgement would fail here
            await interaction.response.defer(thinking=True)
        except discord.HTTPException as exc:
            _log.error(
                "cannot defer interaction %s: Discord answered %s", interaction.id, exc.status
            )
            return
        reply = await self._answerer.reply(
            BotQuestion(
                platform=PLATFORM,
                user_id=str(interaction.user.id),
                text=text,
                kb=self._kb(interaction.guild_id, interaction.channel),
                refs=self._refs(
                    interaction.guild_id, interaction.channel, interaction=str(interaction.id)
                ),
            )
        )
        quoted = neutralise_mentions(" ".join(text.split())[:QUOTE_LIMIT])
        body = f"> {quoted}\n{_reply_text(reply)}"
        interaction_id = _interaction_of(reply)
        for part in split_message(body):
            try:
                sent = await interaction.followup.send(part, allowed_mentions=NO_PINGS, wait=True)
            except discord.HTTPException as exc:
                _log.error(
                    "cannot follow up interaction %s: Discord answered %s",
                    interaction.id,
                    exc.status,
                )
                return
            await self._link(sent.id, interaction_id)

    async def _first_delivery(self, message_id: int) -> bool:
        """False for a message already claimed, here or by another process on the data dir."""
        try:
            return await self._ledger.claim(f"{PLATFORM}:message:{message_id}")
        except LeximindError as exc:  # better a rare double answer than silence
            _log.error("bot state unavailable, answering message %s anyway: %s", message_id, exc)
            return True

    async def _link(self, message_id: int, interaction_id: str | None) -> None:
        """Remembers which interaction a posted message answers, for reactions on it."""
        if not interaction_id:
            return
        try:
            await self._answers.remember(message_key(message_id), interaction_id)
        except LeximindError as exc:
            _log.error("answer %s posted, but reactions on it will not count: %s", message_id, exc)

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        """A reaction on one of the bot's answers labels it."""
        await self._reaction(payload, added=True)

    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        """Removing the reaction that gave the current label retracts it."""
        await self._reaction(payload, added=False)

    async def _reaction(self, payload: discord.RawReactionActionEvent, *, added: bool) -> None:
        if self.user is None or payload.user_id == self.user.id:
            return
        if payload.member is not None and payload.member.bot:
            return
        if not payload.emoji.name:
            return
        async with self._working():
            try:
                await self._feedback.reaction(
                    platform=PLATFORM,
                    message_key=message_key(payload.message_id),
                    user_id=str(payload.user_id),
                    emoji=payload.emoji.name,
                    added=added,
                )
            except LeximindError as exc:
                _log.error("reaction on message %s not recorded: %s", payload.message_id, exc)

    async def _reply(
        self, message: discord.Message, text: str, interaction_id: str | None = None
    ) -> None:
        """Replies in parts under the size limit, each part replying to the one before."""
        target = message
        for number, part in enumerate(split_message(text)):
            try:
                target = await target.channel.send(
                    part,
                    reference=target.to_reference(fail_if_not_exists=False),
                    allowed_mentions=PING_ASKER if number == 0 else NO_PINGS,
                )
            except discord.HTTPException as exc:
                _log.error(
                    "cannot reply in channel %s: Discord answered %s", target.channel.id, exc.status
                )
                return
            await self._link(target.id, interaction_id)

    async def _earlier_turns(self, message: discord.Message) -> tuple[Turn, ...]:
        """The question/answer turns of the reply chain above `message`, oldest first."""
        chain: list[ChainMessage] = []
        current = message
        while len(chain) < MAX_CHAIN:
            parent = await self._replied_to(current)
            if parent is None:
                break
            chain.append(
                ChainMessage(by_bot=parent.author.id == self._bot_id, content=parent.content)
            )
            current = parent
        return turns_from_chain(chain[::-1], self._bot_id)

    async def _replied_to(self, message: discord.Message) -> discord.Message | None:
        ref = message.reference
        if (
            ref is None
            or ref.message_id is None
            or ref.type is not discord.MessageReferenceType.reply
        ):
            return None
        if isinstance(ref.resolved, discord.Message):
            return ref.resolved
        if ref.cached_message is not None:
            return ref.cached_message
        if isinstance(ref.resolved, discord.DeletedReferencedMessage):
            return None
        try:
            return await message.channel.fetch_message(ref.message_id)
        except discord.HTTPException as exc:
            _log.info("reply chain ends at message %s: %s", ref.message_id, exc.status)
            return None

    @property
    def _bot_id(self) -> int:
        return self.user.id if self.user else 0

    def _kb(self, guild_id: int | None, channel: object) -> str:
        """The route of the narrowest place: guild, channel (a thread's parent), thread."""
        if guild_id is None:
            return self._routes.default
        scopes = [str(guild_id)]
        if isinstance(channel, discord.Thread) and channel.parent_id:
            scopes.append(str(channel.parent_id))
        if channel is not None and hasattr(channel, "id"):
            scopes.append(str(channel.id))
        return self._routes.resolve(PLATFORM, *scopes)

    @staticmethod
    def _refs(guild_id: int | None, channel: object, **ids: str) -> tuple[tuple[str, str], ...]:
        refs = [("guild", str(guild_id))] if guild_id else []
        channel_id = getattr(channel, "id", None)
        if channel_id is not None:
            refs.append(("channel", str(channel_id)))
        return (*refs, *ids.items())


def _guild_id(message: discord.Message) -> int | None:
    """The message's guild, also when the guild is not (yet) in the client's cache."""
    if message.guild is not None:
        return message.guild.id
    guild_id = getattr(message.channel, "guild_id", None)
    return guild_id if isinstance(guild_id, int) else None


def _reply_text(reply: BotReply) -> str:
    if reply.outcome is Outcome.ANSWERED and reply.answer is not None:
        return render_answer(reply.answer, MARKDOWN)
    return reply.message


def _interaction_of(reply: BotReply) -> str | None:
    if reply.answer is None or not reply.answer.interaction_id:
        return None
    return reply.answer.interaction_id


def _slash_command(bot: LeximindDiscord) -> app_commands.Command[Any, ..., None]:
    @app_commands.command(name="leximind", description="Ask a question about this project")
    @app_commands.describe(question="what you want to know")
    async def leximind(
        interaction: discord.Interaction[LeximindDiscord], question: str = ""
    ) -> None:
        await bot.answer_command(interaction, question)

    return leximind
