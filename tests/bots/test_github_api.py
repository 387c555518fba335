"""PyGithub against the fake API: App installation tokens, failures, concurrent calls."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from bots.github.api import GitHubAccess, GitHubApi, GitHubUnavailable
from bots.github.events import IssueRef
from tests.bots.github_kit import (
    REPO,
    api_server,
    app_access,
    github,
    harness,
    rsa_pair,
    token_access,
)
from tests.conftest import REPO_ROOT
from tests.support.fake_github import FakeGitHub, event_payload, issue

__all__ = ["api_server", "github"]


async def test_a_github_app_answers_with_an_installation_token(
    tmp_path: Path, api_server: HTTPServer, github: FakeGitHub
) -> None:
    """As an App, the bot signs a JWT, gets the payload's installation a token, posts with it."""
    private, public = rsa_pair()
    github.app_id, github.public_key = 4242, public
    h = harness(tmp_path, app_access(api_server, private))
    payload = event_payload(
        action="opened", repo=REPO, issue_data=issue(1, labels=("question",)), installation=77
    )
    assert await h.deliver("issues", payload, "d1") == 202
    assert len(github.posted(REPO, 1)) == 1
    assert github.count("POST", r"^/app/installations/77/access_tokens$") == 1
    [token] = github.issued
    [post] = [r for r in github.requests if r[1].endswith("/issues/1/comments")]
    assert post[2]["Authorization"] == f"token {token}"
    h.close()


async def test_a_wrong_app_key_is_a_clear_failure(
    api_server: HTTPServer, github: FakeGitHub
) -> None:
    """A JWT signed with another key is refused by GitHub: GitHubUnavailable, no comment."""
    _, public = rsa_pair()
    other_private, _ = rsa_pair()
    github.app_id, github.public_key = 4242, public
    api = GitHubApi(app_access(api_server, other_private))
    with pytest.raises(GitHubUnavailable, match="401"):
        await api.post_comment(IssueRef(REPO, 1, installation=77), "hello")
    assert github.posted(REPO, 1) == []
    with pytest.raises(GitHubUnavailable, match="installation"):
        await api.post_comment(IssueRef(REPO, 1), "no installation")
    api.close()


async def test_failures_become_github_unavailable_without_secrets(
    api_server: HTTPServer, github: FakeGitHub
) -> None:
    """A 500 or a bad token surfaces as GitHubUnavailable whose message holds no token."""
    github.fail_posts = True
    api = GitHubApi(token_access(api_server))
    with pytest.raises(GitHubUnavailable, match="HTTP 500") as failed:
        await api.post_comment(IssueRef(REPO, 1), "hello")
    assert "ghp_test-token" not in str(failed.value)
    api.close()
    wrong = GitHubApi(token_access(api_server, token="ghp_wrong"))
    with pytest.raises(GitHubUnavailable, match="Bad credentials"):
        await wrong.thread(IssueRef(REPO, 1), before=10**9)
    wrong.close()
    unreachable = GitHubApi(GitHubAccess(base_url="http://127.0.0.1:9", token="t", retries=0))
    with pytest.raises(GitHubUnavailable, match="ConnectionError"):
        await unreachable.post_comment(IssueRef(REPO, 1), "hello")
    unreachable.close()


async def test_a_failed_post_is_raised_not_swallowed(
    tmp_path: Path, api_server: HTTPServer, github: FakeGitHub
) -> None:
    """When the answer cannot be posted the error reaches the caller (which logs it)."""
    github.fail_posts = True
    h = harness(tmp_path, token_access(api_server))
    payload = event_payload(action="opened", repo=REPO, issue_data=issue(2, labels=("question",)))
    with pytest.raises(GitHubUnavailable):
        await h.deliver("issues", payload, "d1")
    h.close()


async def test_concurrent_comments_each_reach_their_own_issue(
    api_server: HTTPServer, github: FakeGitHub
) -> None:
    """Many posts at once through the client pool land on the right issues, once each."""
    api = GitHubApi(token_access(api_server), concurrency=4)
    ids = await asyncio.gather(
        *(api.post_comment(IssueRef(REPO, n), f"answer {n}") for n in range(1, 41))
    )
    assert len(set(ids)) == 40
    for n in range(1, 41):
        assert github.posted(REPO, n) == [f"answer {n}"]
    api.close()


def test_the_app_manifest_asks_for_what_the_adapter_uses() -> None:
    """The shipped App manifest: issues write, pull requests and metadata read, two events."""
    manifest = json.loads((REPO_ROOT / "bots" / "github_app_manifest.json").read_text())
    assert manifest["default_permissions"] == {
        "issues": "write",
        "pull_requests": "read",
        "metadata": "read",
    }
    assert sorted(manifest["default_events"]) == ["issue_comment", "issues"]
    assert manifest["hook_attributes"]["url"].endswith("/github/webhook")
