"""GitHub webhook payloads read into plain values, and the text rules of GitHub comments."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bots.rendering import FAILED, FEEDBACK_HINT, MARKDOWN, RATE_LIMITED
from core.errors import LeximindError
from core.types import Turn

_ZERO_WIDTH_SPACE = "\u200b"
# Fenced blocks and inline code spans: GitHub pings nobody inside them, and code such as
# `@app.get` must stay intact.
_CODE = re.compile(r"(```.*?```|~~~.*?~~~|`[^`\n]+`)", re.S)
# `@user`, `@org/team`; not an e-mail address, a path or a mention already defused.
_PING = re.compile(r"(?<![\w/.+@`\\-])@(?=[A-Za-z0-9])")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
_POST_LIMIT = 2000
CANNOT_ANSWER = "I can't answer that:"  # how BotAnswerer starts an INVALID reply


class MalformedEvent(LeximindError, ValueError):
    """A signed webhook payload that lacks a field its event always has."""


def signature_matches(secret: bytes, body: bytes, header: str | None) -> bool:
    """Whether `X-Hub-Signature-256` is the HMAC-SHA256 of the raw body under the secret."""
    if not header:
        return False
    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().encode("utf-8", "replace"))


@dataclass(frozen=True, slots=True)
class IssueRef:
    """An issue or pull request, and the App installation that may write to it."""

    repo: str
    number: int
    installation: int | None = None

    @property
    def owner(self) -> str:
        return self.repo.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.repo.split("/", 1)[1]


@dataclass(frozen=True, slots=True)
class GitHubAsk:
    """A question found in a webhook: where to answer, who asked and what.

    `comment_id` is None for a question asked by opening or labelling an issue; `text` is
    the question itself (empty for a bare mention, which asks about the thread so far),
    `issue_text` the issue's title and body, where the thread starts.
    """

    issue: IssueRef
    user_id: str
    text: str
    issue_text: str
    comment_id: int | None = None
    pull_request: bool = False

    @property
    def content_key(self) -> str | None:
        """The delivery key that makes an issue answered once, whichever event came first."""
        if self.comment_id is None:
            return f"github:{self.issue.repo}#{self.issue.number}:answered"
        return None


@dataclass(frozen=True, slots=True)
class ThreadPost:
    """One comment of an issue thread, as far as the history needs it."""

    id: int
    login: str
    is_bot: bool
    body: str


class BotIdentity:
    """The bot's own login and how people mention it.

    An App posts as `name[bot]` and is mentioned as `@name`; a machine user is both `name`.
    """

    def __init__(self, login: str) -> None:
        self.login = login.strip()
        self.name = self.login.removesuffix("[bot]")
        self._mention = re.compile(
            rf"(?<![\w/.@`-])@{re.escape(self.name)}(?:\[bot\])?(?![\w-])", re.I
        )

    def is_self(self, login: str) -> bool:
        return login.casefold() in {self.name.casefold(), f"{self.name}[bot]".casefold()}

    def is_bot_or_self(self, user: Mapping[str, Any]) -> bool:
        """True for any bot account (type `Bot`) and for the bot's own login."""
        return str(user.get("type", "")) == "Bot" or self.is_self(str(user.get("login", "")))

    def mentioned_in(self, text: str) -> bool:
        return bool(self._mention.search(_CODE.sub(" ", text)))

    def strip_mention(self, text: str) -> str:
        return self._mention.sub("", text).strip()


