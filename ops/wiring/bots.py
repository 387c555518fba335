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
from ops.errors import NotConfigured
from ops.metrics import Metrics
from ops.settings import (
    BotSettings,
    DiscordSettings,
    GitHubSettings,
    Settings,
    SlackSettings,
    StateSettings,
)
from ops.wiring.serving import Services

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from bots.discord.client import LeximindDiscord
    from bots.github.api import GitHubApi
    from bots.github.bot import GitHubWebhook
    from bots.github.reactions import ReactionPoller
    from bots.redis_state import RedisBotState
    from bots.slack import SlackBot
    from bots.slack.app import Spawner


@dataclass(slots=True)
class BotKit:
    """What every chat adapter uses: routing, state, the answer flow and reaction feedback.

    `open_services` builds it and closes its state."""

    routes: KnowledgeBaseRoutes
    state: BotState
    answerer: BotAnswerer
    feedback: FeedbackRecorder
    hash_user: UserHasher


def build_bot_state(
    bots: BotSettings, state: StateSettings, *, folder: Path, redis: Redis | None
) -> SqliteBotState | RedisBotState:
    """In Redis through `redis` (the process's client, from build_redis_client: state shared
    by replicas), else SQLite in `folder`. The caller closes the SQLite one (`close`); the
    Redis one holds nothing but the client, which its owner closes."""
    limits: dict[str, Any] = {
        "rate_limit": bots.rate_limit,
        "rate_window": bots.rate_window,
        "retention": bots.retention_days * 86400,
    }
    if redis is None:
        return SqliteBotState(folder / "state.sqlite3", **limits)
    from bots.redis_state import RedisBotState

    return RedisBotState(redis, key_prefix=state.key_prefix, **limits)


def build_user_hasher(bots: BotSettings, *, data_dir: Path) -> UserHasher:
    """The keyed user hash of the bots and the API: the configured key, else one kept in
    DATA_DIR/bots (created on first use)."""
    key = (
        bytes.fromhex(bots.user_hash_key.get_secret_value())
        if bots.user_hash_key
        else load_or_create_key(data_dir / "bots" / "user-hash.key")
    )
    return UserHasher(key)


def build_bot_kit(
    settings: Settings,
    services: Services,
    *,
    state: BotState,
    hash_user: UserHasher,
    metrics: Metrics | None = None,
) -> BotKit:
    """The shared bot layer over already built services and bot state.

    With `metrics`, every bot answer and every reaction label (by the answer's model) is
    counted there.
    """
    bots = settings.bots
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
        hash_user=hash_user,
    )


def build_slack_bot(slack: SlackSettings, kit: BotKit, tasks: Spawner) -> SlackBot:
    """The Slack listeners on a Bolt AsyncApp whose Web API client uses the Slack settings.

    Answers run as `tasks`; raises NotConfigured when no bot token is configured. Events are
    verified with the signing secret when one is set (HTTP mode); Socket Mode needs none.
    The caller calls `start` in its event loop and `aclose` at the end.
    """
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.http_retry.builtin_async_handlers import (
        AsyncRateLimitErrorRetryHandler,
    )
    from slack_sdk.web.async_client import AsyncWebClient

    from bots.slack import SlackBot
    from bots.slack.authorization import WorkspaceAuthorization

    if slack.bot_token is None:
        raise NotConfigured("Slack is not configured: set LEXIMIND_SLACK__BOT_TOKEN")
    client = AsyncWebClient(base_url=slack.api_url, timeout=int(slack.timeout))
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
    secret = slack.signing_secret.get_secret_value() if slack.signing_secret else None
    authorization = WorkspaceAuthorization(client)
    app = AsyncApp(
        client=client,
        authorize=authorization,
        signing_secret=secret,
        request_verification_enabled=secret is not None,
        # Listeners only acknowledge and start background work, so running them before the
        # response keeps the acknowledgement immediate and the work owned by our lifespan.
        process_before_response=True,
        logger=logging.getLogger("slack_bolt"),
    )
    # Given after the app is built: Bolt warns that a client token is ignored when an
    # `authorize` hook is set; the hook (auth.test) and our own Web API calls use it.
    client.token = slack.bot_token.get_secret_value()
    return SlackBot(
        app=app,
        routes=kit.routes,
        deliveries=kit.state,
        answer_index=kit.state,
        answerer=kit.answerer,
        feedback=kit.feedback,
        tasks=tasks,
        authorization=authorization,
        signing_secret=secret,
    )


def build_discord_client(discord: DiscordSettings, kit: BotKit) -> LeximindDiscord:
    """The Discord gateway client over the shared bot layer; it is started by the caller.

    Raises NotConfigured without a bot token (the caller logs in with it)."""
    from bots.discord.client import LeximindDiscord

    if discord.token is None:
        raise NotConfigured("LEXIMIND_DISCORD__TOKEN is not set; see docs/bots.md for the setup")

    return LeximindDiscord(
        answerer=kit.answerer,
        routes=kit.routes,
        ledger=kit.state,
        answers=kit.state,
        feedback=kit.feedback,
        command_guild=discord.guild_id,
        sync_commands=discord.sync_commands,
    )


def build_github_api(github: GitHubSettings) -> GitHubApi:
    """The GitHub API client, signed in with the token or as the App.

    Raises NotConfigured when the settings name neither.
    """
    from bots.github.api import GitHubAccess, GitHubApi

    if not github.signs_in:
        raise NotConfigured(
            "GitHub is not configured: set LEXIMIND_GITHUB__TOKEN, or __APP_ID and __PRIVATE_KEY"
        )
    access = GitHubAccess(
        base_url=github.api_url,
        token=github.token.get_secret_value() if github.token else None,
        app_id=github.app_id,
        private_key=github.private_key.get_secret_value() if github.private_key else None,
        timeout=github.timeout,
        retries=github.retries,
        seconds_between_requests=github.seconds_between_requests,
        seconds_between_writes=github.seconds_between_writes,
    )
    return GitHubApi(access, concurrency=github.concurrency)


def build_github_webhook(
    github: GitHubSettings, kit: BotKit, *, api: GitHubApi, max_question_chars: int
) -> GitHubWebhook:
    """The webhook receiver over `api` (the process's client, which its owner closes); the
    settings validator made sure secret and login are set."""
    from bots.github.bot import GitHubBot, GitHubWebhook

    assert github.webhook_secret is not None and github.bot_login is not None
    bot = GitHubBot(
        api=api,
        answerer=kit.answerer,
        routes=kit.routes,
        answers=kit.state,
        bot_login=github.bot_login,
        question_label=github.question_label,
        max_question_chars=max_question_chars,
    )
    return GitHubWebhook(secret=github.webhook_secret.get_secret_value(), bot=bot, ledger=kit.state)


def build_reaction_poller(
    github: GitHubSettings, kit: BotKit, *, api: GitHubApi, data_dir: Path
) -> ReactionPoller:
    """The GitHub reaction poller over `api` (the process's client, which its owner closes);
    the caller closes the poller (its snapshots, kept in DATA_DIR/bots)."""
    from bots.github.reactions import ReactionPoller, ReactionSnapshots

    return ReactionPoller(
        api=api,
        state=kit.state,
        recorder=kit.feedback,
        snapshots=ReactionSnapshots(data_dir / "bots" / "github-reactions.sqlite3"),
        hash_user=kit.answerer.user_hash,
        window=github.reaction_window_days * 86400,
    )
