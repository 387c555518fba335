"""The web surface's routes: the ask page, its assets, /ask/stream, feedback and /admin."""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib.resources import files
from typing import Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, Field

from core.rollout import RolloutState
from core.types import Question, Turn
from ops.schemas import AskRequest
from web.analytics import SURFACES, DashboardService
from web.assets import Assets
from web.charts import share_bars, stacked_days
from web.config import WebSettings
from web.security import (
    ADMIN_COOKIE,
    CSRF_FIELD,
    CSRF_HEADER,
    PAGE_HEADERS,
    Signer,
    origin_of,
    same_token,
)
from web.surface import WEB_PLATFORM, WebRefused, WebSurface

_log = logging.getLogger(__name__)

API_PLATFORM = "api"
_TEMPLATES = Environment(
    loader=FileSystemLoader(str(files("web") / "templates")),
    autoescape=select_autoescape(default=True, default_for_string=True),
)


class StreamRequest(AskRequest):
    client: str | None = Field(
        None,
        min_length=16,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="a browser's anonymous id (the page and the widget make one); kept hashed",
    )


class FeedbackRequest(BaseModel):
    interaction_id: str = Field(min_length=8, max_length=64, pattern=r"^[0-9a-f]+$")
    client: str = Field(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    button: Literal["up", "down", "fixed"]
    active: bool = True


@dataclass
class WebApp:
    """What the routes need, built by the composition root (ops/wiring/web.py)."""

    surface: WebSurface
    signer: Signer
    settings: WebSettings
    default_kb: str
    knowledge_bases: Callable[[], list[str]]
    api_user_hash: Callable[[str], str]
    assets: Assets
    dashboard: DashboardService
    rollout: Callable[[], RolloutState]


def _refused(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


def page(template: str, status: int = 200, **values: object) -> HTMLResponse:
    html = _TEMPLATES.get_template(template).render(**values)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def current(request: Request) -> WebApp:
    """The web surface of this app; 404 while it is off (LEXIMIND_WEB__ENABLED=false)."""
    web: WebApp | None = getattr(request.app.state, "web", None)
    if web is None:
        raise HTTPException(404, "the web surface is off: set LEXIMIND_WEB__ENABLED=true")
    return web


def check_browser(web: WebApp, request: Request, token: str | None) -> None:
    """WebRefused (403) for a request from a site that may not ask, or without a valid CSRF
    token. This site's own pages and the allowed origins may ask."""
    origin = origin_of(request.headers)
    host = request.headers.get("host", "").lower()
    own = origin is not None and origin.split("://", 1)[-1] == host
    if origin is None or not (own or origin in web.settings.allowed_origins):
        raise WebRefused(403, "This site may not ask Leximind.")
    if not web.signer.valid_csrf(token):
        raise WebRefused(403, "The page has expired; reload it and try again.")


def web_router() -> APIRouter:
    """The routes; each finds the surface built at start-up in `app.state.web`."""
    router = APIRouter(include_in_schema=False)

    def address(request: Request) -> str:
        return request.client.host if request.client else "unknown"

    def asset(text: str, media_type: str, *, cross_origin: bool = False) -> Response:
        headers = {"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"}
        if cross_origin:
            headers["Cross-Origin-Resource-Policy"] = "cross-origin"
        return Response(text, media_type=media_type, headers=headers)

    @router.get("/")
    async def ask_page(request: Request, kb: str | None = None) -> HTMLResponse:
        web = current(request)
        names = web.knowledge_bases()
        chosen = kb or web.default_kb
        if chosen not in names:
            return page("missing.html", 404, kb=chosen, names=names)
        return page("ask.html", kb=chosen, names=names, csrf=web.signer.csrf_token(), base="")

    @router.get("/web/app.js")
    async def page_js(request: Request) -> Response:
        return asset(current(request).assets.page_js, "text/javascript")

    @router.get("/web/page.css")
    async def page_css(request: Request) -> Response:
        return asset(current(request).assets.page_css, "text/css")

    @router.get("/web/code.css")
    async def code_css(request: Request) -> Response:
        return asset(current(request).assets.code_css, "text/css")

    @router.get("/widget.js")
    async def widget_js(request: Request) -> Response:
        return asset(current(request).assets.widget_js, "text/javascript", cross_origin=True)

    @router.get("/web/session")
    async def session(request: Request) -> JSONResponse:
        """A CSRF token for the widget; only this site and the allowed origins may read it."""
        web = current(request)
        return JSONResponse(
            {"csrf": web.signer.csrf_token(), "default_kb": web.default_kb},
            headers={"Cache-Control": "no-store"},
        )

    @router.post("/ask/stream")
    async def ask_stream(body: StreamRequest, request: Request) -> Response:
        """The answer as server-sent events: `sources`, `token`s, then `done` with the
        interaction id; an extractive answer or a decline comes as one token."""
        web = current(request)
        try:
            if origin_of(request.headers) is not None:  # a browser: the page or the widget
                check_browser(web, request, request.headers.get(CSRF_HEADER))
                if body.client is None:
                    raise WebRefused(422, "client: a browser must send its anonymous id")
                asker = web.surface.browser(body.client)
                await web.surface.admit(asker, address(request))
                platform, user_hash = WEB_PLATFORM, asker.user_hash
            else:
                platform = API_PLATFORM
                user_hash = web.api_user_hash(body.user) if body.user else None
        except WebRefused as refused:
            return _refused(refused.status, refused.message)
        question = Question(
            text=body.question,
            kb=body.kb,
            history=tuple(Turn(t.question, t.answer) for t in body.history),
            platform=platform,
            user_hash=user_hash,
        )
        events = await web.surface.stream(question)
        return StreamingResponse(
            events,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @router.post("/web/feedback")
    async def feedback(body: FeedbackRequest, request: Request) -> JSONResponse:
        """👍, 👎 or "this fixed it" on an answer given on the web; `active: false` takes the
        label back. One label per browser and answer: the latest wins."""
        web = current(request)
        try:
            check_browser(web, request, request.headers.get(CSRF_HEADER))
            if not web.surface.ip_allows(address(request)):
                raise WebRefused(429, "Too many requests from your address; try again soon.")
            label = await web.surface.record_feedback(
                interaction_id=body.interaction_id,
                client_id=body.client,
                button=body.button,
                active=body.active,
            )
        except WebRefused as refused:
            return _refused(refused.status, refused.message)
        return JSONResponse({"label": label.value if label else None})

    def admin_token(web: WebApp) -> str:
        if web.settings.admin_token is None:
            raise HTTPException(404, "the dashboard is off: set LEXIMIND_WEB__ADMIN_TOKEN")
        return web.settings.admin_token.get_secret_value()

    def signed_in(web: WebApp, request: Request) -> bool:
        token = admin_token(web)
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and same_token(given.strip(), token):
            return True
        cookie = request.cookies.get(ADMIN_COOKIE)
        return cookie is not None and hmac.compare_digest(
            cookie.encode(), web.signer.admin_session(token).encode()
        )

    def login_page(web: WebApp, error: str = "") -> HTMLResponse:
        response = page("login.html", 401, csrf=web.signer.csrf_token(), error=error)
        response.headers["WWW-Authenticate"] = 'Bearer realm="leximind-admin"'
        return response

    @router.get("/admin")
    async def admin(
        request: Request,
        days: int | None = Query(None, ge=1, le=366),
        end: date | None = None,
        kb: str | None = Query(None, max_length=64),
    ) -> HTMLResponse:
        """The maintainer dashboard for the `days` up to `end` (UTC), one knowledge base or all."""
        web = current(request)
        if not signed_in(web, request):
            return login_page(web)
        last = end or datetime.now(UTC).date()
        first = last - timedelta(days=(days or web.settings.dashboard_days) - 1)
        board = await asyncio.to_thread(
            web.dashboard.dashboard, start=first, end=last, kb=kb or None
        )
        seen = {name for _, counts in board.per_day for name in counts}
        series = [s for s in SURFACES if s in seen] + sorted(seen - set(SURFACES))
        answered = [
            ("answered", board.share(board.answered)),
            ("declined", board.share(board.declined)),
            ("disliked", board.share(board.disliked)),
        ]
        return page(
            "admin.html",
            board=board,
            days=(last - first).days + 1,
            names=sorted(set(web.knowledge_bases()) | set(board.knowledge_bases)),
            per_day_svg=stacked_days(board.per_day, series or list(SURFACES)),
            shares_svg=share_bars(answered, title="Answered, declined and disliked shares"),
            pages_svg=share_bars(
                [(p.path, p.share) for p in board.top_pages],
                title="Share of questions each page answers",
            ),
            rollout=web.rollout(),
        )

    @router.post("/admin/login")
    async def admin_login(request: Request) -> Response:
        """Signs a maintainer in with the token: a session cookie for /admin only."""
        web = current(request)
        token = admin_token(web)
        origin = origin_of(request.headers)
        if origin is not None and origin.split("://", 1)[-1] != request.headers.get("host", ""):
            return login_page(web, "Sign in from this site's own page.")
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        if not web.signer.valid_csrf((form.get(CSRF_FIELD) or [""])[0]):
            return login_page(web, "The page had expired; try again.")
        if not same_token((form.get("token") or [""])[0], token):
            return login_page(web, "That is not the dashboard's token.")
        response = RedirectResponse("/admin", status_code=303)
        response.set_cookie(
            ADMIN_COOKIE,
            web.signer.admin_session(token),
            max_age=12 * 3600,
            path="/admin",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    return router
