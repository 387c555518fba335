"""A small, real fake of the Slack Web API and of Slack's side of HTTP mode, for the tests.

`FakeSlack.handle` serves the Web API methods the adapter calls from pytest-httpserver on
127.0.0.1, keeping channels' messages so that threads read back what was posted. Helpers
build Events API and slash command requests signed exactly as Slack signs them; the core
behind the bot answers from fixed sources with a model that echoes a set reply.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from adapters.storage.logs import ObjectInteractionLog
from core.answering import AnswerPolicy, AnswerService
from core.errors import StoreUnavailable
from core.ports import FeedbackLog
from core.types import ChatMessage, ChunkKind, Completion, Feedback, Source
from ops.wiring import Services
from tests.fakes import ListRetriever, chunk

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-1-test-token"
APP_TOKEN = "xapp-1-test-token"
TEAM = "T1"
BOT_USER = "UBOT"
BOT_ID = "BBOT"

Message = dict[str, Any]


class FakeSlack:
    """The Web API of one workspace: auth.test, chat.*, conversations.replies, response URLs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clock = 1_700_000_000
        self.messages: dict[str, list[Message]] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.responses: list[dict[str, Any]] = []  # what was sent to response_url
        self.failures: dict[str, str] = {}  # method -> Slack error code to answer with
        self.socket_url = ""

    def _ts(self) -> str:
        self._clock += 1
        return f"{self._clock}.000100"

    def post_as_user(
        self, channel: str, text: str, *, user: str = "U1", thread_ts: str | None = None
    ) -> Message:
        """Stores a message as if a person had posted it; returns it."""
        with self._lock:
            message: Message = {"type": "message", "user": user, "text": text, "ts": self._ts()}
            if thread_ts:
                message["thread_ts"] = thread_ts
            self.messages.setdefault(channel, []).append(message)
            return dict(message)

    def called(self, method: str) -> list[dict[str, Any]]:
        with self._lock:
            return [params for name, params in self.calls if name == method]

    def bot_messages(self, channel: str) -> list[Message]:
        with self._lock:
            return [dict(m) for m in self.messages.get(channel, []) if m.get("bot_id") == BOT_ID]

    def handle(self, request: Request) -> Response:
        """Serves one Web API request (`/api/<method>`) or a response_url POST."""
        if request.path.startswith("/respond/"):
            with self._lock:
                self.responses.append(json.loads(request.get_data(as_text=True)))
            return Response("ok")
        method = request.path.rsplit("/", 1)[-1]
        params: dict[str, Any] = {**request.args, **request.form}
        params.update(request.get_json(silent=True) or {})
        with self._lock:
            self.calls.append((method, params))
            if request.headers.get("Authorization", "") not in (
                f"Bearer {BOT_TOKEN}",
                f"Bearer {APP_TOKEN}",
            ):
                body: dict[str, Any] = {"ok": False, "error": "invalid_auth"}
            elif method in self.failures:
                body = {"ok": False, "error": self.failures[method]}
            else:
                body = self._answer(method, params)
        return Response(json.dumps(body), content_type="application/json")

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": lambda _: {
                "ok": True,
                "user_id": BOT_USER,
                "bot_id": BOT_ID,
                "team_id": TEAM,
                "user": "leximind",
            },
            "chat.postMessage": self._post,
            "chat.update": self._update,
            "conversations.replies": self._replies,
            "apps.connections.open": lambda _: {"ok": True, "url": self.socket_url},
        }
        handler = handlers.get(method)
        return handler(params) if handler else {"ok": False, "error": "unknown_method"}

    def _post(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params["channel"])
        message: Message = {
            "type": "message",
            "user": BOT_USER,
            "bot_id": BOT_ID,
            "text": str(params.get("text", "")),
            "ts": self._ts(),
        }
        if params.get("thread_ts"):
            message["thread_ts"] = str(params["thread_ts"])
        self.messages.setdefault(channel, []).append(message)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": dict(message)}

    def _update(self, params: dict[str, Any]) -> dict[str, Any]:
        for message in self.messages.get(str(params["channel"]), []):
            if message["ts"] == params["ts"] and message.get("bot_id") == BOT_ID:
                message["text"] = str(params.get("text", ""))
                return {"ok": True, "channel": params["channel"], "ts": params["ts"]}
        return {"ok": False, "error": "message_not_found"}

    def _replies(self, params: dict[str, Any]) -> dict[str, Any]:
        thread = str(params["ts"])
        found = [
            dict(m)
            for m in self.messages.get(str(params["channel"]), [])
            if thread in (m["ts"], m.get("thread_ts"))
        ]
        if not found:
            return {"ok": False, "error": "thread_not_found"}
        return {"ok": True, "messages": sorted(found, key=lambda m: float(m["ts"]))}


def serve_fake_slack(httpserver: HTTPServer) -> FakeSlack:
    """A FakeSlack answering the Web API under `/api/` and response URLs under `/respond/`."""
    fake = FakeSlack()
    httpserver.expect_request(re.compile(r"^/(api|respond)/")).respond_with_handler(fake.handle)
    return fake


