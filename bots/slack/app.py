"""Leximind's Slack listeners on a Bolt AsyncApp: mentions, `/leximind` and reactions.

The same listeners serve HTTP mode (`POST /slack/events` through Bolt's Starlette adapter,
which checks the signature and the 5-minute timestamp window first) and Socket Mode.
Listeners only acknowledge, drop duplicates and bots, and hand the slow part (the answer)
to the process's background tasks, so Slack gets its acknowledgement at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any, Protocol

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError, SlackClientError
from starlette.requests import Request
from starlette.responses import Response

from bots.answering import BotAnswerer, BotQuestion
from bots.ports import AnswerIndex, DeliveryLedger
from bots.reactions import FeedbackRecorder
from bots.routing import KnowledgeBaseRoutes
from bots.slack.authorization import WorkspaceAuthorization
from bots.slack.threads import (
    NOT_IN_CHANNEL,
    PLACEHOLDER,
    USAGE,
    BotIdentity,
    question_text,
    render_slack,
    root_message,
    thread_turns,
)
from core.errors import LeximindError
from core.types import Turn

_log = logging.getLogger(__name__)

PLATFORM = "slack"
# What a Web API call raises when Slack refuses it or cannot be reached.
_SLACK_ERRORS = (SlackClientError, aiohttp.ClientError, TimeoutError)

Payload = dict[str, Any]


class Spawner(Protocol):
    """Runs work in the background of the process; the process waits for it at shutdown."""

    def spawn(self, work: Coroutine[Any, Any, Any], *, name: str) -> None: ...


def _identity(context: AsyncBoltContext) -> BotIdentity:
    return BotIdentity(user_id=context.bot_user_id, bot_id=context.bot_id)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error", "error"))
    return type(exc).__name__


class SlackBot:
    """Answers Slack mentions and `/leximind`, and turns reactions into feedback.

    Duplicate deliveries (Slack retries carry the same `event_id`) are claimed in the
    delivery ledger, so each question is answered once, also across restarts.
    """

    def __init__(
        self,
        *,
        app: AsyncApp,
        routes: KnowledgeBaseRoutes,
        deliveries: DeliveryLedger,
        answer_index: AnswerIndex,
        answerer: BotAnswerer,
        feedback: FeedbackRecorder,
        tasks: Spawner,
        authorization: WorkspaceAuthorization,
        command: str = "/leximind",
    ) -> None:
        self._app = app
        self._authorization = authorization
        self._routes = routes
        self._deliveries = deliveries
        self._index = answer_index
        self._answerer = answerer
        self._feedback = feedback
        self._tasks = tasks
        self._reactions = asyncio.Lock()  # one reaction at a time: removal sees the addition
        self._http = AsyncSlackRequestHandler(app)
        app.event("app_mention")(self._on_mention)
        app.command(command)(self._on_command)
        app.event("reaction_added")(self._on_reaction_added)
        app.event("reaction_removed")(self._on_reaction_removed)
        app.error(self._on_error)

    @property
    def app(self) -> AsyncApp:
        return self._app

    async def start(self) -> None:
        """Opens one connection pool for the Web API calls of every event (call once, in the
        event loop that will serve; without it each call would open its own) and reads the
        bot's identity (auth.test) before the first event."""
        client = self._app.client
        if client.session is None:
            client.session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=client.timeout)
            )
        await self._authorization.prime()

    async def handle(self, request: Request) -> Response:
        """One HTTP-mode request: verified, acknowledged, dispatched to the listeners."""
        return await self._http.handle(request)

    async def serve_socket_mode(self, app_token: str, *, stop: asyncio.Event) -> None:
        """Receives events over Socket Mode until `stop` is set; answers still being worked
        on are the caller's to wait for (see `tasks`), then `aclose`."""
        await self.start()
        handler = AsyncSocketModeHandler(self._app, app_token)
        await handler.connect_async()  # type: ignore[no-untyped-call]
        _log.info("connected to Slack in Socket Mode")
        try:
            await stop.wait()
        finally:
            await handler.close_async()  # type: ignore[no-untyped-call]

    async def aclose(self) -> None:
        """Closes the Web API connection pool; call it after the background work is done."""
        session, self._app.client.session = self._app.client.session, None
        if session is not None:
            await session.close()

    async def _first(self, key: str | None) -> bool:
        if not key:
            return True
        if await self._deliveries.claim(f"{PLATFORM}:{key}"):
            return True
        _log.info("slack delivery %s already handled", key)
        return False

    async def _on_mention(self, body: Payload, event: Payload, context: AsyncBoltContext) -> None:
        me = _identity(context)
        if event.get("bot_id") or me.wrote(event) or not event.get("user"):
            return  # never answer ourselves or another bot
        if not await self._first(body.get("event_id")):
            return
        team = body.get("team_id") or context.team_id
        name = f"slack mention {body.get('event_id')}"
        self._tasks.spawn(self._answer_mention(me, team, event), name=name)

    async def _answer_mention(self, me: BotIdentity, team: str | None, event: Payload) -> None:
        channel, ts = str(event["channel"]), str(event["ts"])
        thread = str(event.get("thread_ts") or ts)
        text = question_text(str(event.get("text", "")), me.user_id)
        if not text:
            await self._post(channel=channel, thread_ts=thread, text=USAGE)
            return
        placeholder = await self._post(channel=channel, thread_ts=thread, text=PLACEHOLDER)
        if placeholder is None:
            return
        history = await self._history(channel, thread, me=me, before=ts) if thread != ts else ()
        asked = BotQuestion(
            platform=PLATFORM,
            user_id=str(event["user"]),
            text=text,
            kb=self._routes.resolve(PLATFORM, team, channel),
            history=history,
            refs=(("team", team or ""), ("channel", channel), ("thread_ts", thread), ("ts", ts)),
        )
        await self._deliver(asked, channel=channel, thread=thread, placeholder=placeholder)

    async def _on_command(self, ack: AsyncAck, body: Payload, respond: AsyncRespond) -> None:
        text = str(body.get("text") or "").strip()
        if not question_text(text, None):
            await ack(text=USAGE, response_type="ephemeral")
            return
        await ack()
        if not await self._first(body.get("trigger_id")):
            return
        name = f"slack command {body.get('trigger_id')}"
        self._tasks.spawn(self._answer_command(body, text, respond), name=name)

    async def _answer_command(self, body: Payload, text: str, respond: AsyncRespond) -> None:
        channel, user = str(body["channel_id"]), str(body["user_id"])
        root = await self._post(channel=channel, text=root_message(user, text))
        if root is None:
            await self._tell(respond, NOT_IN_CHANNEL)
            return
        placeholder = await self._post(channel=channel, thread_ts=root, text=PLACEHOLDER)
        if placeholder is None:
            return
        team = body.get("team_id")
        asked = BotQuestion(
            platform=PLATFORM,
            user_id=user,
            text=question_text(text, None),
            kb=self._routes.resolve(PLATFORM, team, channel),
            refs=(("team", team or ""), ("channel", channel), ("thread_ts", root)),
        )
        await self._deliver(asked, channel=channel, thread=root, placeholder=placeholder)

    async def _deliver(
        self, asked: BotQuestion, *, channel: str, thread: str, placeholder: str
    ) -> None:
        """Asks the core and puts the answer (or why there is none) in the placeholder's place."""
        reply = await self._answerer.reply(asked)
        answer = reply.answer
        text = render_slack(answer) if answer is not None else reply.message
        if answer is not None:
            await self._remember(f"{PLATFORM}:{channel}:{placeholder}", answer.interaction_id)
        try:
            await self._app.client.chat_update(channel=channel, ts=placeholder, text=text)
            return
        except _SLACK_ERRORS as exc:
            _log.warning("chat.update in %s failed (%s); posting instead", channel, _reason(exc))
        posted = await self._post(channel=channel, thread_ts=thread, text=text)
        if posted is not None and answer is not None:
            await self._remember(f"{PLATFORM}:{channel}:{posted}", answer.interaction_id)

    async def _remember(self, message_key: str, interaction_id: str) -> None:
        try:
            await self._index.remember(message_key, interaction_id)
        except LeximindError as exc:  # the answer still goes out; only its reactions are lost
            _log.error("cannot link %s to its answer: %s", message_key, exc)

    async def _post(self, *, channel: str, text: str, thread_ts: str | None = None) -> str | None:
        """Posts a message; its ts, or None (logged) when Slack refused or was unreachable."""
        try:
            response = await self._app.client.chat_postMessage(
                channel=channel, text=text, thread_ts=thread_ts
            )
        except _SLACK_ERRORS as exc:
            _log.error("chat.postMessage in %s failed: %s", channel, _reason(exc))
            return None
        return str(response["ts"])

    async def _tell(self, respond: AsyncRespond | None, text: str) -> None:
        if respond is None:
            return
        try:
            await respond(text=text, response_type="ephemeral")
        except _SLACK_ERRORS as exc:
            _log.error("cannot reply to a slash command: %s", _reason(exc))

    async def _history(
        self, channel: str, thread: str, *, me: BotIdentity, before: str
    ) -> tuple[Turn, ...]:
        try:
            found = await self._app.client.conversations_replies(
                channel=channel, ts=thread, limit=200
            )
        except _SLACK_ERRORS as exc:
            _log.warning("cannot read thread %s in %s: %s", thread, channel, _reason(exc))
            return ()
        return thread_turns(found.get("messages") or [], me=me, before=before)

    async def _on_reaction_added(self, event: Payload, context: AsyncBoltContext) -> None:
        await self._reaction(event, context, added=True)

    async def _on_reaction_removed(self, event: Payload, context: AsyncBoltContext) -> None:
        await self._reaction(event, context, added=False)

    async def _reaction(self, event: Payload, context: AsyncBoltContext, *, added: bool) -> None:
        """Feedback from a reaction on one of the bot's messages; any other is ignored.

        Runs before the acknowledgement: a failing feedback log makes Slack retry, and a
        replayed reaction changes nothing (the latest event per user and answer wins).
        """
        item = event.get("item") or {}
        user, me = event.get("user"), _identity(context)
        if item.get("type") != "message" or not user or user == me.user_id:
            return
        if me.user_id and event.get("item_user") not in (None, me.user_id):
            return
        stamp = event.get("event_ts")
        async with self._reactions:
            await self._feedback.reaction(
                platform=PLATFORM,
                message_key=f"{PLATFORM}:{item.get('channel')}:{item.get('ts')}",
                user_id=str(user),
                emoji=str(event.get("reaction", "")),
                added=added,
                at=datetime.fromtimestamp(float(stamp), UTC) if stamp else None,
            )

    async def _on_error(self, error: Exception, body: Payload) -> None:
        _log.error(
            "slack %s failed: %s", body.get("type") or body.get("command"), error, exc_info=error
        )
