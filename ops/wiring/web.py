"""Builds the web surface (web/) over the services and the bots' shared layer."""

from __future__ import annotations

from pathlib import Path

from bots.identity import load_or_create_key
from bots.reactions import EmojiLabels, FeedbackRecorder
from ops.metrics import Metrics
from ops.settings import Settings
from ops.wiring.bots import BotKit
from ops.wiring.serving import Services
from web.analytics import DashboardService, LogAggregate
from web.assets import Assets
from web.config import WebSettings
from web.routes import WebApp
from web.security import Signer, SlidingWindowLimiter
from web.surface import WEB_NEGATIVE, WEB_POSITIVE, WebSurface

API_PLATFORM = "api"


def web_secret_key(web: WebSettings, *, data_dir: Path) -> bytes:
    """LEXIMIND_WEB__SECRET_KEY, else a key kept in DATA_DIR/web (created on first use)."""
    if web.secret_key is not None:
        return bytes.fromhex(web.secret_key.get_secret_value())
    return load_or_create_key(data_dir / "web" / "secret.key")


def build_web(
    settings: Settings, services: Services, kit: BotKit, *, metrics: Metrics | None = None
) -> WebApp:
    """The ask page, the widget and /admin over the bots' state, hasher and feedback log.

    The feedback buttons have labels of their own (👍 and ✅ helped, 👎 did not), whatever
    emoji the chat bots are configured with.
    """
    web = settings.web
    hash_user = kit.hash_user
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
        signer=Signer(web_secret_key(web, data_dir=settings.data_dir)),
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
