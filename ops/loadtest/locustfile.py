"""Locust users for `leximind serve`: questions to /ask and /search, signed Slack `app_mention`
events and signed GitHub `issues` webhooks, in a weighted mix.

    locust -f ops/loadtest/locustfile.py --host http://127.0.0.1:8000 \\
        --headless -u 10 -r 10 -t 60s --rate-per-user 1 --tags ask search

Each user runs one task per 1/`--rate-per-user` seconds (Locust's `constant_throughput`), so
`-u N --rate-per-user R` offers exactly N*R requests/s while the server keeps up; a user
whose request takes longer than its period falls behind, which is what saturation looks like.
`--rate-per-user 0` sends as fast as the answers come back. Choose tasks with `--tags`
(ask, search, slack, github). Slack and GitHub tasks sign with the secrets the server
verifies (`--slack-signing-secret`, `--github-webhook-secret`, or the LOADTEST_* variables)
and make the bot post real answers to the channel and repository named: point a test
deployment's Slack and GitHub API URLs at a fake, or leave those tags out.

Only non-2xx answers, unexpected bodies and (with `--expect-model`) extractive fallbacks are
counted as failures; Locust's own CSV and summary report them by request name.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import logging
import random
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from locust import FastHttpUser, events, tag, task
from locust.argument_parser import LocustArgumentParser
from locust.env import Environment
from locust.user.wait_time import constant, constant_throughput

_log = logging.getLogger(__name__)

QUESTIONS = (
    "How do I install it?",
    "How do I run the tests?",
    "Where do I start if I want to contribute?",
    "How do I declare a request body?",
    "How do I make a query parameter optional?",
    "How do I run background tasks after returning a response?",
    "How do I configure CORS?",
    "How do I add extra responses to the OpenAPI docs?",
    "How do I declare path parameters with types?",
    "How do I deploy the application with Docker?",
    "What does the async keyword change in a path operation?",
    "How do I handle startup and shutdown events?",
)
_ids = itertools.count(1)


def _options(parser: LocustArgumentParser) -> None:
    """The locustfile's own flags; each also reads a LOADTEST_* variable."""
    parser.add_argument(
        "--questions",
        default="",
        env_var="LOADTEST_QUESTIONS",
        help="file of questions: one a line, or JSON lines with a 'question'",
    )
    parser.add_argument(
        "--kb",
        default="",
        env_var="LOADTEST_KB",
        help="knowledge base for /ask and /search; default: the server's",
    )
    parser.add_argument(
        "--rate-per-user",
        type=float,
        default=1.0,
        env_var="LOADTEST_RATE",
        help="tasks per second of each user (constant_throughput); 0: no pause",
    )
    parser.add_argument(
        "--expect-model",
        default="",
        env_var="LOADTEST_EXPECT_MODEL",
        help="count /ask answers by any other model (the extractive fallback) as failures",
    )
    parser.add_argument(
        "--slack-signing-secret",
        default="",
        is_secret=True,
        env_var="LOADTEST_SLACK_SIGNING_SECRET",
    )
    parser.add_argument(
        "--slack-bot-user",
        default="ULEXIMIND",
        env_var="LOADTEST_SLACK_BOT_USER",
        help="the bot's Slack user id, mentioned in each event",
    )
    parser.add_argument("--slack-team", default="TLOADTEST", env_var="LOADTEST_SLACK_TEAM")
    parser.add_argument("--slack-channel", default="CLOADTEST", env_var="LOADTEST_SLACK_CHANNEL")
    parser.add_argument(
        "--github-webhook-secret",
        default="",
        is_secret=True,
        env_var="LOADTEST_GITHUB_WEBHOOK_SECRET",
    )
    parser.add_argument(
        "--github-repo", default="leximind/loadtest", env_var="LOADTEST_GITHUB_REPO"
    )
    parser.add_argument("--github-label", default="question", env_var="LOADTEST_GITHUB_LABEL",
                       help="the label that makes an issue a question")  # fmt: skip


def _enabled(name: str, options: Any) -> bool:
    """Whether the tasks tagged `name` run under the --tags / --exclude-tags given."""
    tags = options.tags or None
    return (tags is None or name in tags) and name not in (options.exclude_tags or ())


def _check(environment: Environment, **_: Any) -> None:
    """Refuses to start when a selected task has no secret to sign its requests with."""
    options = environment.parsed_options
    if options is None:
        return
    for name, secret, flag in (
        ("slack", options.slack_signing_secret, "--slack-signing-secret"),
        ("github", options.github_webhook_secret, "--github-webhook-secret"),
    ):
        if _enabled(name, options) and not secret:
            raise SystemExit(
                f"the {name} task needs {flag}, or leave it out: --exclude-tags {name}"
            )


def _listen(hook: Any, handler: Callable[..., None]) -> None:
    """Adds a listener to a Locust event hook (whose own methods are untyped)."""
    hook.add_listener(handler)


_listen(events.init_command_line_parser, _options)
_listen(events.init, _check)


def read_questions(path: str) -> list[str]:
    """Questions from a file (plain lines, or JSON lines with a `question` field), else the
    built-in list."""
    if not path:
        return list(QUESTIONS)
    found = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("{"):
            line = str(json.loads(line).get("question", "")).strip()
        if line:
            found.append(line)
    if not found:
        raise SystemExit(f"no questions in {path}")
    return found


