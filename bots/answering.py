"""The one flow every adapter shares: rate limit, ask the core, turn failures into a reply."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from bots.identity import UserHasher
from bots.ports import AnswerModels, RateLimiter
from bots.rendering import FAILED, RATE_LIMITED
from core.answering import AnswerService
from core.errors import InvalidQuestion, LeximindError
from core.types import Answer, Question, Turn

_log = logging.getLogger(__name__)


class Outcome(StrEnum):
    """How a bot question ended."""

    ANSWERED = "answered"
    RATE_LIMITED = "rate_limited"
    INVALID = "invalid"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class BotReply:
    """What to post back: an answer, or a short message saying why there is none."""

    outcome: Outcome
    answer: Answer | None = None
    message: str = ""


@dataclass(frozen=True, slots=True)
class BotQuestion:
    """A question as an adapter sees it, before it is hashed and handed to the core."""

    platform: str
    user_id: str
    text: str
    kb: str
    history: tuple[Turn, ...] = ()
    refs: tuple[tuple[str, str], ...] = ()


class BotAnswerer:
    """Answers one bot question: never raises, never leaks an error's details to the chat.

    With `models`, the model of each answer is noted so that reactions on it count for that
    model; `on_answer` sees every answer given (the process's metrics).
    """

    def __init__(
        self,
        *,
        answers: AnswerService,
        rate_limiter: RateLimiter,
        hash_user: UserHasher,
        models: AnswerModels | None = None,
        on_answer: Callable[[Answer], None] | None = None,
    ) -> None:
        self._answers = answers
        self._rate_limiter = rate_limiter
        self._hash_user = hash_user
        self._models = models
        self._on_answer = on_answer

    def user_hash(self, platform: str, user_id: str) -> str:
        return self._hash_user(platform, user_id)

    async def admit(self, platform: str, user_hash: str) -> bool:
        """Counts a question of this user; False when they are over the rate limit."""
        return await self._rate_limiter.allow(f"{platform}:{user_hash}")

    async def reply(self, asked: BotQuestion) -> BotReply:
        user_hash = self._hash_user(asked.platform, asked.user_id)
        try:
            if not await self.admit(asked.platform, user_hash):
                return BotReply(Outcome.RATE_LIMITED, message=RATE_LIMITED)
            answer = await self._answers.answer(
                Question(
                    text=asked.text,
                    kb=asked.kb,
                    history=asked.history,
                    platform=asked.platform,
                    platform_refs=dict(asked.refs),
                    user_hash=user_hash,
                )
            )
        except InvalidQuestion as exc:
            return BotReply(Outcome.INVALID, message=f"I can't answer that: {exc}.")
        except Exception:  # noqa: BLE001 - the chat boundary: an apology, the trace in the log
            _log.exception("answering a %s question failed", asked.platform)
            return BotReply(Outcome.FAILED, message=FAILED)
        await self.answered(answer)
        return BotReply(Outcome.ANSWERED, answer=answer)

    async def answered(self, answer: Answer) -> None:
        """Counts an answer given and notes its model (an adapter that asked the core itself,
        as the web does for streamed answers, calls this once the answer is done)."""
        if self._on_answer is not None:
            self._on_answer(answer)
        if self._models is None or not answer.interaction_id:
            return
        try:
            await self._models.note(answer.interaction_id, answer.model)
        except LeximindError as exc:  # the answer still goes out; only its metrics suffer
            _log.warning("model of answer %s not noted: %s", answer.interaction_id, exc)
