"""A small fake of the GitHub REST API for pytest-httpserver: issues, comments, reactions
with ETags, personal tokens and GitHub App installation tokens (JWTs verified)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from werkzeug import Request, Response

BOT_LOGIN = "leximind-bot"


def signed_headers(secret: str, body: bytes, *, event: str, delivery: str) -> dict[str, str]:
    """The headers GitHub sends with a delivery, signed with the webhook secret."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "X-Hub-Signature-256": f"sha256={digest}",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "Content-Type": "application/json",
    }


def user(login: str, uid: int, kind: str = "User") -> dict[str, Any]:
    return {"login": login, "id": uid, "type": kind}


@dataclass
class FakeGitHub:
    """The GitHub REST API as far as Leximind uses it; a werkzeug handler.

    With `app_id` and `public_key` set, only installation tokens obtained with a JWT signed
    by the App's key are accepted; otherwise only `token`.
    """

    token: str = "ghp_test-token"
    app_id: int | None = None
    public_key: bytes | None = None
    comments: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)
    reactions: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    issues: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    fail_posts: bool = False
    issued: set[str] = field(default_factory=set)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def posted(self, repo: str, number: int) -> list[str]:
        """Bodies of the comments the bot posted on an issue."""
        with self._lock:
            found = self.comments.get((repo, number), [])
            return [c["body"] for c in found if c["user"]["login"] == BOT_LOGIN]

    def add_comment(
        self,
        repo: str,
        number: int,
        body: str,
        author: dict[str, Any],
        *,
        association: str = "NONE",
    ) -> int:
        with self._lock:
            cid = next(self._ids)
            self.comments.setdefault((repo, number), []).append(
                {
                    "id": cid,
                    "body": body,
                    "user": author,
                    "created_at": _now(),
                    "author_association": association,
                    "html_url": f"https://github.com/{repo}/issues/{number}#issuecomment-{cid}",
                }
            )
            return cid

    def count(self, method: str, pattern: str) -> int:
        with self._lock:
            return sum(1 for m, p, _ in self.requests if m == method and re.search(pattern, p))

    def __call__(self, request: Request) -> Response:
        with self._lock:
            self.requests.append((request.method, request.path, dict(request.headers)))
        path = request.path
        if found := re.fullmatch(r"/app/installations/(\d+)/access_tokens", path):
            return self._installation_token(request, int(found.group(1)))
        if found := re.fullmatch(r"/repos/([^/]+/[^/]+)/installation", path):
            return self._installation(request)
        if not self._authorised(request):
            return _json({"message": "Bad credentials"}, 401)
        if found := re.fullmatch(r"/repos/([^/]+/[^/]+)/issues/(\d+)/comments", path):
            repo, number = found.group(1), int(found.group(2))
            if request.method == "POST":
                return self._post_comment(request, repo, number)
            with self._lock:
                return _json(list(self.comments.get((repo, number), [])))
        if found := re.fullmatch(r"/repos/[^/]+/[^/]+/issues/comments/(\d+)/reactions", path):
            return self._reactions(request, int(found.group(1)))
        if found := re.fullmatch(r"/repos/([^/]+/[^/]+)/issues", path):
            return self._issues(request, found.group(1))
        if found := re.fullmatch(r"/repos/([^/]+/[^/]+)/issues/(\d+)", path):
            return self._issue(request, found.group(1), int(found.group(2)))
        return _json({"message": "Not Found"}, 404)

    def add_issue(self, repo: str, data: dict[str, Any]) -> dict[str, Any]:
        """Stores an issue (see `issue`); the API fills in its `url` when it is read."""
        with self._lock:
            self.issues.setdefault(repo, []).append(data)
        return data

    def _issues(self, request: Request, repo: str) -> Response:
        if request.method == "POST":
            sent = json.loads(request.get_data())
            with self._lock:
                number = 1 + max((i["number"] for i in self.issues.get(repo, [])), default=0)
            made = issue(number, title=sent["title"], body=sent.get("body") or "")
            made["labels"] = [{"name": name} for name in sent.get("labels", [])]
            made["user"] = user(BOT_LOGIN, 99)
            self.add_issue(repo, made)
            return _json(self._out(request, repo, made), 201)
        state = request.args.get("state", "open")
        since = request.args.get("since")
        wanted = {n for n in request.args.get("labels", "").split(",") if n}
        with self._lock:
            found = [
                self._out(request, repo, i)
                for i in self.issues.get(repo, [])
                if state in ("all", i.get("state", "open"))
                and (not since or i.get("updated_at", _now()) >= since)
                and wanted <= {label["name"] for label in i["labels"]}
            ]
        return _json(found)

    def _issue(self, request: Request, repo: str, number: int) -> Response:
        with self._lock:
            found = next((i for i in self.issues.get(repo, []) if i["number"] == number), None)
            if found is None:
                return _json({"message": "Not Found"}, 404)
            if request.method == "PATCH":
                sent = json.loads(request.get_data())
                found.update({k: sent[k] for k in ("title", "body", "state") if k in sent})
                found["updated_at"] = _now()
            return _json(self._out(request, repo, found))

    @staticmethod
    def _out(request: Request, repo: str, data: dict[str, Any]) -> dict[str, Any]:
        base = request.host_url.rstrip("/")
        return {"url": f"{base}/repos/{repo}/issues/{data['number']}", **data}

    def _authorised(self, request: Request) -> bool:
        scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "token":
            return False
        return credential in self.issued if self.app_id else credential == self.token

    def _app_jwt_ok(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or self.public_key is None:
            return False
        try:
            claims = jwt.decode(token, self.public_key, algorithms=["RS256"])
        except jwt.InvalidTokenError:
            return False
        return str(claims.get("iss")) == str(self.app_id)

    def _installation_token(self, request: Request, installation: int) -> Response:
        if request.method != "POST" or not self._app_jwt_ok(request):
            return _json({"message": "A JSON web token could not be decoded"}, 401)
        token = f"ghs_installation-{installation}-{len(self.issued)}"
        with self._lock:
            self.issued.add(token)
        expires = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return _json({"token": token, "expires_at": expires, "permissions": {}}, 201)

    def _installation(self, request: Request) -> Response:
        if not self._app_jwt_ok(request):
            return _json({"message": "A JSON web token could not be decoded"}, 401)
        return _json({"id": 77, "app_id": self.app_id, "account": user("octo", 1)})

    def _post_comment(self, request: Request, repo: str, number: int) -> Response:
        if self.fail_posts:
            return _json({"message": "Server Error"}, 500)
        body = json.loads(request.get_data())["body"]
        cid = self.add_comment(repo, number, body, user(BOT_LOGIN, 99))
        with self._lock:
            comment = self.comments[(repo, number)][-1]
        assert comment["id"] == cid
        return _json(comment, 201)

    def _reactions(self, request: Request, comment_id: int) -> Response:
        with self._lock:
            known = {c["id"] for thread in self.comments.values() for c in thread}
            if comment_id not in self.reactions and comment_id not in known:
                return _json({"message": "Not Found"}, 404)
            items = list(self.reactions.get(comment_id, []))
        data = json.dumps(items)
        etag = '"' + hashlib.sha1(data.encode()).hexdigest() + '"'
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        return Response(data, status=200, headers={"ETag": etag}, content_type="application/json")


def reaction(login: str, uid: int, content: str, minute: int = 0) -> dict[str, Any]:
    """A reaction made `minute` minutes into the hour before now."""
    made = datetime.now(UTC) - timedelta(hours=1) + timedelta(minutes=minute)
    at = made.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "id": uid * 100 + minute,
        "user": user(login, uid),
        "content": content,
        "created_at": at,
    }


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, content_type="application/json")


def issue(
    number: int,
    *,
    title: str = "How do I run the tests?",
    body: str = "I cloned the repo and want to run the test suite.",
    labels: tuple[str, ...] = (),
    author: dict[str, Any] | None = None,
    pull_request: bool = False,
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "number": number,
        "title": title,
        "body": body,
        "labels": [{"name": name} for name in labels],
        "user": author or user("newcomer", 501),
        "state": "open",
        "html_url": f"https://github.com/o/r/issues/{number}",
        "updated_at": _now(),
    }
    if pull_request:
        found["pull_request"] = {"url": f"https://example.invalid/pulls/{number}"}
    return found


def event_payload(
    *,
    action: str,
    repo: str,
    issue_data: dict[str, Any],
    sender: dict[str, Any] | None = None,
    installation: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "action": action,
        "repository": {"full_name": repo},
        "issue": issue_data,
        "sender": sender or issue_data["user"],
        **extra,
    }
    if installation is not None:
        payload["installation"] = {"id": installation}
    return payload
