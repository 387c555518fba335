"""The one flow every adapter shares: rate limit, ask the core, turn failures into a reply."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from bots.identity import UserHasher
from bots.ports import RateLimiter
from bots.rendering import FAILED, RATE_LIMITED
from core.answering import AnswerService
from core.errors import InvalidQuestion
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
    """Answers one bot question: never raises, never leaks an error's details to the chat."""

    def __init__(
        self, *, answers: AnswerService, rate_limiter: RateLimiter, hash_user: UserHasher
    ) -> None:
        self._answers = answers
        self._rate_limiter = rate_limiter
        self._hash_user = hash_user

    def user_hash(self, platform: str, user_id: str) -> str:
        return self._hash_user(platform, user_id)

    async def reply(self, asked: BotQuestion) -> BotReply:
        user_hash = self._hash_user(asked.platform, asked.user_id)
        try:
            if not await self._rate_limiter.allow(f"{asked.platform}:{user_hash}"):
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
        return BotReply(Outcome.ANSWERED, answer=answer)
