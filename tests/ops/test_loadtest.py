"""The Locust load test drives a real `leximind serve`: every task type gets 2xx, none fails."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from ops.settings import EmbeddingSettings, Settings
from rag.sources import read_tree
from tests.bots.slack_fake import BOT_TOKEN, BOT_USER, SIGNING_SECRET, FakeSlack
from tests.support.corpus import make_fastapi_repo
from tests.support.fake_github import BOT_LOGIN, FakeGitHub
from tests.support.leximind_server import LeximindServer, start_leximind
from tests.support.locust_run import run_locust
from tests.support.polling import wait_until
from tests.support.services import index_tree

WEBHOOK_SECRET = "loadtest-webhook-secret"
REPO = "leximind/loadtest"
TASKS = ("/ask", "/search", "/slack/events app_mention", "/github/webhook issues")


class Platforms:
    """The Slack Web API under /api/ and the GitHub REST API elsewhere, on one fake server."""

    def __init__(self) -> None:
        self.slack = FakeSlack()
        self.github = FakeGitHub()

    def __call__(self, request: Request) -> Response:
        if request.path.startswith("/api/"):
            return self.slack.handle(request)
        return self.github(request)

    def answers_posted(self) -> tuple[int, int]:
        """Slack messages posted by the bot, and GitHub comments, so far."""
        slack = len(self.slack.called("chat.postMessage"))
        github = self.github.count("POST", r"/repos/.+/issues/\d+/comments")
        return slack, github


@pytest.fixture
def platforms() -> Iterator[tuple[Platforms, str]]:
    """The fake platform APIs on a free loopback port, and their base URL."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    fake = Platforms()
    server.expect_request(re.compile(".*")).respond_with_handler(fake)
    try:
        yield fake, server.url_for("").rstrip("/")
    finally:
        server.clear()
        server.stop()


@pytest.fixture
def served(
    tmp_path: Path, model_cache: Path, platforms: tuple[Platforms, str]
) -> Iterator[LeximindServer]:
    """`leximind serve` over three FastAPI pages, with the Slack and GitHub bots switched on."""
    _, api = platforms
    repo = make_fastapi_repo(
        tmp_path / "repo",
        files=[
            "docs/en/docs/tutorial/body.md",
            "docs/en/docs/tutorial/cors.md",
            "docs/en/docs/tutorial/testing.md",
        ],
    )
    data = tmp_path / "data"
    settings = Settings(
        _env_file=None, data_dir=data, embedding=EmbeddingSettings(cache_dir=model_cache)
    )
    index_tree(settings, read_tree(repo, max_bytes=10**6), kb="default", source=str(repo))
    env = {
        "LEXIMIND_DATA_DIR": str(data),
        "LEXIMIND_EMBEDDING__CACHE_DIR": str(model_cache),
        "LEXIMIND_BOTS__RATE_LIMIT": "0",
        "LEXIMIND_SLACK__BOT_TOKEN": BOT_TOKEN,
        "LEXIMIND_SLACK__SIGNING_SECRET": SIGNING_SECRET,
        "LEXIMIND_SLACK__API_URL": f"{api}/api/",
        "LEXIMIND_GITHUB__WEBHOOK_SECRET": WEBHOOK_SECRET,
        "LEXIMIND_GITHUB__TOKEN": FakeGitHub().token,
        "LEXIMIND_GITHUB__BOT_LOGIN": BOT_LOGIN,
        "LEXIMIND_GITHUB__API_URL": api,
        "LEXIMIND_GITHUB__RETRIES": "0",
        "LEXIMIND_GITHUB__SECONDS_BETWEEN_REQUESTS": "0",
        "LEXIMIND_GITHUB__SECONDS_BETWEEN_WRITES": "0",
    }
    with start_leximind(env, log_path=tmp_path / "serve.log") as server:
        yield server


def test_every_task_gets_2xx_answers_and_none_fails(
    served: LeximindServer, platforms: tuple[Platforms, str], tmp_path: Path
) -> None:
    """Four users for a few seconds send each kind of request; all are answered, and the bots
    go on to post answers on the fake Slack and GitHub."""
    fake, _ = platforms
    run = run_locust(
        served.url,
        users=4,
        rate_per_user=4,
        seconds=6,
        csv_prefix=tmp_path / "locust" / "run",
        options={
            "--slack-signing-secret": SIGNING_SECRET,
            "--slack-bot-user": BOT_USER,
            "--github-webhook-secret": WEBHOOK_SECRET,
            "--github-repo": REPO,
        },
    )
    assert run.returncode == 0, run.output
    for name in TASKS:
        row = run.stats.get(name)
        assert row is not None and row.requests > 0, f"no {name} requests:\n{run.output}"
        assert row.failures == 0, run.output
    wait_until(lambda: 0 not in fake.answers_posted(), what="answers on Slack and GitHub")


def test_a_selected_task_without_its_secret_refuses_to_start(tmp_path: Path) -> None:
    """Without --slack-signing-secret the Slack task would only collect 401s: locust stops."""
    run = run_locust(
        "http://127.0.0.1:9",
        users=1,
        rate_per_user=1,
        seconds=1,
        csv_prefix=tmp_path / "refused",
        tags=("ask", "slack"),
    )
    assert run.returncode != 0
    assert "--slack-signing-secret" in run.output
    assert not run.stats