def _section(payload: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = payload.get(key)
    if not isinstance(value, Mapping):
        raise MalformedEvent(f"the payload has no {key!r} object")
    return value


def _number(section: Mapping[str, Any], key: str) -> int:
    value = section.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedEvent(f"the payload has no integer {key!r}")
    return value


def _issue_ref(payload: Mapping[str, Any]) -> IssueRef:
    repo = _section(payload, "repository").get("full_name")
    if not isinstance(repo, str) or repo.count("/") != 1:
        raise MalformedEvent("the payload has no repository full_name")
    installation = payload.get("installation")
    installation_id = installation.get("id") if isinstance(installation, Mapping) else None
    return IssueRef(
        repo=repo,
        number=_number(_section(payload, "issue"), "number"),
        installation=installation_id if isinstance(installation_id, int) else None,
    )


def clean_text(text: str | None) -> str:
    """Markdown as a question: template comments removed, surrounding space stripped."""
    return _HTML_COMMENT.sub("", text or "").strip()


def issue_text(issue: Mapping[str, Any]) -> str:
    """The issue's title and body, the way a reader meets the question."""
    title = str(issue.get("title") or "").strip()
    body = clean_text(issue.get("body"))
    return f"{title}\n\n{body}".strip()


def read_event(
    event: str, payload: Mapping[str, Any], *, bot: BotIdentity, label: str
) -> GitHubAsk | None:
    """The question an event asks, or None when the bot should stay silent.

    Answered: an issue opened with, or labelled with, the question label; a new comment on an
    issue or pull request that mentions the bot. Never: anything a bot did or wrote.
    Raises MalformedEvent when a field the event always carries is missing.
    """
    action = payload.get("action")
    if event not in ("issues", "issue_comment") or not isinstance(action, str):
        return None
    if bot.is_bot_or_self(_section(payload, "sender")):
        return None
    issue = _section(payload, "issue")
    if event == "issues":
        if bot.is_bot_or_self(_section(issue, "user")):
            return None
        return _issue_question(payload, issue, action, label)
    if action != "created":
        return None
    comment = _section(payload, "comment")
    body = str(comment.get("body") or "")
    if bot.is_bot_or_self(_section(comment, "user")) or not bot.mentioned_in(body):
        return None
    thread_start = issue_text(issue)
    return GitHubAsk(
        issue=_issue_ref(payload),
        user_id=str(_number(_section(comment, "user"), "id")),
        text=clean_text(bot.strip_mention(body)),
        issue_text=thread_start,
        comment_id=_number(comment, "id"),
        pull_request="pull_request" in issue,
    )


def _issue_question(
    payload: Mapping[str, Any], issue: Mapping[str, Any], action: str, label: str
) -> GitHubAsk | None:
    wanted = label.casefold()
    if action == "labeled":
        added = payload.get("label")
        if not isinstance(added, Mapping) or str(added.get("name", "")).casefold() != wanted:
            return None
    elif action == "opened":
        labels = issue.get("labels") or []
        names = {str(x.get("name", "")).casefold() for x in labels if isinstance(x, Mapping)}
        if wanted not in names:
            return None
    else:
        return None
    text = issue_text(issue)
    return GitHubAsk(
        issue=_issue_ref(payload),
        user_id=str(_number(_section(issue, "user"), "id")),
        text=text,
        issue_text=text,
    )


def answer_of(comment: str) -> str:
    """The answer text of one of the bot's comments, without its source list and hint."""
    lines = []
    for line in comment.splitlines():
        if line.strip() in (MARKDOWN.bold("Sources"), "The closest things I found:"):
            break
        if FEEDBACK_HINT not in line:
            lines.append(line)
    return "\n".join(lines).replace(_ZERO_WIDTH_SPACE, "").strip()


def is_apology(comment: str) -> bool:
    """Whether one of the bot's comments says why it did not answer (limit, failure)."""
    text = comment.strip()
    return text in (RATE_LIMITED, FAILED) or text.startswith(CANNOT_ANSWER)


def thread_history(
    issue_text: str, posts: Sequence[ThreadPost], *, bot: BotIdentity
) -> tuple[Turn, ...]:
    """The turns of an issue thread: each bot answer paired with what was asked before it.

    People's posts since the previous answer make up one question (each cut to 2,000
    characters); other bots' comments and the bot's apologies are left out; posts nobody
    answered yet end the
    history as a turn with an empty answer, so the model still sees them.
    """
    turns: list[Turn] = []
    pending = [_clip(issue_text)] if issue_text else []
    for post in posts:
        if bot.is_self(post.login):
            if pending and not is_apology(post.body):
                turns.append(Turn("\n\n".join(pending), answer_of(post.body)))
                pending = []
        elif not post.is_bot and clean_text(post.body):
            pending.append(_clip(clean_text(bot.strip_mention(post.body))))
    if pending:
        turns.append(Turn("\n\n".join(pending), ""))
    return tuple(turns)


def _clip(text: str, limit: int = _POST_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def neutralise_pings(markdown: str) -> str:
    """Markdown in which no `@user` or `@org/team` outside code notifies anyone."""
    parts = _CODE.split(markdown)
    for i in range(0, len(parts), 2):
        parts[i] = _PING.sub(f"@{_ZERO_WIDTH_SPACE}", parts[i])
    return "".join(parts)