def slack_event(question: str, *, options: Any) -> str:
    """An Events API `event_callback` carrying an `app_mention` by a new user in a new thread."""
    n = next(_ids)
    ts = f"{int(time.time())}.{n % 1_000_000:06d}"
    event = {
        "type": "app_mention",
        "user": f"ULOAD{uuid.uuid4().hex[:10].upper()}",
        "text": f"<@{options.slack_bot_user}> {question}",
        "ts": ts,
        "channel": options.slack_channel,
        "event_ts": ts,
        "team": options.slack_team,
    }
    body = {
        "team_id": options.slack_team,
        "type": "event_callback",
        "event_id": f"EvLOAD{uuid.uuid4().hex[:16].upper()}",
        "event_time": int(time.time()),
        "event": event,
    }
    return json.dumps(body)


def slack_headers(body: str, secret: str) -> dict[str, str]:
    """Slack's v0 signature: HMAC-SHA256 of `v0:<timestamp>:<body>` with the signing secret."""
    stamp = str(int(time.time()))
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256)
    return {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest.hexdigest()}",
    }


def github_issue(question: str, *, options: Any) -> str:
    """An `issues` `opened` delivery: a new issue with the question label, by a new user."""
    number = 1_000_000 + random.randrange(1_000_000_000)
    login = f"loadtest-{uuid.uuid4().hex[:8]}"
    author = {"login": login, "id": number, "type": "User"}
    payload = {
        "action": "opened",
        "repository": {"full_name": options.github_repo},
        "issue": {
            "number": number,
            "title": question,
            "body": "",
            "labels": [{"name": options.github_label}],
            "user": author,
        },
        "sender": author,
    }
    return json.dumps(payload)


def github_headers(body: str, secret: str) -> dict[str, str]:
    """GitHub's delivery headers, signed with X-Hub-Signature-256."""
    digest = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": "issues",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": f"sha256={digest}",
    }


class _Checked(Protocol):
    """What a request under `catch_response=True` offers (Locust leaves it untyped)."""

    status_code: int | None
    text: str | None

    def json(self) -> Any: ...
    def success(self) -> None: ...
    def failure(self, exc: object) -> None: ...


def _expect(response: _Checked, status: int, check: Callable[[Any], str | None]) -> None:
    """Marks the request failed unless it has `status` and `check(json)` finds no problem."""
    if response.status_code != status:
        response.failure(f"HTTP {response.status_code}: {(response.text or '')[:200]}")
        return
    try:
        problem = check(response.json())
    except ValueError:
        problem = "the body is not JSON"
    if problem:
        response.failure(problem)
    else:
        response.success()


class LeximindUser(FastHttpUser):
    """A newcomer asking questions: through the API, a Slack mention or a GitHub issue."""

    # Every request is a new question: a generous timeout shows slow answers as latency,
    # not as failures.
    network_timeout = 120.0
    connection_timeout = 10.0

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        options = environment.parsed_options
        assert options is not None, "run by the locust command"
        self.options = options
        self.questions = read_questions(options.questions)
        rate = float(options.rate_per_user)
        self._pacing = constant_throughput(rate) if rate > 0 else constant(0)

    def on_start(self) -> None:
        """Waits a random part of one period first: users spawned together would otherwise
        send in lockstep, bursts of N requests once a period instead of a steady rate."""
        rate = float(self.options.rate_per_user)
        if rate > 0:
            time.sleep(random.uniform(0, 1 / rate))  # gevent-patched: yields to other users

    def wait_time(self) -> float:
        """The pause that keeps this user at --rate-per-user tasks per second."""
        return self._pacing(self)

    def _question_body(self, **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"question": random.choice(self.questions), **extra}
        if self.options.kb:
            body["kb"] = self.options.kb
        return body

    @tag("ask")
    @task(6)
    def ask(self) -> None:
        """POST /ask; the answer must have text and, with --expect-model, come from that model
        unless Leximind declined to answer (weak evidence: no model is asked)."""
        expected = self.options.expect_model

        def check(body: Any) -> str | None:
            if not isinstance(body, dict) or not body.get("answer"):
                return "no answer in the body"
            if expected and not body.get("abstained") and body.get("model") != expected:
                return f"answered by {body.get('model')!r}, not {expected!r}"
            return None

        with self.client.post(
            "/ask", json=self._question_body(), name="/ask", catch_response=True
        ) as response:
            _expect(response, 200, check)

    @tag("search")
    @task(3)
    def search(self) -> None:
        """POST /search; the body must list sources."""

        def check(body: Any) -> str | None:
            ok = isinstance(body, dict) and isinstance(body.get("sources"), list)
            return None if ok else "no sources list in the body"

        with self.client.post(
            "/search", json=self._question_body(k=5), name="/search", catch_response=True
        ) as response:
            _expect(response, 200, check)

    @tag("slack")
    @task(1)
    def slack_mention(self) -> None:
        """A signed `app_mention`; Slack wants a 200 within 3 s, the answer comes later."""
        body = slack_event(random.choice(self.questions), options=self.options)
        headers = slack_headers(body, self.options.slack_signing_secret)
        with self.client.post(
            "/slack/events",
            data=body,
            headers=headers,
            name="/slack/events app_mention",
            catch_response=True,
        ) as response:
            if response.status_code == 200:
                response.success()
            else:
                response.failure(f"HTTP {response.status_code}: {(response.text or '')[:200]}")

    @tag("github")
    @task(1)
    def github_issue_opened(self) -> None:
        """A signed `issues` webhook; accepted with 202 and answered in the background."""
        body = github_issue(random.choice(self.questions), options=self.options)
        headers = github_headers(body, self.options.github_webhook_secret)

        def check(reply: Any) -> str | None:
            return None if isinstance(reply, dict) else "the body is not an object"

        with self.client.post(
            "/github/webhook",
            data=body,
            headers=headers,
            name="/github/webhook issues",
            catch_response=True,
        ) as response:
            _expect(response, 202, check)
