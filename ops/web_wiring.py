"""Builds the web surface (web/) over the services and the bots' shared layer."""

from __future__ import annotations

from bots.identity import load_or_create_key
from bots.reactions import EmojiLabels, FeedbackRecorder
from ops.metrics import Metrics
from ops.wiring import BotKit, Services, build_user_hasher
from web.analytics import DashboardService, LogAggregate
from web.assets import Assets
from web.routes import WebApp
from web.security import Signer, SlidingWindowLimiter
from web.surface import WEB_NEGATIVE, WEB_POSITIVE, WebSurface

API_PLATFORM = "api"


def web_secret_key(services: Services) -> bytes:
    """LEXIMIND_WEB__SECRET_KEY, else a key kept in DATA_DIR/web (created on first use)."""
    web = services.settings.web
    if web.secret_key is not None:
        return bytes.fromhex(web.secret_key.get_secret_value())
    return load_or_create_key(services.settings.data_dir / "web" / "secret.key")


def build_web(services: Services, kit: BotKit, *, metrics: Metrics | None = None) -> WebApp:
    """The ask page, the widget and /admin over the bots' state, hasher and feedback log.

    The feedback buttons have labels of their own (👍 and ✅ helped, 👎 did not), whatever
    emoji the chat bots are configured with.
    """
    settings = services.settings
    web = settings.web
    hash_user = build_user_hasher(settings)
    recorder = FeedbackRecorder(
        answers=kit.state,
        feedback=services.feedback,
        labels=EmojiLabels(WEB_POSITIVE, WEB_NEGATIVE),
        hash_user=hash_user,
        models=kit.state,
        on_recorded=metrics.count_feedback if metrics else None,
    )
    surface = WebSurface(
        answers=services.answers,
        answerer=kit.answerer,
        index=kit.state,
        feedback=recorder,
        ip_limiter=SlidingWindowLimiter(web.ip_rate_limit, web.ip_rate_window),
        on_api_answer=metrics.count_answer if metrics else None,
    )
    return WebApp(
        surface=surface,
        signer=Signer(web_secret_key(services)),
        settings=web,
        default_kb=settings.default_kb,
        knowledge_bases=services.catalog.names,
        api_user_hash=lambda user: hash_user(API_PLATFORM, user),
        assets=Assets.load(),
        dashboard=DashboardService(
            LogAggregate(services.object_store, default_kb=settings.default_kb)
        ),
        rollout=services.active_model.state,
    )
