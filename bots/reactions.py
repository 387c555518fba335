"""Emoji reactions on the bot's answers, turned into labelled Feedback."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from bots.identity import UserHasher
from bots.ports import AnswerIndex, AnswerModels
from core.errors import LeximindError
from core.ports import FeedbackLog
from core.types import Feedback, FeedbackLabel

_log = logging.getLogger(__name__)

POSITIVE_EMOJI = ("+1", "thumbsup", "👍", "white_check_mark", "✅", "heart", "❤️", "tada", "🎉")
NEGATIVE_EMOJI = ("-1", "thumbsdown", "👎", "x", "❌", "confused", "😕")
UNKNOWN_MODEL = "unknown"


def normalise_emoji(emoji: str) -> str:
    """Slack's `+1::skin-tone-3`, Discord's toned 👍🏽 and `:+1:` all become the base emoji."""
    name = emoji.strip().strip(":").split("::", 1)[0]
    return "".join(ch for ch in name if not 0x1F3FB <= ord(ch) <= 0x1F3FF)


class EmojiLabels:
    """Which emoji mean an answer helped and which mean it did not."""

    def __init__(
        self,
        positive: Iterable[str] = POSITIVE_EMOJI,
        negative: Iterable[str] = NEGATIVE_EMOJI,
    ) -> None:
        self._labels = {normalise_emoji(e): FeedbackLabel.NEGATIVE for e in negative}
        for emoji in positive:
            key = normalise_emoji(emoji)
            if key in self._labels:
                raise ValueError(f"emoji {emoji!r} is both positive and negative")
            self._labels[key] = FeedbackLabel.POSITIVE

    def label(self, emoji: str) -> FeedbackLabel | None:
        """The label an emoji gives, or None for an emoji that says neither."""
        return self._labels.get(normalise_emoji(emoji))


class FeedbackRecorder:
    """Records reactions on the bot's own answers; any other message is ignored.

    One label per user and answer: the latest reaction wins, and removing the reaction that
    gave the current label retracts it (removing an older, overridden one changes nothing).
    `on_recorded` sees each feedback written with the model that wrote the answer, looked up
    in `models` (`unknown` without it, or when the answer's model is not known).
    """

    def __init__(
        self,
        *,
        answers: AnswerIndex,
        feedback: FeedbackLog,
        labels: EmojiLabels,
        hash_user: UserHasher,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        models: AnswerModels | None = None,
        on_recorded: Callable[[Feedback, str], None] | None = None,
    ) -> None:
        self._answers = answers
        self._feedback = feedback
        self._labels = labels
        self._hash_user = hash_user
        self._clock = clock
        self._models = models
        self._on_recorded = on_recorded

    async def reaction(
        self,
        *,
        platform: str,
        message_key: str,
        user_id: str,
        emoji: str,
        added: bool,
        at: datetime | None = None,
    ) -> Feedback | None:
        """Records one reaction event; returns the feedback written, or None if ignored."""
        return await self.hashed_reaction(
            platform=platform,
            message_key=message_key,
            user_hash=self._hash_user(platform, user_id),
            emoji=emoji,
            added=added,
            at=at,
        )

    async def hashed_reaction(
        self,
        *,
        platform: str,
        message_key: str,
        user_hash: str,
        emoji: str,
        added: bool,
        at: datetime | None = None,
    ) -> Feedback | None:
        """Like `reaction`, for a user known only by their keyed hash.

        A poller that sees a reaction vanish has kept no raw user id to pass.
        """
        label = self._labels.label(emoji)
        if label is None:
            return None
        interaction_id = await self._answers.interaction_for(message_key)
        if interaction_id is None:
            return None
        emoji = normalise_emoji(emoji)
        if not added:
            current = {f.user_hash: f for f in await self._feedback.for_interaction(interaction_id)}
            mine = current.get(user_hash)
            if mine is None or mine.emoji != emoji:
                return None
        feedback = Feedback(
            interaction_id=interaction_id,
            platform=platform,
            user_hash=user_hash,
            emoji=emoji,
            label=label if added else None,
            created_at=(at or self._clock()).astimezone(UTC).isoformat(),
        )
        await self._feedback.record(feedback)
        _log.info("feedback %s on %s", feedback.label or "retracted", interaction_id)
        if self._on_recorded is not None:
            self._on_recorded(feedback, await self._model_of(interaction_id))
        return feedback

    async def _model_of(self, interaction_id: str) -> str:
        if self._models is None:
            return UNKNOWN_MODEL
        try:
            return await self._models.model_of(interaction_id) or UNKNOWN_MODEL
        except LeximindError as exc:  # the feedback is stored; only its metric loses the model
            _log.warning("model of answer %s not known: %s", interaction_id, exc)
            return UNKNOWN_MODEL
