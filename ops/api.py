"""The HTTP API: /ask, /search, /healthz, /metrics, /github/webhook, /slack/events and /docs,
and the web surface (web/): the ask page at /, /ask/stream, widget.js and /admin.

Every error is `{"detail": "<one sentence>"}` (ops.schemas.ErrorOut); the README lists them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bots.github.bot import GitHubWebhook
from bots.identity import UserHasher
from core.errors import InvalidQuestion, LeximindError, ServiceUnavailable, UnknownKnowledgeBase
from core.types import Question, Turn
from ops.api_docs import serve_docs
from ops.background import TaskTracker
from ops.metrics import Metrics
from ops.schemas import (
    BODY_TOO_LARGE,
    HEALTH_RESPONSES,
    QUESTION_ERRORS,
    AskRequest,
    AskResponse,
    ErrorOut,
    SearchRequest,
    SearchResponse,
    ask_response,
    source_out,
)
from ops.settings import Settings
from ops.wiring import Services, load_settings, open_services
from web.routes import web_router
from web.security import AllowedOriginsCors

if TYPE_CHECKING:
    from bots.slack import SlackBot

_log = logging.getLogger(__name__)


MAX_BODY_BYTES = 1_000_000
API_PLATFORM = "api"
HEALTH_CHECK_SECONDS = 3.0  # within Docker's default 30 s, and well within a prober's patience


# FastAPI's 400 for a body that json.loads refuses other than as bad JSON (not UTF-8).
_UNPARSABLE = "There was an error parsing the body"


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": message})


def _problem(err: Any) -> str:
    """One field's validation error as `where: what`, never quoting the input itself."""
    where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
    kind, ctx = err.get("type"), err.get("ctx") or {}
    if kind == "value_error" and "error" in ctx:
        what = str(ctx["error"])
    elif kind == "string_too_long" and isinstance(err.get("input"), str):
        what = f"{len(err['input'])} characters; the limit is {ctx.get('max_length')}"
    elif kind == "string_too_short" and ctx.get("min_length") == 1:
        what = "is empty"
    elif kind == "string_unicode":
        what = "is not valid Unicode text (it holds a lone surrogate)"
    else:
        what = str(err.get("msg", "invalid"))
    return f"{where}: {what}"