def sign(body: str, *, secret: str = SIGNING_SECRET, at: float | None = None) -> dict[str, str]:
    """The headers Slack sends with a request body: v0 HMAC-SHA256 of `v0:<ts>:<body>`."""
    stamp = str(int(time.time() if at is None else at))
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256)
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest.hexdigest()}"}


def event_body(event: dict[str, Any], *, event_id: str, team: str = TEAM) -> str:
    """An Events API `event_callback` body as JSON text."""
    return json.dumps(
        {
            "token": "legacy-verification-token",
            "team_id": team,
            "api_app_id": "A1",
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [{"team_id": team, "user_id": BOT_USER, "is_bot": True}],
        }
    )


def mention(
    message: Message, *, channel: str, team: str = TEAM, user: str | None = None
) -> dict[str, Any]:
    """The `app_mention` event Slack sends for a stored message."""
    event = {
        "type": "app_mention",
        "user": user or message["user"],
        "text": message["text"],
        "ts": message["ts"],
        "channel": channel,
        "event_ts": message["ts"],
        "team": team,
    }
    if message.get("thread_ts"):
        event["thread_ts"] = message["thread_ts"]
    return event


def reaction(
    emoji: str, *, channel: str, ts: str, at: float, added: bool = True, user: str = "U2"
) -> dict[str, Any]:
    """A `reaction_added` or `reaction_removed` event on a bot message, at time `at`."""
    return {
        "type": "reaction_added" if added else "reaction_removed",
        "user": user,
        "reaction": emoji,
        "item": {"type": "message", "channel": channel, "ts": ts},
        "item_user": BOT_USER,
        "event_ts": f"{at:.6f}",
    }


def command_body(text: str, *, channel: str, response_url: str, trigger: str) -> str:
    """A `/leximind` slash command body, form-encoded as Slack posts it."""
    return urlencode(
        {
            "token": "legacy-verification-token",
            "team_id": TEAM,
            "channel_id": channel,
            "user_id": "U1",
            "user_name": "newcomer",
            "command": "/leximind",
            "text": text,
            "api_app_id": "A1",
            "response_url": response_url,
            "trigger_id": trigger,
        }
    )


# --- The core behind the bot: fixed sources per knowledge base and a model that echoes.

README_URL = "https://github.com/o/r/blob/c0ffee/README.md#L1-L5"
SOURCES = {
    "default": [Source(chunk("README.md", "Run make test to run the tests."), 0.9, README_URL)],
    "docs": [Source(chunk("docs/guide.md", "The guide covers testing.", kb="docs"), 0.9)],
}
ROUTES = {"slack:T1/CDOCS": "docs", "slack:T2": "docs", "slack:T1/CBROKEN": "broken"}


class Retriever(ListRetriever):
    """The fixed sources, except that the `broken` knowledge base's store is down."""

    async def search(
        self, query: str, *, kb: str, k: int, kind: ChunkKind | None = None
    ) -> list[Source]:
        if kb == "broken":
            raise StoreUnavailable("the index of broken is gone")
        return await super().search(query, kb=kb, k=k, kind=kind)


class EchoModel:
    """Answers every prompt with `reply` and keeps the prompts it saw."""

    name = "echo"

    def __init__(self, reply: str = "Run `make test` [1].") -> None:
        self.reply = reply
        self.prompts: list[list[ChatMessage]] = []

    async def complete(
        self, messages: Sequence[ChatMessage], *, model: str | None = None
    ) -> Completion:
        self.prompts.append(list(messages))
        return Completion(text=self.reply, model=self.name)

    async def check(self) -> None:
        return None


class FlakyFeedbackLog:
    """The process's real feedback log, failing as an unreachable store while `down` is set."""

    def __init__(self) -> None:
        self.inner: FeedbackLog | None = None
        self.down = False

    async def record(self, feedback: Feedback) -> None:
        if self.down or self.inner is None:
            raise StoreUnavailable("the feedback store is unreachable")
        await self.inner.record(feedback)

    async def for_interaction(self, interaction_id: str) -> list[Feedback]:
        assert self.inner is not None
        return await self.inner.for_interaction(interaction_id)


def with_fake_core(
    model: EchoModel, retriever: Retriever, feedback: FlakyFeedbackLog | None = None
) -> Callable[[Services], Services]:
    """Real services on the data dir (object store, spool, logs), answering from `retriever`
    with `model`; `feedback`, when given, stands in front of the real feedback log."""

    def build(services: Services) -> Services:
        answers = AnswerService(
            retriever=retriever,
            chat_model=model,
            interaction_log=ObjectInteractionLog(services.spooled_writer),
            # The adapter renders the model's text as written: no grounding check.
            policy=AnswerPolicy(grounding=None),
        )
        if feedback is None:
            return replace(services, answers=answers)
        feedback.inner = services.feedback
        return replace(services, answers=answers, feedback=feedback)

    return build


def stored(data_dir: Path, prefix: str) -> list[dict[str, Any]]:
    """The JSON records under `prefix` in the local object store of a data dir."""
    folder = data_dir / "objects" / prefix
    return [json.loads(path.read_text()) for path in sorted(folder.rglob("*.json"))]
