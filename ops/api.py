"""The HTTP API: /ask, /search, /healthz, /metrics, /github/webhook and /slack/events, and
the web surface (web/): the ask page at /, /ask/stream, widget.js and /admin."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bots.github.bot import GitHubWebhook
from bots.identity import UserHasher
from core.errors import InvalidQuestion, LeximindError, ServiceUnavailable, UnknownKnowledgeBase
from core.types import Question, Turn
from ops.background import TaskTracker
from ops.metrics import Metrics
from ops.schemas import (
    AskRequest,
    AskResponse,
    SearchRequest,
    SearchResponse,
    ask_response,
    source_out,
)
from ops.settings import Settings
from ops.web_wiring import build_web
from ops.wiring import (
    BotKit,
    Services,
    build_bot_kit,
    build_github_webhook,
    build_services,
    build_slack_bot,
    build_user_hasher,
    load_settings,
)
from web.routes import web_router
from web.security import AllowedOriginsCors

if TYPE_CHECKING:
    from bots.slack import SlackBot

_log = logging.getLogger(__name__)


MAX_BODY_BYTES = 1_000_000
API_PLATFORM = "api"
DRAIN_SECONDS = 60.0  # how long shutdown waits for answers still being written


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": message})


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

    async def malformed(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = []
        for err in exc.errors():
            if err.get("type") == "json_invalid":
                return _error(400, "the request body is not valid JSON")
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            problems.append(f"{where or 'body'}: {err.get('msg', 'invalid')}")
        return _error(422, "; ".join(problems))

    app.add_exception_handler(InvalidQuestion, invalid)
    app.add_exception_handler(UnknownKnowledgeBase, unknown)
    app.add_exception_handler(ServiceUnavailable, unavailable)
    app.add_exception_handler(LeximindError, other)
    app.add_exception_handler(RequestValidationError, malformed)


class RequestMetrics:
    """Counts requests and their latency per route and refuses bodies over MAX_BODY_BYTES.

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

        length = dict(scope["headers"]).get(b"content-length", b"0").decode("latin-1")
        try:
            if not length.isdigit() or int(length) > MAX_BODY_BYTES:
                too_big = _error(413, f"the request body is over {MAX_BODY_BYTES} bytes")
                await too_big(scope, receive, sent)
            else:
                await self._app(scope, receive, sent)
        finally:
            endpoint = getattr(scope.get("route"), "path", "unmatched")
            self._metrics.requests.labels(endpoint, str(status)).inc()
            self._metrics.latency.labels(endpoint).observe(time.perf_counter() - started)


def create_app(
    settings: Settings | None = None,
    *,
    services_factory: Callable[[Settings], Services] = build_services,
) -> FastAPI:
    """The ASGI app; services are built at start-up, not at import."""
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = services_factory(settings or load_settings())
        app.state.services = services
        app.state.hash_user = None  # built on the first /ask that names a user
        await services.warm_up()
        app.state.tasks = TaskTracker()
        kit: BotKit | None = None
        app.state.github = None
        metrics.watch_spool(services.spooled_writer)
        metrics.watch_rollout(services.active_model)
        app.state.slack = None
        github_on = services.settings.github.webhook_secret is not None
        web_on = services.settings.web.enabled
        if github_on or services.settings.slack.http_enabled or web_on:
            kit = build_bot_kit(services, metrics=metrics)
        if kit is not None and web_on:
            app.state.web = build_web(services, kit, metrics=metrics)
        if kit is not None and github_on:
            app.state.github = build_github_webhook(services, kit)
        if kit is not None and services.settings.slack.http_enabled:
            app.state.slack = build_slack_bot(services, kit, app.state.tasks)
            await app.state.slack.start()
        try:
            yield
        finally:
            await app.state.tasks.drain(DRAIN_SECONDS)
            if app.state.github is not None:
                app.state.github.close()
            if app.state.slack is not None:
                await app.state.slack.aclose()
            if kit is not None:
                kit.close()
            await services.aclose()

    app = FastAPI(
        title="Leximind",
        summary="Answers questions about an open-source project, with citations.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    _install_error_handlers(app)

    app.add_middleware(AllowedOriginsCors)
    app.add_middleware(RequestMetrics, metrics=metrics)
    app.state.web = None
    app.include_router(web_router())

    def services(request: Request) -> Services:
        found: Services = request.app.state.services
        return found

    def user_hash(request: Request, user: str | None) -> str | None:
        if user is None:
            return None
        hasher: UserHasher | None = request.app.state.hash_user
        if hasher is None:
            hasher = request.app.state.hash_user = build_user_hasher(services(request).settings)
        return hasher(API_PLATFORM, user)

    @app.post("/ask", response_model=AskResponse)
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

    @app.post("/search", response_model=SearchResponse)
    async def search(body: SearchRequest, request: Request) -> SearchResponse:
        """The best passages for a question, without an answer."""
        started = time.perf_counter()
        found = await services(request).answers.search(body.question, kb=body.kb, k=body.k)
        metrics.retrieval.observe(time.perf_counter() - started)
        return SearchResponse(sources=[source_out(s) for s in found])

    @app.post("/github/webhook", status_code=202)
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
        """Slack's Events API and slash commands (HTTP mode), verified by Bolt."""
        slack: SlackBot | None = request.app.state.slack
        if slack is None:
            return _error(404, "Slack is not configured on this server")
        return await slack.handle(request)

    @app.get("/healthz")
    async def healthz(request: Request) -> JSONResponse:
        """Whether the stores answer and the model server (if any) is reachable.

        Also the object store's state as last seen by a write and the spool depth: records
        waiting locally for the object store (`degraded` while it is unreachable).
        """
        svc = services(request)
        report: dict[str, Any] = {"status": "ok", "knowledge_bases": svc.catalog.names()}
        try:
            svc.store.check()
            report["store"] = "ok"
        except ServiceUnavailable as exc:
            report.update(status="unavailable", store=str(exc))
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

    @app.get("/metrics")
    async def prometheus() -> Response:
        """Prometheus metrics."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