def _install_error_handlers(app: FastAPI) -> None:
    async def invalid(_: Request, exc: Exception) -> JSONResponse:
        return _error(422, str(exc))

    async def unknown(_: Request, exc: Exception) -> JSONResponse:
        return _error(404, str(exc))

    async def unavailable(_: Request, exc: Exception) -> JSONResponse:
        _log.error("service unavailable: %s", exc)
        return _error(503, f"temporarily unavailable: {exc}")

    async def other(_: Request, exc: Exception) -> JSONResponse:
        _log.error("request failed: %s", exc)
        return _error(500, "internal error")

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        message = str(exc.detail)
        if exc.status_code == 400 and message == _UNPARSABLE:
            message = "the request body is not valid JSON (UTF-8 text)"
        return JSONResponse({"detail": message}, status_code=exc.status_code, headers=exc.headers)

    async def malformed(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = exc.errors()
        if any(err.get("type") == "json_invalid" for err in errors):
            return _error(400, "the request body is not valid JSON")
        return _error(422, "; ".join(_problem(err) for err in errors))

    app.add_exception_handler(InvalidQuestion, invalid)
    app.add_exception_handler(UnknownKnowledgeBase, unknown)
    app.add_exception_handler(ServiceUnavailable, unavailable)
    app.add_exception_handler(LeximindError, other)
    app.add_exception_handler(RequestValidationError, malformed)
    app.add_exception_handler(StarletteHTTPException, http_error)


class _Disconnected(Exception):
    """The client went away before its request body was complete."""


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None as soon as more than `limit` bytes have arrived."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app the body already read, then waits as the server's does
    (for the disconnect)."""
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


class RequestMetrics:
    """Counts requests and their latency per route and refuses bodies over MAX_BODY_BYTES.

    The limit holds on the bytes received, not only on Content-Length: a chunked body is
    read up to the limit and refused (413) at the first byte over it. Every route reads its
    whole body anyway, so reading it here first costs nothing extra.

    Plain ASGI: Starlette's `@app.middleware("http")` wrapper costs several times what a
    webhook acknowledgement does, which showed as latency under a burst of deliveries.
    """

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sent(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        too_big = _error(413, f"the request body is over {MAX_BODY_BYTES} bytes")
        length = dict(scope["headers"]).get(b"content-length")
        try:
            if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
                await too_big(scope, receive, sent)
                return
            body = await _read_body(receive, MAX_BODY_BYTES)
            if body is None:
                await too_big(scope, receive, sent)
            else:
                await self._app(scope, _replay(body, receive), sent)
        except _Disconnected:
            status = 499  # nobody left to answer; counted as nginx does
        finally:
            endpoint = getattr(scope.get("route"), "path", "unmatched")
            self._metrics.requests.labels(endpoint, str(status)).inc()
            self._metrics.latency.labels(endpoint).observe(time.perf_counter() - started)


# What a start-up may fail on that is the operator's to fix (a setting missing, a store
# refusing, a data dir that cannot be written): logged in one line, without a traceback.
STARTUP_ERRORS = (LeximindError, OSError)


class OneLineStartupFailure:
    """A start-up that fails on one of STARTUP_ERRORS is told to the server without
    Starlette's traceback: the lifespan has logged it in one line, and the server exits
    non-zero. Any other failure is a bug and keeps its traceback."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self._app(scope, receive, send)
            return
        held: list[Message] = []

        async def sent(message: Message) -> None:
            if message["type"] == "lifespan.startup.failed":
                held.append(message)  # sent below, once the failure is known
            else:
                await send(message)

        try:
            await self._app(scope, receive, sent)
        except STARTUP_ERRORS:
            if held:
                await send({"type": "lifespan.startup.failed", "message": ""})
            raise
        except BaseException:
            for message in held:
                await send(message)
            raise
        for message in held:
            await send(message)


def create_app(
    settings: Settings | None = None,
    *,
    adjust_services: Callable[[Services], Services] | None = None,
) -> FastAPI:
    """The ASGI app; services are built at start-up (ops.wiring.open_services), not at
    import, and closed at shutdown. `adjust_services` may replace parts of them (tests)."""
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            opening = open_services(
                settings or load_settings(), "api", metrics=metrics, adjust=adjust_services
            )
            async with opening as process:
                app.state.services = process.services
                app.state.hash_user = process.hash_user
                app.state.tasks = process.tasks
                app.state.github = process.github
                app.state.slack = process.slack
                app.state.web = process.web
                metrics.watch_spool(process.writer)
                metrics.watch_rollout(process.rollout)
                await process.services.warm_up()
                yield
        except STARTUP_ERRORS as exc:
            _log.critical("cannot start: %s", exc)
            raise

    app = FastAPI(
        title="Leximind",
        summary="Answers questions about an open-source project, with citations.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served below from local files, so /docs works offline
        redoc_url=None,
    )
    app.state.metrics = metrics
    _install_error_handlers(app)

    app.add_middleware(AllowedOriginsCors)
    app.add_middleware(RequestMetrics, metrics=metrics)
    app.add_middleware(OneLineStartupFailure)
    app.state.web = None
    app.include_router(web_router())

    def services(request: Request) -> Services:
        found: Services = request.app.state.services
        return found

    def user_hash(request: Request, user: str | None) -> str | None:
        if user is None:
            return None
        hasher: UserHasher = request.app.state.hash_user
        return hasher(API_PLATFORM, user)

    serve_docs(app)

    @app.post("/ask", response_model=AskResponse, responses=QUESTION_ERRORS)
    async def ask(body: AskRequest, request: Request) -> AskResponse:
        """Answers a question from a knowledge base, citing the passages it used.

        A named `user` is kept only as a keyed hash, which routes the question during a
        staged rollout; without one the champion answers.
        """
        question = Question(
            text=body.question,
            kb=body.kb,
            history=tuple(Turn(t.question, t.answer) for t in body.history),
            platform=API_PLATFORM,
            user_hash=user_hash(request, body.user),
        )
        answer = await services(request).answers.answer(question)
        metrics.count_answer(answer)
        return ask_response(answer)

    @app.post("/search", response_model=SearchResponse, responses=QUESTION_ERRORS)
    async def search(body: SearchRequest, request: Request) -> SearchResponse:
        """The best passages for a question, without an answer."""
        started = time.perf_counter()
        found = await services(request).answers.search(body.question, kb=body.kb, k=body.k)
        metrics.retrieval.observe(time.perf_counter() - started)
        return SearchResponse(sources=[source_out(s) for s in found])

    @app.post(
        "/github/webhook",
        status_code=202,
        response_model=ErrorOut,
        responses={
            200: {"model": ErrorOut, "description": "a ping, or an event needing no answer"},
            400: {"model": ErrorOut, "description": "a malformed delivery"},
            401: {"model": ErrorOut, "description": "a missing or invalid signature"},
            404: {"model": ErrorOut, "description": "the webhook is not configured"},
            **BODY_TOO_LARGE,
        },
    )
    async def github_webhook(request: Request) -> JSONResponse:
        """GitHub events: verified, deduplicated, acknowledged at once, answered afterwards."""
        hook: GitHubWebhook | None = request.app.state.github
        if hook is None:
            return _error(404, "the GitHub webhook is off: set LEXIMIND_GITHUB__WEBHOOK_SECRET")
        outcome = await hook.receive(request.headers, await request.body())
        if outcome.ask is not None:
            delivery = request.headers.get("x-github-delivery", "")
            tasks: TaskTracker = request.app.state.tasks
            tasks.spawn(hook.bot.answer(outcome.ask), name=f"GitHub delivery {delivery}")
        return JSONResponse({"detail": outcome.detail}, status_code=outcome.status)

    @app.post("/slack/events", include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        """Slack's Events API and slash commands (HTTP mode): signature checked first."""
        slack: SlackBot | None = request.app.state.slack
        if slack is None:
            return _error(404, "Slack is not configured on this server")
        return await slack.handle(request)

    @app.get("/healthz", response_model=None, responses=HEALTH_RESPONSES)
    async def healthz(request: Request) -> JSONResponse:
        """Whether the stores answer and the model server (if any) is reachable.

        Also the object store's state as last seen by a write and the spool depth: records
        waiting locally for the object store (`degraded` while it is unreachable). The vector
        store is checked in a worker thread; one that has not answered within
        HEALTH_CHECK_SECONDS counts as unavailable.
        """
        svc = services(request)
        report: dict[str, Any] = {"status": "ok", "knowledge_bases": svc.catalog.names()}
        try:
            await asyncio.wait_for(asyncio.to_thread(svc.store.check), HEALTH_CHECK_SECONDS)
            report["store"] = "ok"
        except ServiceUnavailable as exc:
            report.update(status="unavailable", store=str(exc))
        except TimeoutError:
            no_answer = f"no answer within {HEALTH_CHECK_SECONDS:g} s"
            report.update(status="unavailable", store=no_answer)
        report.update(svc.spooled_writer.status())
        if svc.spooled_writer.store_down and report["status"] == "ok":
            report["status"] = "degraded"
        if svc.chat_model is None:
            report["model"] = "extractive (no model configured)"
        else:
            try:
                await svc.chat_model.check()
                report["model"] = f"ok ({svc.chat_model.name})"
            except ServiceUnavailable as exc:
                report["model"] = f"unreachable, answering extractively: {exc}"
                if report["status"] == "ok":
                    report["status"] = "degraded"
        return JSONResponse(report, status_code=503 if report["status"] == "unavailable" else 200)

    @app.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
    )
    async def prometheus() -> Response:
        """Prometheus metrics."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
