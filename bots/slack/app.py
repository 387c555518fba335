"""Leximind's Slack listeners on a Bolt AsyncApp: mentions, `/leximind` and reactions.

The same listeners serve HTTP mode (`POST /slack/events`: the signature, its 5-minute window
and the body's shape are checked here first, then Bolt dispatches) and Socket Mode.
Listeners only acknowledge, drop duplicates and bots, and hand the slow part (the answer)
to the process's background tasks, so Slack gets its acknowledgement at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any, Protocol

import aiohttp
from slack_bolt import BoltResponse
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.starlette.async_handler import to_async_bolt_request, to_starlette_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError, SlackClientError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

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
from bots.slack.verification import content_problem, signature_problem
from core.errors import LeximindError, ServiceUnavailable
from core.types import Turn

_log = logging.getLogger(__name__)

PLATFORM = "slack"
# What a Web API call raises when Slack refuses it or cannot be reached.
_SLACK_ERRORS = (SlackClientError, aiohttp.ClientError, TimeoutError)
# What Bolt raises while it reads a signed body of an unexpected shape (a string where Slack
# sends an object, an empty list where it sends one item).
_SHAPE_ERRORS = (AttributeError, TypeError, KeyError, IndexError, ValueError)

Payload = dict[str, Any]


class Spawner(Protocol):
    """Runs work in the background of the process; the process waits for it at shutdown."""

    def spawn(self, work: Coroutine[Any, Any, Any], *, name: str) -> None: ...


def _identity(context: AsyncBoltContext) -> BotIdentity:
    return BotIdentity(user_id=context.bot_user_id, bot_id=context.bot_id)


def _moment(stamp: object) -> datetime | None:
    """An event's `event_ts` ("1700000000.000100") as a time, or None when it is not one."""
    try:
        return datetime.fromtimestamp(float(str(stamp)), UTC) if stamp else None
    except (ValueError, OverflowError, OSError):
        return None


def _refusal(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error", "error"))
    return type(exc).__name__


class SlackBot:
    """Answers Slack mentions and `/leximind`, and turns reactions into feedback.

    Duplicate deliveries (Slack retries carry the same `event_id`) are claimed in the
    delivery ledger, so each question is answered once, also across restarts. HTTP mode
    needs `signing_secret`; without one every HTTP request is refused.
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
        signing_secret: str | None = None,
        command: str = "/leximind",
    ) -> None:
        self._app = app
        self._authorization = authorization
        self._signing_secret = signing_secret
        self._routes = routes
        self._deliveries = deliveries
        self._index = answer_index
        self._answerer = answerer
        self._feedback = feedback
        self._tasks = tasks
        self._reactions = asyncio.Lock()  # one reaction at a time: removal sees the addition
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
        """One HTTP-mode request: verified, acknowledged, dispatched to the listeners.

        401 for a request that is not signed by Slack, before anything of it is parsed; 400
        for a signed body that is not what Slack sends; 503 when a listener cannot reach
        Slack's Web API or a store (Slack delivers the event again later).
        """
        body = await request.body()
        if self._signing_secret is None:
            return _refusal(401, "HTTP mode needs LEXIMIND_SLACK__SIGNING_SECRET")
        refused = signature_problem(self._signing_secret, request.headers, body, now=time.time())
        if refused is not None:
            _log.warning("slack request refused: %s", refused)
            return _refusal(401, refused)
        content_type = request.headers.get("content-type", "").split(";")[0] or None  # as Bolt
        malformed = content_problem(body, content_type)
        if malformed is None:
            try:
                bolt_request = to_async_bolt_request(request, body)
            except _SHAPE_ERRORS as exc:
                malformed = f"the content is not shaped as Slack sends it ({type(exc).__name__})"
        if malformed is not None:
            _log.warning("slack request malformed: %s", malformed)
            return _refusal(400, malformed)
        return to_starlette_response(await self._app.async_dispatch(bolt_request))

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
        if not (event.get("channel") and event.get("ts")):
            _log.warning("slack mention without channel or ts: ignored")
            return
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
        if not (body.get("channel_id") and body.get("user_id")):
            _log.warning("slash command without channel_id or user_id: ignored")
            return
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
                at=_moment(stamp),
            )

    async def _on_error(self, error: Exception, body: Payload) -> BoltResponse:
        """The response to a request whose middleware or listener raised: 503 when Slack's Web
        API or a store failed (logged in one line), else 500 with the traceback logged."""
        kind = body.get("type") or body.get("command")
        if isinstance(error, (*_SLACK_ERRORS, ServiceUnavailable)):
            why = _reason(error) if isinstance(error, SlackApiError) else str(error)
            _log.error("slack %s failed: %s", kind, why or type(error).__name__)
            detail = "Slack or a store is unreachable; try again later"
            return BoltResponse(status=503, body={"detail": detail})
        _log.error("slack %s failed: %s", kind, error, exc_info=error)
        return BoltResponse(status=500, body={"detail": "internal error"})
