"""The web surface's logic: questions from browsers streamed as server-sent events, and
feedback buttons recorded like reactions. Routes (web/routes.py) only translate HTTP."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from bots.answering import BotAnswerer
from bots.ports import AnswerIndex
from bots.reactions import FeedbackRecorder
from core.answering import AnswerService
from core.types import (
    Answer,
    AnswerDone,
    AnswerEvent,
    FeedbackLabel,
    Question,
    SourcesFound,
    TextDelta,
)
from web.render import answer_record, source_records
from web.security import SlidingWindowLimiter

_log = logging.getLogger(__name__)

WEB_PLATFORM = "web"
# What each feedback button means, as the emoji a reaction would carry.
BUTTON_EMOJI = {"up": "👍", "down": "👎", "fixed": "✅"}
WEB_POSITIVE = ("👍", "✅")
WEB_NEGATIVE = ("👎",)
STREAM_FAILED = "Sorry, something went wrong while answering. Please try again."


class WebRefused(Exception):
    """A browser request refused before any work: an HTTP status and a message for people."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def sse(event: str, data: object) -> str:
    """One server-sent event: its name and a JSON payload on one `data:` line."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def message_key(interaction_id: str) -> str:
    """How the answer index knows an answer given on the web (cf. a Slack message ts)."""
    return f"{WEB_PLATFORM}:{interaction_id}"


@dataclass(frozen=True, slots=True)
class Asker:
    """Who asks: the web (a browser's anonymous id, kept only hashed) or an API caller."""

    platform: str
    user_hash: str | None


class WebSurface:
    """Answers browsers (the ask page and the widget) and API callers of /ask/stream.

    A browser question is limited per client address (`ip_limiter`) and per browser id
    (the bots' rate limiter, shared by replicas), hashed like a chat user, and remembered in
    the answer index so that its feedback buttons can label it: one label per browser and
    answer, the latest wins.
    """

    def __init__(
        self,
        *,
        answers: AnswerService,
        answerer: BotAnswerer,
        index: AnswerIndex,
        feedback: FeedbackRecorder,
        ip_limiter: SlidingWindowLimiter,
        on_api_answer: Callable[[Answer], None] | None = None,
    ) -> None:
        self._answers = answers
        self._answerer = answerer
        self._index = index
        self._feedback = feedback
        self._ip_limiter = ip_limiter
        self._on_api_answer = on_api_answer

    def browser(self, client_id: str) -> Asker:
        return Asker(WEB_PLATFORM, self._answerer.user_hash(WEB_PLATFORM, client_id))

    def ip_allows(self, address: str) -> bool:
        """Counts a request from this client address; False when it is over the limit."""
        return self._ip_limiter.allow(f"address:{address}")

    async def admit(self, asker: Asker, address: str) -> None:
        """WebRefused (429) when this address or this browser asks too often."""
        if not self.ip_allows(address):
            raise WebRefused(429, "Too many questions from your address; try again in a minute.")
        if asker.user_hash is not None and not await self._answerer.admit(
            asker.platform, asker.user_hash
        ):
            raise WebRefused(429, "You've asked a lot in a short time; try again in a minute.")

    async def stream(self, question: Question) -> AsyncIterator[str]:
        """The answer as server-sent events: `sources`, `token`s, then `done` (the sanitised
        HTML and the interaction id), or `error`.

        Invalid questions and unknown knowledge bases raise before the first event, so the
        caller can still answer with a 4xx.
        """
        events = aiter(self._answers.answer_stream(question))
        first = await anext(events)
        return self._events(question, first, events)

    async def _events(
        self, question: Question, first: AnswerEvent, events: AsyncIterator[AnswerEvent]
    ) -> AsyncIterator[str]:
        try:
            yield self._encode(first)
            async for event in events:
                if isinstance(event, AnswerDone):
                    await self._answered(question, event.answer)
                yield self._encode(event)
        except Exception:  # noqa: BLE001 - the stream has started: an error event, the trace logged
            _log.exception("streaming an answer failed")
            yield sse("error", {"detail": STREAM_FAILED})

    @staticmethod
    def _encode(event: AnswerEvent) -> str:
        if isinstance(event, SourcesFound):
            return sse(
                "sources",
                {"sources": source_records(event.sources), "abstaining": event.abstaining},
            )
        if isinstance(event, TextDelta):
            return sse("token", {"text": event.text})
        return sse("done", answer_record(event.answer, replaced=event.replaced))

    async def _answered(self, question: Question, answer: Answer) -> None:
        if question.platform != WEB_PLATFORM:
            if self._on_api_answer is not None:
                self._on_api_answer(answer)
            return
        await self._index.remember(message_key(answer.interaction_id), answer.interaction_id)
        await self._answerer.answered(answer)

    async def record_feedback(
        self, *, interaction_id: str, client_id: str, button: str, active: bool
    ) -> FeedbackLabel | None:
        """Records a feedback button: pressed (`active`) gives its label, released retracts
        it. Returns the browser's label on the answer now; WebRefused (404) for an answer
        not given on the web."""
        if await self._index.interaction_for(message_key(interaction_id)) != interaction_id:
            raise WebRefused(404, "There is no such answer to give feedback on.")
        recorded = await self._feedback.reaction(
            platform=WEB_PLATFORM,
            message_key=message_key(interaction_id),
            user_id=client_id,
            emoji=BUTTON_EMOJI[button],
            added=active,
        )
        return recorded.label if recorded is not None else None
