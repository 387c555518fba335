"""Shared set-up of the GitHub adapter tests: the fake API server and a bot built on fakes."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pytest_httpserver import HTTPServer

from bots.answering import BotAnswerer
from bots.github.api import GitHubAccess, GitHubApi
from bots.github.bot import GitHubBot, GitHubWebhook
from bots.identity import UserHasher
from bots.routing import KnowledgeBaseRoutes
from bots.state import SqliteBotState
from core.answering import AnswerPolicy, AnswerService
from core.types import Source
from tests.fakes import ListRetriever, ScriptedChatModel, chunk
from tests.support.fake_github import BOT_LOGIN, FakeGitHub, signed_headers
from tests.support.storage import local_interaction_log

SECRET = "webhook-secret-for-tests"
REPO = "octo/widgets"
KEY = b"k" * 32
SOURCES = {
    "widgets": [Source(chunk("CONTRIBUTING.md", "Run make test.", kb="widgets"), 0.9)],
    "default": [Source(chunk("README.md", "Nothing about tests.", kb="default"), 0.9)],
}


@pytest.fixture(scope="module")
def api_server() -> Iterator[HTTPServer]:
    """One fake GitHub API server on a free loopback port for the module."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def github(api_server: HTTPServer) -> FakeGitHub:
    """A fresh fake GitHub state answering on the module's server."""
    api_server.clear()
    fake = FakeGitHub()
    api_server.expect_request(re.compile(".*")).respond_with_handler(fake)
    return fake


def token_access(server: HTTPServer, token: str = "ghp_test-token") -> GitHubAccess:
    """PyGithub pointed at the fake: no retries, no throttling, short timeouts."""
    return GitHubAccess(
        base_url=server.url_for("").rstrip("/"),
        token=token,
        timeout=5,
        retries=0,
        seconds_between_requests=0,
        seconds_between_writes=0,
    )


def rsa_pair() -> tuple[str, bytes]:
    """A throwaway App key: PEM private key text and PEM public key bytes."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


def app_access(server: HTTPServer, private_key: str, app_id: int = 4242) -> GitHubAccess:
    return GitHubAccess(
        base_url=server.url_for("").rstrip("/"),
        app_id=app_id,
        private_key=private_key,
        timeout=5,
        retries=0,
        seconds_between_requests=0,
        seconds_between_writes=0,
    )


@dataclass
class Harness:
    """A webhook receiver wired to real bot state, a scripted model and the fake API."""

    hook: GitHubWebhook
    api: GitHubApi
    state: SqliteBotState
    model: ScriptedChatModel
    interactions: Path

    async def deliver(self, event: str, payload: dict[str, Any], delivery: str) -> int:
        """Sends one delivery; runs the answer the receiver accepts; returns the status."""
        body = json.dumps(payload).encode()
        headers = {
            k.lower(): v
            for k, v in signed_headers(SECRET, body, event=event, delivery=delivery).items()
        }
        outcome = await self.hook.receive(headers, body)
        if outcome.ask is not None:
            await self.hook.bot.answer(outcome.ask)
        return outcome.status

    def close(self) -> None:
        self.api.close()
        self.state.close()


def harness(
    tmp_path: Path,
    access: GitHubAccess,
    *,
    replies: list[str | Exception] | None = None,
    retriever: ListRetriever | None = None,
    rate_limit: int = 5,
    max_question_chars: int = 2000,
) -> Harness:
    """The bot as wiring builds it, on fakes for the core and the fake GitHub API."""
    state = SqliteBotState(tmp_path / "bots" / "state.sqlite3", rate_limit=rate_limit)
    model = ScriptedChatModel(replies or ["Run `make test` [1]."] * 10)
    answers = AnswerService(
        retriever=retriever or ListRetriever(SOURCES),
        chat_model=model,
        interaction_log=local_interaction_log(tmp_path),
        # The adapter renders the model's text as written: no grounding check.
        policy=AnswerPolicy(grounding=None),
    )
    api = GitHubApi(access, concurrency=4)
    bot = GitHubBot(
        api=api,
        answerer=BotAnswerer(answers=answers, rate_limiter=state, hash_user=UserHasher(KEY)),
        routes=KnowledgeBaseRoutes({f"github:{REPO}": "widgets"}, default="default"),
        answers=state,
        bot_login=BOT_LOGIN,
        max_question_chars=max_question_chars,
    )
    hook = GitHubWebhook(secret=SECRET, bot=bot, ledger=state)
    return Harness(
        hook=hook,
        api=api,
        state=state,
        model=model,
        interactions=tmp_path / "objects" / "interactions",
    )
