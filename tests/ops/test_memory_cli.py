"""`leximind github import-answers` learns maintainers' accepted replies into the memory (S3 and
LanceDB); `leximind memory list|show|delete` manage the entries."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from bots.github.api import GitHubApi
from core.memory import github_entry_id
from core.object_keys import memory_key
from ops import wiring
from ops.cli import app
from ops.wiring import Process, open_services_sync
from tests.adapters.test_s3_storage import new_bucket
from tests.bots.github_kit import api_server, github  # noqa: F401 - fixtures
from tests.support.fake_github import FakeGitHub, issue, user
from tests.support.seaweedfs import SeaweedServer

runner = CliRunner()
REPO = "octo/widgets"
ANSWER = "Run `make test`; it installs the dev dependencies first."


@pytest.fixture
def env(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    model_cache: Path,
    seaweedfs: SeaweedServer,
    api_server: HTTPServer,  # noqa: F811
) -> None:
    monkeypatch.chdir(tmp_path)  # no developer .env is read
    for name, value in {
        "DATA_DIR": str(tmp_path / "data"),
        "EMBEDDING__CACHE_DIR": str(model_cache),
        "STORAGE__BACKEND": "s3",
        "STORAGE__ENDPOINT": seaweedfs.endpoint,
        "STORAGE__ACCESS_KEY": seaweedfs.access_key,
        "STORAGE__SECRET_KEY": seaweedfs.secret_key,
        "STORAGE__SECURE": "false",
        "STORAGE__BUCKET": new_bucket(),
        "GITHUB__TOKEN": "ghp_test-token",
        "GITHUB__API_URL": api_server.url_for("").rstrip("/"),
        "GITHUB__RETRIES": "0",
        "GITHUB__SECONDS_BETWEEN_REQUESTS": "0",
        "GITHUB__SECONDS_BETWEEN_WRITES": "0",
        "MEMORY__GITHUB_REPOS": json.dumps([REPO]),
    }.items():
        monkeypatch.setenv(f"LEXIMIND_{name}", value)


def closed(number: int, *, reason: str = "completed", **kw: object) -> dict[str, object]:
    data = issue(number, **kw)  # type: ignore[arg-type]
    data.update(
        state="closed",
        state_reason=reason,
        closed_at="2026-11-20T10:00:00Z",
        html_url=f"https://github.com/{REPO}/issues/{number}",
    )
    return data


def seed(github: FakeGitHub) -> None:  # noqa: F811
    github.add_issue(REPO, closed(1, title="How do I run the test suite?"))
    github.add_comment(REPO, 1, "Same question here", user("other", 502))
    github.add_comment(REPO, 1, ANSWER, user("maint", 7), association="MEMBER")
    github.add_issue(REPO, closed(2, title="Add a GUI", reason="not_planned"))
    github.add_comment(REPO, 2, "Out of scope.", user("maint", 7), association="OWNER")
    github.add_issue(REPO, closed(3, title="Why is the build slow?"))
    github.add_comment(REPO, 3, "Use ccache.", user("helper", 9), association="CONTRIBUTOR")
    github.add_issue(REPO, closed(4, title="Fix typo", pull_request=True))
    github.add_issue(REPO, issue(5, title="Still open"))


def test_import_answers_then_list_show_delete(env: None, github: FakeGitHub) -> None:  # noqa: F811
    """Only the maintainer's reply on an issue closed as completed becomes an entry; a second
    import changes nothing; the entry leads a paraphrase until it is deleted."""
    seed(github)
    first = runner.invoke(app, ["github", "import-answers", "--kb", "widgets"])
    assert first.exit_code == 0, first.output
    assert "imported 1, unchanged 0, without a maintainer's answer 2" in first.output
    again = runner.invoke(app, ["github", "import-answers", "--kb", "widgets"])
    assert "imported 0, unchanged 1," in again.output

    entry_id = github_entry_id(REPO, 1)
    with open_services_sync(wiring.load_settings(), "cli") as (process, _):
        services = process.services
        record = json.loads(services.object_store.get(memory_key("widgets", entry_id)))
        assert record["answer"] == ANSWER and record["endorsed_by"] == ["maint"]
        assert record["link"].startswith(f"https://github.com/{REPO}/issues/1#issuecomment-")
        assert services.memory is not None
        [hit] = asyncio.run(services.memory.recall("how can I run the tests?", kb="widgets"))
        assert hit.entry.id == entry_id and hit.score >= wiring.load_settings().memory.threshold

        listed = runner.invoke(app, ["memory", "list", "--kb", "widgets"])
        assert "github-octo" in listed.output and "1 entries" in listed.output
        shown = runner.invoke(app, ["memory", "show", entry_id, "--kb", "widgets"])
        assert json.loads(shown.stdout[shown.stdout.index("{") :])["source"] == "github"

        assert runner.invoke(app, ["memory", "delete", entry_id, "--kb", "widgets"]).exit_code == 0
        assert asyncio.run(services.memory.recall("how can I run the tests?", kb="widgets")) == []
        gone = runner.invoke(app, ["memory", "delete", entry_id, "--kb", "widgets"])
        assert gone.exit_code == 1 and "no memory entry" in gone.output


def test_import_needs_repositories(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without configured repositories the import is refused in one line."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEXIMIND_DATA_DIR", str(tmp_path / "data"))
    result = runner.invoke(app, ["github", "import-answers"])
    assert result.exit_code == 1
    assert "LEXIMIND_MEMORY__GITHUB_REPOS" in result.output
    assert "Traceback" not in result.output


def test_import_answers_uses_the_process_github_client(
    env: None,
    github: FakeGitHub,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The import asks GitHub through the client open_services holds for the process (built
    once, closed once with the rest), not one of its own."""
    seed(github)
    built: list[GitHubApi] = []
    closed_apis: list[GitHubApi] = []
    handed_out: list[GitHubApi] = []
    real_init, real_close, real_get = GitHubApi.__init__, GitHubApi.close, Process.github_api

    def init(self: GitHubApi, *args: Any, **kwargs: Any) -> None:
        built.append(self)
        real_init(self, *args, **kwargs)

    def close(self: GitHubApi) -> None:
        closed_apis.append(self)
        real_close(self)

    def get(self: Process) -> GitHubApi:
        handed_out.append(real_get(self))
        return handed_out[-1]

    monkeypatch.setattr(GitHubApi, "__init__", init)
    monkeypatch.setattr(GitHubApi, "close", close)
    monkeypatch.setattr(Process, "github_api", get)
    result = runner.invoke(app, ["github", "import-answers", "--kb", "widgets"])
    assert result.exit_code == 0, result.output
    assert "imported 1," in result.output
    assert len(built) == 1 and handed_out == built and closed_apis == built
