"""What the bot adapters need to remember between events, as small ports.

The data-dir default is bots.state.SqliteBotState; a Redis backend for several replicas
implements the same protocols.
"""

from __future__ import annotations

from typing import Protocol


class DeliveryLedger(Protocol):
    """Remembers which events were already handled, so a redelivery is answered once."""

    async def claim(self, key: str) -> bool:
        """True for the first caller with this key, False for every later one (also after a
        restart, within the retention period)."""
        ...


class RateLimiter(Protocol):
    """Counts each user's questions in a sliding window."""

    async def allow(self, user_key: str) -> bool:
        """True and counts the question when the user is under the limit; False otherwise."""
        ...


class AnswerIndex(Protocol):
    """Links the bot's posted messages to the interactions they answer, for reactions."""

    async def remember(self, message_key: str, interaction_id: str) -> None: ...

    async def interaction_for(self, message_key: str) -> str | None:
        """The interaction a bot message answered, or None for any other message."""
        ...


class AnswerModels(Protocol):
    """Which model wrote each answer, so that reactions on it are counted per model."""

    async def note(self, interaction_id: str, model: str) -> None: ...

    async def model_of(self, interaction_id: str) -> str | None:
        """The model that wrote the answer, or None when it is not (or no longer) known."""
        ...


class RecentAnswers(Protocol):
    """Lists the answers the bot posted lately, for pollers of platforms without reaction events."""

    async def recent_answers(self, prefix: str, *, since: float) -> list[tuple[str, str]]:
        """(message key, interaction id) pairs whose key starts with `prefix`, oldest first,
        remembered at or after `since` (epoch seconds)."""
        ...


class BotState(DeliveryLedger, RateLimiter, AnswerIndex, AnswerModels, RecentAnswers, Protocol):
    """All the bot state one process keeps: SQLite in the data dir, or Redis for replicas."""

    def close(self) -> None:
        """Releases the connections (from a running event loop where it has one)."""
        ...
