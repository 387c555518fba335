"""The bot layer: routing, state, user hashing, and the Slack, Discord and GitHub adapters."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bots.answering import BotAnswerer
from bots.identity import UserHasher, load_or_create_key
from bots.ports import BotState
from bots.reactions import EmojiLabels, FeedbackRecorder
from bots.routing import KnowledgeBaseRoutes
from bots.state import SqliteBotState
from ops.metrics import Metrics
from ops.settings import GitHubSettings, Settings
from ops.wiring.serving import Services
from ops.wiring.state import redis_timeouts

if TYPE_CHECKING:
    from bots.discord.client import LeximindDiscord
    from bots.github.api import GitHubApi
    from bots.github.bot import GitHubWebhook
    from bots.github.reactions import ReactionPoller
    from bots.slack import SlackBot
    from bots.slack.app import Spawner


@dataclass(slots=True)
class BotKit:
    """What every chat adapter uses: routing, state, the answer flow and reaction feedback."""

    routes: KnowledgeBaseRoutes
    state: BotState
    answerer: BotAnswerer
    feedback: FeedbackRecorder

    def close(self) -> None:
        self.state.close()


def build_bot_state(settings: Settings, folder: Path) -> BotState:
    """Redis when LEXIMIND_STATE__REDIS_URL is set (state shared by replicas), else SQLite in
    `folder`."""
    bots, state = settings.bots, settings.state
    limits: dict[str, Any] = {
        "rate_limit": bots.rate_limit,
        "rate_window": bots.rate_window,
        "retention": bots.retention_days * 86400,
    }
    if state.redis_url is None:
        return SqliteBotState(folder / "state.sqlite3", **limits)
    from redis.asyncio import Redis

    from bots.redis_state import RedisBotState

    client = Redis.from_url(state.redis_url.get_secret_value(), **redis_timeouts(settings))
    return RedisBotState(client, key_prefix=state.key_prefix, **limits)


def build_user_hasher(settings: Settings) -> UserHasher:
    """The keyed user hash of the bots and the API: the configured key, else one kept in
    DATA_DIR/bots (created on first use)."""
    bots = settings.bots
    key = (
        bytes.fromhex(bots.user_hash_key.get_secret_value())
        if bots.user_hash_key
        else load_or_create_key(settings.data_dir / "bots" / "user-hash.key")
    )
    return UserHasher(key)


def build_bot_kit(services: Services, *, metrics: Metrics | None = None) -> BotKit:
    """The shared bot layer over already built services; state in DATA_DIR/bots or Redis.

    With `metrics`, every bot answer and every reaction label (by the answer's model) is
    counted there.
    """
    settings = services.settings
    bots = settings.bots
    folder = settings.data_dir / "bots"
    hash_user = build_user_hasher(settings)
    state = build_bot_state(settings, folder)
    return BotKit(
        routes=KnowledgeBaseRoutes(bots.routes, default=settings.default_kb),
        state=state,
        answerer=BotAnswerer(
            answers=services.answers,
            rate_limiter=state,
            hash_user=hash_user,
            models=state,
            on_answer=metrics.count_answer if metrics else None,
        ),
        feedback=FeedbackRecorder(
            answers=state,
            feedback=services.feedback,
            labels=EmojiLabels(bots.positive_emoji, bots.negative_emoji),
            hash_user=hash_user,
            models=state,
            on_recorded=metrics.count_feedback if metrics else None,
        ),
    )


def build_slack_bot(services: Services, kit: BotKit, tasks: Spawner) -> SlackBot:
    """The Slack listeners on a Bolt AsyncApp whose Web API client uses the Slack settings.

    Answers run as `tasks`; raises ValueError when no bot token is configured. Events are
    verified with the signing secret when one is set (HTTP mode); Socket Mode needs none.
    """
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.http_retry.builtin_async_handlers import (
        AsyncRateLimitErrorRetryHandler,
    )
    from slack_sdk.web.async_client import AsyncWebClient

    from bots.slack import SlackBot

    slack = services.settings.slack
    if slack.bot_token is None:
        raise ValueError("Slack is not configured: set LEXIMIND_SLACK__BOT_TOKEN")
    client = AsyncWebClient(
        token=slack.bot_token.get_secret_value(), base_url=slack.api_url, timeout=int(slack.timeout)
    )
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
    secret = slack.signing_secret.get_secret_value() if slack.signing_secret else None
    app = AsyncApp(
        client=client,
        signing_secret=secret,
        request_verification_enabled=secret is not None,
        # Listeners only acknowledge and start background work, so running them before the
        # response keeps the acknowledgement immediate and the work owned by our lifespan.
        process_before_response=True,
        logger=logging.getLogger("slack_bolt"),
    )
    return SlackBot(
        app=app,
        routes=kit.routes,
        deliveries=kit.state,
        answer_index=kit.state,
        answerer=kit.answerer,
        feedback=kit.feedback,
        tasks=tasks,
        signing_secret=secret,
    )


def build_discord_client(services: Services, kit: BotKit) -> LeximindDiscord:
    """The Discord gateway client over the shared bot layer; it is started by the caller."""
    from bots.discord.client import LeximindDiscord

    settings = services.settings.discord
    return LeximindDiscord(
        answerer=kit.answerer,
        routes=kit.routes,
        ledger=kit.state,
        answers=kit.state,
        feedback=kit.feedback,
        command_guild=settings.guild_id,
        sync_commands=settings.sync_commands,
    )


def build_github_api(settings: GitHubSettings) -> GitHubApi:
    """The GitHub API client, signed in with the token or as the App.

    Raises ValueError when the settings name neither (check `settings.signs_in` first).
    """
    from bots.github.api import GitHubAccess, GitHubApi

    access = GitHubAccess(
        base_url=settings.api_url,
        token=settings.token.get_secret_value() if settings.token else None,
        app_id=settings.app_id,
        private_key=settings.private_key.get_secret_value() if settings.private_key else None,
        timeout=settings.timeout,
        retries=settings.retries,
        seconds_between_requests=settings.seconds_between_requests,
        seconds_between_writes=settings.seconds_between_writes,
    )
    return GitHubApi(access, concurrency=settings.concurrency)


def build_github_webhook(services: Services, kit: BotKit) -> GitHubWebhook:
    """The webhook receiver; the settings validator made sure secret and login are set."""
    from bots.github.bot import GitHubBot, GitHubWebhook

    github = services.settings.github
    assert github.webhook_secret is not None and github.bot_login is not None
    bot = GitHubBot(
        api=build_github_api(github),
        answerer=kit.answerer,
        routes=kit.routes,
        answers=kit.state,
        bot_login=github.bot_login,
        question_label=github.question_label,
        max_question_chars=services.settings.answer.max_question_chars,
    )
    return GitHubWebhook(secret=github.webhook_secret.get_secret_value(), bot=bot, ledger=kit.state)


def build_reaction_poller(services: Services, kit: BotKit) -> ReactionPoller:
    """The GitHub reaction poller; what it saw is kept in DATA_DIR/bots."""
    from bots.github.reactions import ReactionPoller, ReactionSnapshots

    github = services.settings.github
    return ReactionPoller(
        api=build_github_api(github),
        state=kit.state,
        recorder=kit.feedback,
        snapshots=ReactionSnapshots(
            services.settings.data_dir / "bots" / "github-reactions.sqlite3"
        ),
        hash_user=kit.answerer.user_hash,
        window=github.reaction_window_days * 86400,
    )
