"""`leximind serve` takes GitHub webhooks over HTTP; `leximind github poll-reactions` runs once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from adapters.storage.logs import ObjectInteractionLog
from bots.github.bot import comment_key
from bots.state import SqliteBotState
from core.answering import AnswerPolicy, AnswerService
from core.types import ChatMessage, Completion
from ops.api import create_app
from ops.cli import app as cli
from ops.settings import EmbeddingSettings, GitHubSettings, Settings
from ops.wiring import Services
from tests.bots.github_kit import REPO, SECRET, SOURCES, api_server, github
from tests.fakes import ListRetriever
from tests.support.fake_github import (
    BOT_LOGIN,
    FakeGitHub,
    event_payload,
    issue,
    reaction,
    signed_headers,
)
from tests.support.polling import wait_until
from tests.support.storage import local_feedback_log

__all__ = ["api_server", "github"]


class SlowChatModel:
    """Answers every prompt the same, after a pause, like a real model server."""

    def __init__(self, pause: float) -> None:
        self._pause = pause

    @property
    def name(self) -> str:
        return "slow"

    async def complete(
        self, messages: Sequence[ChatMessage], *, model: str | None = None
    ) -> Completion:
        await asyncio.sleep(self._pause)
        return Completion(text="Run `make test` [1].", model="slow")

    async def check(self) -> None:
        return None


def settings_for(
    tmp_path: Path, server: HTTPServer, model_cache: Path, **github: object
) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        embedding=EmbeddingSettings(cache_dir=model_cache),
        github=GitHubSettings(
            api_url=server.url_for("").rstrip("/"),
            token="ghp_test-token",
            bot_login=BOT_LOGIN,
            retries=0,
            seconds_between_requests=0,
            seconds_between_writes=0,
            **github,
        ),
    )


def with_fake_core(pause: float) -> Callable[[Services], Services]:
    """Real services, but answers come from fixed passages and a slow scripted model."""

    def build(services: Services) -> Services:
        services.answers = AnswerService(
            retriever=ListRetriever(SOURCES),
            chat_model=SlowChatModel(pause),
            interaction_log=ObjectInteractionLog(services.spooled_writer),
            # The adapter renders the model's text as written: no grounding check.
            policy=AnswerPolicy(grounding=None),
        )
        return services

    return build


def post(client: TestClient, payload: dict, *, delivery: str, secret: str = SECRET) -> int:
    body = json.dumps(payload).encode()
    headers = signed_headers(secret, body, event="issues", delivery=delivery)
    return client.post("/github/webhook", content=body, headers=headers).status_code


def question(number: int) -> dict:
    return event_payload(action="opened", repo=REPO, issue_data=issue(number, labels=("question",)))


def test_webhook_verifies_acknowledges_and_answers_in_the_background(
    tmp_path: Path, api_server: HTTPServer, github: FakeGitHub, model_cache: Path
) -> None:
    """401 for a bad or missing signature, 400 for bad JSON, 202 at once for a question
    whose answer is posted afterwards, and a 200 for its redelivery."""
    settings = settings_for(tmp_path, api_server, model_cache, webhook_secret=SECRET)
    with TestClient(create_app(settings, adjust_services=with_fake_core(0.2))) as client:
        assert post(client, question(1), delivery="d1", secret="not-the-secret") == 401
        unsigned = client.post(
            "/github/webhook", content=b"{}", headers={"X-GitHub-Event": "issues"}
        )
        assert unsigned.status_code == 401
        bad = b"{oops"
        headers = signed_headers(SECRET, bad, event="issues", delivery="d0")
        assert client.post("/github/webhook", content=bad, headers=headers).status_code == 400
        assert post(client, question(1), delivery="d1") == 202
        wait_until(lambda: len(github.posted(REPO, 1)) == 1, what="the answer posted")
        assert post(client, question(1), delivery="d1") == 200
    assert github.posted(REPO, 1)[0].startswith("Run `make test` [1].")


def test_answers_still_running_at_shutdown_are_finished(
    tmp_path: Path, api_server: HTTPServer, github: FakeGitHub, model_cache: Path
) -> None:
    """Stopping the server waits for the answers it acknowledged: none is lost."""
    settings = settings_for(tmp_path, api_server, model_cache, webhook_secret=SECRET)
    with TestClient(create_app(settings, adjust_services=with_fake_core(1.0))) as client:
        codes = [post(client, question(n), delivery=f"d{n}") for n in range(2, 6)]
    assert codes == [202] * 4
    assert all(len(github.posted(REPO, n)) == 1 for n in range(2, 6))


def test_without_a_webhook_secret_the_route_is_off(
    tmp_path: Path, api_server: HTTPServer, github: FakeGitHub, model_cache: Path
) -> None:
    """With no LEXIMIND_GITHUB__WEBHOOK_SECRET the webhook answers 404 and nothing else."""
    settings = settings_for(tmp_path, api_server, model_cache)
    with TestClient(create_app(settings, adjust_services=with_fake_core(0))) as client:
        assert post(client, question(6), delivery="d6") == 404
    assert github.requests == []


def test_poll_reactions_command_records_feedback(
    tmp_path: Path,
    api_server: HTTPServer,
    github: FakeGitHub,
    model_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`leximind github poll-reactions` reads the bot's answers' reactions once."""
    data = tmp_path / "data"
    state = SqliteBotState(data / "bots" / "state.sqlite3")
    asyncio.run(state.remember(comment_key(REPO, 900), "interaction-9"))
    state.close()
    github.reactions[900] = [reaction("ann", 1, "+1")]
    for name, value in {
        "DATA_DIR": str(data),
        "EMBEDDING__CACHE_DIR": str(model_cache),
        "GITHUB__API_URL": api_server.url_for("").rstrip("/"),
        "GITHUB__TOKEN": "ghp_test-token",
        "GITHUB__RETRIES": "0",
    }.items():
        monkeypatch.setenv(f"LEXIMIND_{name}", value)
    result = CliRunner().invoke(cli, ["github", "poll-reactions"])
    assert result.exit_code == 0, result.output
    assert "1 answers checked (0 unchanged): 1 reactions recorded, 0 retracted" in result.output
    [feedback] = asyncio.run(local_feedback_log(data).for_interaction("interaction-9"))
    assert feedback.emoji == "+1"
    monkeypatch.delenv("LEXIMIND_GITHUB__TOKEN")
    refused = CliRunner().invoke(cli, ["github", "poll-reactions"])
    assert refused.exit_code == 1 and "LEXIMIND_GITHUB__TOKEN" in refused.output
