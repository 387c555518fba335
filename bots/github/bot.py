"""The GitHub adapter's flow: a verified webhook -> a question -> an answer comment."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bots.answering import BotAnswerer, BotQuestion, BotReply
from bots.github.api import GitHubApi
from bots.github.events import (
    BotIdentity,
    GitHubAsk,
    MalformedEvent,
    neutralise_pings,
    read_event,
    signature_matches,
    thread_history,
)
from bots.ports import AnswerIndex, DeliveryLedger
from bots.rendering import MARKDOWN, neutralise_mentions, render_answer
from bots.routing import KnowledgeBaseRoutes
from core.types import Turn

_log = logging.getLogger(__name__)

PLATFORM = "github"


def comment_key(repo: str, comment_id: int) -> str:
    """The AnswerIndex key of a comment: `github:<owner>/<repo>:comment:<id>`."""
    return f"{PLATFORM}:{repo}:comment:{comment_id}"


def render_reply(reply: BotReply) -> str:
    """The comment for a reply: the rendered answer or the short message, no one pinged."""
    text = render_answer(reply.answer, MARKDOWN) if reply.answer else reply.message
    return neutralise_pings(neutralise_mentions(text))


class GitHubBot:
    """Answers questions asked on GitHub issues and pull requests with a comment.

    Questions longer than the core accepts are cut to `max_question_chars` (issues often
    carry long templates or logs), so an issue still gets an answer.
    """

    def __init__(
        self,
        *,
        api: GitHubApi,
        answerer: BotAnswerer,
        routes: KnowledgeBaseRoutes,
        answers: AnswerIndex,
        bot_login: str,
        question_label: str = "question",
        max_question_chars: int = 2000,
    ) -> None:
        self._api = api
        self._answerer = answerer
        self._routes = routes
        self._answers = answers
        self.identity = BotIdentity(bot_login)
        self._label = question_label
        self._max_chars = max_question_chars

    def read(self, event: str, payload: Mapping[str, Any]) -> GitHubAsk | None:
        """The question in an event, or None; raises MalformedEvent."""
        return read_event(event, payload, bot=self.identity, label=self._label)

    async def answer(self, ask: GitHubAsk) -> int:
        """Asks the core and posts the answer (or an apology); returns the comment id.

        Raises GitHubUnavailable when the thread cannot be read or the comment not posted.
        """
        text = ask.text
        history: tuple[Turn, ...] = ()
        if ask.comment_id is not None:
            posts = await self._api.thread(ask.issue, before=ask.comment_id)
            text, history = _question_in_thread(
                ask, thread_history(ask.issue_text, posts, bot=self.identity)
            )
        reply = await self._answerer.reply(
            BotQuestion(
                platform=PLATFORM,
                user_id=ask.user_id,
                text=self._fit(text),
                kb=self._routes.resolve(PLATFORM, ask.issue.owner, ask.issue.name),
                history=history,
                refs=_refs(ask),
            )
        )
        comment_id = await self._api.post_comment(ask.issue, render_reply(reply))
        if reply.answer is not None:
            await self._answers.remember(
                comment_key(ask.issue.repo, comment_id), reply.answer.interaction_id
            )
        _log.info("%s %s#%d: %s", PLATFORM, ask.issue.repo, ask.issue.number, reply.outcome)
        return comment_id

    def _fit(self, text: str) -> str:
        if len(text.strip()) <= self._max_chars:
            return text
        _log.info("question of %d characters cut to %d", len(text), self._max_chars)
        return text.strip()[: self._max_chars - 1].rstrip() + "…"


def _question_in_thread(ask: GitHubAsk, history: tuple[Turn, ...]) -> tuple[str, tuple[Turn, ...]]:
    """A bare mention asks about what nobody answered yet (or the issue itself)."""
    if ask.text:
        return ask.text, history
    if history and not history[-1].answer:
        return history[-1].question, history[:-1]
    return ask.issue_text, history


def _refs(ask: GitHubAsk) -> tuple[tuple[str, str], ...]:
    refs = [("repo", ask.issue.repo), ("issue", str(ask.issue.number))]
    if ask.comment_id is not None:
        refs.append(("comment", str(ask.comment_id)))
    if ask.pull_request:
        refs.append(("pull_request", "true"))
    return tuple(refs)


@dataclass(frozen=True, slots=True)
class WebhookOutcome:
    """The HTTP answer to a delivery, and the question to answer after it, if any."""

    status: int
    detail: str
    ask: GitHubAsk | None = None


class GitHubWebhook:
    """Checks a delivery before anything else reads it, and drops what was seen before.

    Verification runs on the raw body; a delivery id (`X-GitHub-Delivery`) and an issue
    (opened and labelled both arrive) are claimed once in the DeliveryLedger, which lives
    in the data dir and so survives restarts.
    """

    def __init__(self, *, secret: str, bot: GitHubBot, ledger: DeliveryLedger) -> None:
        self._secret = secret.encode()
        self.bot = bot
        self._ledger = ledger

    async def receive(self, headers: Mapping[str, str], body: bytes) -> WebhookOutcome:
        """What to reply; raises StoreUnavailable when the ledger cannot be written."""
        if not signature_matches(self._secret, body, headers.get("x-hub-signature-256")):
            return WebhookOutcome(401, "missing or invalid X-Hub-Signature-256")
        try:
            payload = json.loads(body)
        except ValueError:
            return WebhookOutcome(400, "the request body is not valid JSON")
        if not isinstance(payload, dict):
            return WebhookOutcome(400, "the request body is not a JSON object")
        event = headers.get("x-github-event", "")
        if event == "ping":
            return WebhookOutcome(200, "pong")
        delivery = headers.get("x-github-delivery", "").strip()
        if not delivery:
            return WebhookOutcome(400, "missing X-GitHub-Delivery")
        try:
            ask = self.bot.read(event, payload)
        except MalformedEvent as exc:
            return WebhookOutcome(400, f"unexpected {event} payload: {exc}")
        if ask is None:
            return WebhookOutcome(200, "ignored")
        if not await self._ledger.claim(f"{PLATFORM}:{delivery}"):
            return WebhookOutcome(200, "duplicate delivery")
        if ask.content_key and not await self._ledger.claim(ask.content_key):
            return WebhookOutcome(200, "already answered")
        return WebhookOutcome(202, "accepted", ask)
