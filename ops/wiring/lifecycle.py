"""One lifecycle for every process: `open_services(settings, role)`.

The API server, the Discord and Slack clients, the scheduler's jobs and the CLI commands
all enter it. Each client is built once, registered on one `AsyncExitStack` as soon as it
exists, and closed in reverse order when the process ends, also when start-up fails
halfway (whatever was opened before the failure is closed, nothing after it is built).
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TypeVar

from adapters.llm.active_model import FileActiveModel
from adapters.storage.local import LocalObjectStore
from adapters.storage.writer import SpooledWriter
from core.ports import ObjectStore, Rollout
from ops.background import TaskTracker
from ops.errors import NotConfigured
from ops.metrics import Metrics
from ops.settings import Settings
from ops.wiring.serving import (
    Services,
    build_chat_model,
    build_embedder,
    build_retriever,
    build_services,
)
from ops.wiring.state import build_active_model, build_redis_client
from ops.wiring.storage import (
    build_catalog,
    build_object_store,
    build_spooled_writer,
    build_vector_store,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from bots.discord.client import LeximindDiscord
    from bots.github.api import GitHubApi
    from bots.github.bot import GitHubWebhook
    from bots.github.reactions import ReactionPoller
    from bots.identity import UserHasher
    from bots.slack import SlackBot
    from ops.wiring.bots import BotKit
    from web.routes import WebApp

T = TypeVar("T")
DRAIN_SECONDS = 60.0  # how long closing waits for answers still being worked on


# What a process does, and so what `open_services` builds for it (a plain string, so that
# a command can name its role without importing this package):
#   storage    the object store, the spool and the rollout state only
#   cli        + the answering services: index, ask, search, memory, deploy, the jobs
#   reactions  + the bot layer and the GitHub reaction poller
#   discord    + the bot layer and the Discord gateway client
#   slack      + the bot layer and the Slack bot for Socket Mode
#   api        + what the settings turn on: web surface, GitHub webhook, Slack HTTP mode
Role = Literal["storage", "cli", "reactions", "discord", "slack", "api"]

_BOT_ROLES: frozenset[Role] = frozenset({"reactions", "discord", "slack"})


@dataclass(slots=True)
class Process:
    """What `open_services` opened for one process; it closes all of it."""

    role: Role
    objects: ObjectStore
    writer: SpooledWriter
    rollout: Rollout
    tasks: TaskTracker
    redis: Redis | None = None  # the one Redis client: rollout state and bot state share it
    answering: Services | None = None
    kit: BotKit | None = None
    hash_user: UserHasher | None = None
    slack: SlackBot | None = None
    discord: LeximindDiscord | None = None
    github: GitHubWebhook | None = None
    reactions: ReactionPoller | None = None
    web: WebApp | None = None
    settings: Settings | None = field(default=None, repr=False)
    closing: AsyncExitStack | None = field(default=None, repr=False)
    _github_api: GitHubApi | None = field(default=None, repr=False)

    @property
    def services(self) -> Services:
        """The answering services; every role but "storage" builds them."""
        if self.answering is None:
            raise RuntimeError(f"the {self.role} role builds no answering services")
        return self.answering

    def github_api(self) -> GitHubApi:
        """The process's one GitHub API client (the webhook, the reaction poller and the
        commands share it), built on first use and closed with the rest; raises
        NotConfigured when GitHub is not configured."""
        if self._github_api is None:
            from ops.wiring.bots import build_github_api

            assert self.settings is not None and self.closing is not None
            api = build_github_api(self.settings.github)
            self.closing.callback(api.close)
            self._github_api = api
        return self._github_api


@asynccontextmanager
async def open_services(
    settings: Settings,
    role: Role,
    *,
    metrics: Metrics | None = None,
    adjust: Callable[[Services], Services] | None = None,
) -> AsyncIterator[Process]:
    """Builds what `role` needs from `settings`, yields it, and closes it in reverse order.

    `metrics` counts the bots' answers and reactions; `adjust` may replace parts of the
    answering services before the bots are built over them (tests answer from fixed
    passages this way). Raises NotConfigured when a setting the role needs is missing,
    after closing whatever was opened before.
    """
    async with AsyncExitStack() as stack:
        process = _open_storage(stack, settings, role)
        if role != "storage":
            services = _open_answering(stack, settings, process)
            process.answering = adjust(services) if adjust else services
        if role in _BOT_ROLES or (role == "api" and _api_needs_bots(settings)):
            await _open_bots(stack, settings, process, metrics)
        elif role == "api":
            from ops.wiring.bots import build_user_hasher

            process.hash_user = build_user_hasher(settings.bots, data_dir=settings.data_dir)
        # Pushed last, so run first: answers being worked on go out before their clients close.
        stack.push_async_callback(process.tasks.drain, DRAIN_SECONDS)
        yield process


@contextmanager
def open_services_sync(
    settings: Settings,
    role: Role,
    *,
    adjust: Callable[[Services], Services] | None = None,
    freeze: bool = False,
) -> Iterator[tuple[Process, asyncio.Runner]]:
    """`open_services(settings, role)` entered and left on an event loop of the caller's
    own, for synchronous callers: the CLI commands, synchronous tests and the benchmarks.
    Yields the process and the runner of that loop, which runs only while async work runs
    (`runner.run(...)`): synchronous work in between blocks no loop. The clients bound to
    the loop (httpx, Redis) work only through that runner.

    `freeze` (a short command-line process): the cyclic garbage collector is paused while
    the services are built, and told to skip the objects made for good; the imports and
    services create some 100,000 objects that live as long as the process, and not scanning
    them saves about 0.3 s, at exit included.
    """
    with asyncio.Runner() as runner:
        if freeze:
            gc.disable()
        try:
            opening = open_services(settings, role, adjust=adjust)
            process = runner.run(opening.__aenter__())
        finally:
            if freeze:
                gc.freeze()
                gc.enable()
        try:
            yield process, runner
        except BaseException as exc:
            if not runner.run(opening.__aexit__(type(exc), exc, exc.__traceback__)):
                raise
        else:
            runner.run(opening.__aexit__(None, None, None))


def run_in_services(settings: Settings, role: Role, work: Callable[[Process], Awaitable[T]]) -> T:
    """`work` inside `open_services(settings, role)` on an event loop of its own, for
    synchronous callers (the scheduler's jobs run in its worker threads)."""

    async def run() -> T:
        async with open_services(settings, role) as process:
            return await work(process)

    return asyncio.run(run())


def _open_storage(stack: AsyncExitStack, settings: Settings, role: Role) -> Process:
    data_dir = settings.data_dir
    objects = build_object_store(settings.storage, data_dir=data_dir)
    if not isinstance(objects, LocalObjectStore):
        stack.callback(objects.close)
    writer = build_spooled_writer(settings.storage, data_dir=data_dir, objects=objects)
    stack.callback(writer.close)
    redis = build_redis_client(settings.state)
    if redis is not None:
        stack.push_async_callback(redis.aclose)
    rollout = build_active_model(settings.state, data_dir=data_dir, redis=redis)
    if not isinstance(rollout, FileActiveModel):
        stack.push_async_callback(rollout.aclose)
    return Process(
        role=role,
        objects=objects,
        writer=writer,
        rollout=rollout,
        tasks=TaskTracker(),
        redis=redis,
        settings=settings,
        closing=stack,
    )


def _open_answering(stack: AsyncExitStack, settings: Settings, process: Process) -> Services:
    data_dir = settings.data_dir
    catalog = build_catalog(settings.storage, data_dir=data_dir, objects=process.objects)
    embedder = build_embedder(settings.embedding, data_dir=data_dir)
    store = build_vector_store(settings.vector, data_dir=data_dir, dimension=embedder.dimension)
    stack.callback(store.close)
    retriever = build_retriever(settings.retrieval, store=store, embedder=embedder, catalog=catalog)
    stack.callback(retriever.close)
    chat_model = build_chat_model(settings.llm, active_model=process.rollout)
    if chat_model is not None:
        stack.push_async_callback(chat_model.aclose)
    return build_services(
        settings,
        objects=process.objects,
        writer=process.writer,
        rollout=process.rollout,
        catalog=catalog,
        store=store,
        embedder=embedder,
        retriever=retriever,
        chat_model=chat_model,
    )


def _api_needs_bots(settings: Settings) -> bool:
    return (
        settings.github.webhook_secret is not None
        or settings.slack.http_enabled
        or settings.web.enabled
    )


async def _open_bots(
    stack: AsyncExitStack, settings: Settings, process: Process, metrics: Metrics | None
) -> None:
    """The bot layer over the answering services, then the adapters of the role."""
    from bots.state import SqliteBotState
    from ops.wiring import bots

    data_dir, role = settings.data_dir, process.role
    process.hash_user = bots.build_user_hasher(settings.bots, data_dir=data_dir)
    state = bots.build_bot_state(
        settings.bots, settings.state, folder=data_dir / "bots", redis=process.redis
    )
    if isinstance(state, SqliteBotState):
        stack.callback(state.close)
    kit = process.kit = bots.build_bot_kit(
        settings, process.services, state=state, hash_user=process.hash_user, metrics=metrics
    )
    if role == "reactions":
        poller = process.reactions = bots.build_reaction_poller(
            settings.github, kit, api=process.github_api(), data_dir=data_dir
        )
        stack.callback(poller.close)
    if role == "discord":
        client = bots.build_discord_client(settings.discord, kit)
        process.discord = await stack.enter_async_context(client)
    if role == "slack" and settings.slack.app_token is None:
        raise NotConfigured("Socket Mode needs LEXIMIND_SLACK__APP_TOKEN (xapp-...)")
    if role == "slack" or (role == "api" and settings.slack.http_enabled):
        slack = process.slack = bots.build_slack_bot(settings.slack, kit, process.tasks)
        stack.push_async_callback(slack.aclose)
        await slack.start()
    if role == "api" and settings.github.webhook_secret is not None:
        process.github = bots.build_github_webhook(
            settings.github,
            kit,
            api=process.github_api(),
            max_question_chars=settings.answer.max_question_chars,
        )
    if role == "api" and settings.web.enabled:
        from ops.wiring.web import build_web  # the web surface's templates, only for the API

        process.web = build_web(settings, process.services, kit, metrics=metrics)
