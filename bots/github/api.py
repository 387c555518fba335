"""The GitHub REST API through PyGithub: post answers, read threads and reactions.

PyGithub is synchronous and one `Github` client must not serve two threads at once (its
connection object holds the request being sent), so calls run through `asyncio.to_thread`
on clients lent from a small pool, one call per client at a time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from github import Auth, Github, GithubException, GithubIntegration, GithubRetry
from github.GithubObject import NotSet

from bots.github.events import IssueRef, ThreadPost
from core.errors import ServiceUnavailable
from core.memory import ClosedIssue, IssueReply

_log = logging.getLogger(__name__)

T = TypeVar("T")
_NEXT_PAGE = re.compile(r'<([^>]+)>;\s*rel="next"')


class GitHubUnavailable(ServiceUnavailable):
    """The GitHub API refused a call or could not be reached."""


@dataclass(frozen=True, slots=True)
class GitHubAccess:
    """Where the API is and how to sign in: a token, or a GitHub App's id and private key.

    The intervals are PyGithub's throttles per client (0 turns them off); `retries` 0 turns
    PyGithub's retrying of rate limits and server errors off.
    """

    base_url: str = "https://api.github.com"
    token: str | None = field(default=None, repr=False)
    app_id: int | None = None
    private_key: str | None = field(default=None, repr=False)
    timeout: int = 15
    retries: int = 10
    seconds_between_requests: float = 0.25
    seconds_between_writes: float = 1.0

    def __post_init__(self) -> None:
        if (self.token is None) == (self.app_id is None or self.private_key is None):
            raise ValueError("give either a token or an App id with its private key")

    @property
    def is_app(self) -> bool:
        return self.app_id is not None

    def options(self) -> dict[str, Any]:
        """Keyword arguments shared by every PyGithub client."""
        return {
            "base_url": self.base_url.rstrip("/"),
            "timeout": self.timeout,
            "retry": GithubRetry(total=self.retries) if self.retries else None,
            "seconds_between_requests": self.seconds_between_requests or None,
            "seconds_between_writes": self.seconds_between_writes or None,
        }


@dataclass(frozen=True, slots=True)
class Reaction:
    """One reaction on a comment: who (GitHub user id), which content (`+1`), when."""

    user_id: str
    content: str
    created_at: str


@dataclass(frozen=True, slots=True)
class Reactions:
    """The reactions on a comment and the ETag to send next time."""

    etag: str | None
    items: tuple[Reaction, ...]


class GitHubApi:
    """What the adapter does on GitHub; every failure becomes GitHubUnavailable."""

    def __init__(self, access: GitHubAccess, *, concurrency: int = 8) -> None:
        self._access = access
        self._slots = asyncio.Semaphore(concurrency)
        self._idle: dict[int | None, list[Github]] = {}
        self._app = (
            Auth.AppAuth(access.app_id, access.private_key)
            if access.app_id is not None and access.private_key is not None
            else None
        )

    def _client(self, installation: int | None) -> Github:
        if self._app is None:
            assert self._access.token is not None
            auth: Auth.Auth = Auth.Token(self._access.token)
        elif installation is None:
            raise GitHubUnavailable("a GitHub App needs the installation to act for")
        else:
            auth = self._app.get_installation_auth(installation)
        return Github(auth=auth, lazy=True, **self._access.options())

    async def _call(self, installation: int | None, work: Callable[[Github], T]) -> T:
        async with self._slots:
            key = installation if self._app is not None else None
            idle = self._idle.setdefault(key, [])
            client = idle.pop() if idle else self._client(key)
            try:
                return await _translated(asyncio.to_thread(work, client))
            finally:
                idle.append(client)

    async def post_comment(self, issue: IssueRef, body: str) -> int:
        """Comments on an issue or pull request; returns the new comment's id."""

        def post(gh: Github) -> int:
            comment = gh.get_repo(issue.repo).get_issue(issue.number).create_comment(body)
            return int(comment.id)

        return await self._call(issue.installation, post)

    async def thread(self, issue: IssueRef, *, before: int) -> list[ThreadPost]:
        """The issue's comments older than comment `before`, oldest first."""

        def read(gh: Github) -> list[ThreadPost]:
            posts = []
            for c in gh.get_repo(issue.repo).get_issue(issue.number).get_comments():
                if c.id >= before:
                    break
                user = c.user
                posts.append(ThreadPost(c.id, user.login, user.type == "Bot", c.body or ""))
            return posts

        return await self._call(issue.installation, read)

    async def reactions(
        self, repo: str, comment_id: int, *, etag: str | None, installation: int | None
    ) -> Reactions | None:
        """The reactions on an issue comment, or None when they did not change since `etag`.

        A conditional request answered 304 does not count against GitHub's rate limit.
        """

        def read(gh: Github) -> Reactions | None:
            url: str | None = f"/repos/{repo}/issues/comments/{comment_id}/reactions"
            headers = {"If-None-Match": etag} if etag else {}
            first_etag: str | None = None
            items: list[Reaction] = []
            while url:
                status, answer_headers, body = gh.requester.requestJson(
                    "GET",
                    url,
                    parameters={"per_page": 100} if "?" not in url else None,
                    headers=headers,
                )
                if status == 304:
                    return None
                data = _json(body)
                if status >= 400 or not isinstance(data, list):
                    raise GithubException(status, data, answer_headers)
                if first_etag is None:
                    first_etag = answer_headers.get("etag")
                items.extend(_reaction(r) for r in data)
                found = _NEXT_PAGE.search(answer_headers.get("link", ""))
                url, headers = (found.group(1) if found else None), {}
            return Reactions(first_etag, tuple(items))

        return await self._call(installation, read)

    async def closed_issues(
        self, repo: str, *, since: datetime | None, installation: int | None
    ) -> list[ClosedIssue]:
        """Closed issues (not pull requests) updated since `since`, with their comments."""

        def read(gh: Github) -> list[ClosedIssue]:
            found = []
            listing = gh.get_repo(repo).get_issues(state="closed", since=since or NotSet)
            for item in listing:
                if item.pull_request is not None:
                    continue
                replies = tuple(
                    IssueReply(
                        author=c.user.login,
                        association=str(c.author_association or "NONE"),
                        is_bot=c.user.type == "Bot",
                        body=c.body or "",
                        created_at=_iso(c.created_at),
                        url=c.html_url or "",
                    )
                    for c in item.get_comments()
                )
                found.append(
                    ClosedIssue(
                        repo=repo,
                        number=item.number,
                        title=item.title or "",
                        body=item.body or "",
                        author=item.user.login,
                        state_reason=item.state_reason,
                        closed_at=_iso(item.closed_at),
                        url=item.html_url or "",
                        replies=replies,
                    )
                )
            return found

        return await self._call(installation, read)

    async def keep_issue(
        self,
        repo: str,
        *,
        marker: str,
        title: str,
        body: str,
        label: str,
        installation: int | None,
    ) -> tuple[int, bool]:
        """Opens an issue, or updates in place the open one labelled `label` whose body holds
        `marker`; returns its number and whether it was opened now."""

        def keep(gh: Github) -> tuple[int, bool]:
            repository = gh.get_repo(repo)
            for item in repository.get_issues(state="open", labels=[label]):
                if marker in (item.body or ""):
                    if item.title != title or item.body != body:
                        item.edit(title=title, body=body)
                    return item.number, False
            made = repository.create_issue(title=title, body=body, labels=[label])
            return made.number, True

        return await self._call(installation, keep)

    async def installation_for(self, repo: str) -> int | None:
        """The App installation on a repository; None when signed in with a token."""
        if self._app is None:
            return None
        app, options = self._app, self._access.options()
        owner, name = repo.split("/", 1)

        def find() -> int:
            with GithubIntegration(auth=app, **options) as integration:
                return int(integration.get_repo_installation(owner, name).id)

        async with self._slots:
            return await _translated(asyncio.to_thread(find))

    def close(self) -> None:
        for clients in self._idle.values():
            for client in clients:
                client.close()
        self._idle.clear()


async def _translated(call: Awaitable[T]) -> T:
    try:
        return await call
    except (GithubException, OSError) as exc:
        raise GitHubUnavailable(f"GitHub API: {_describe(exc)}") from exc


def _reaction(data: Any) -> Reaction:
    item = data if isinstance(data, dict) else {}
    user = item.get("user")
    user = user if isinstance(user, dict) else {}
    return Reaction(
        user_id=str(user.get("id", "")),
        content=str(item.get("content", "")),
        created_at=str(item.get("created_at", "")),
    )


def _iso(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat() if value is not None else ""


def _json(body: str) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


def _describe(exc: Exception) -> str:
    """A short reason without the request headers (which carry the credentials)."""
    if isinstance(exc, GithubException):
        message = exc.data.get("message") if isinstance(exc.data, dict) else None
        return f"HTTP {exc.status}" + (f" ({message})" if message else "")
    return type(exc).__name__
