"""Reactions on the bot's answers become one label per user; removal retracts it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.storage.logs import ObjectFeedbackLog
from bots.identity import UserHasher
from bots.reactions import UNKNOWN_MODEL, EmojiLabels, FeedbackRecorder, normalise_emoji
from bots.state import SqliteBotState
from core.errors import StoreUnavailable
from core.types import FeedbackLabel
from tests.support.storage import local_feedback_log

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@pytest.fixture
async def recorder(tmp_path: Path) -> tuple[FeedbackRecorder, ObjectFeedbackLog]:
    state = SqliteBotState(tmp_path / "state.sqlite3")
    await state.remember("slack:C1:111.1", "interaction-1")
    log = local_feedback_log(tmp_path)
    recorder = FeedbackRecorder(
        answers=state, feedback=log, labels=EmojiLabels(), hash_user=UserHasher(b"k" * 32)
    )
    return recorder, log


async def react(
    recorder: FeedbackRecorder,
    emoji: str,
    *,
    added: bool = True,
    minutes: int = 0,
    user: str = "U1",
) -> object:
    return await recorder.reaction(
        platform="slack",
        message_key="slack:C1:111.1",
        user_id=user,
        emoji=emoji,
        added=added,
        at=T0 + timedelta(minutes=minutes),
    )


async def test_latest_reaction_wins_and_user_ids_are_hashed(
    recorder: tuple[FeedbackRecorder, ObjectFeedbackLog],
) -> None:
    rec, log = recorder
    await react(rec, "+1")
    await react(rec, "-1", minutes=1)
    [current] = await log.for_interaction("interaction-1")
    assert current.label is FeedbackLabel.NEGATIVE
    assert current.user_hash == UserHasher(b"k" * 32)("slack", "U1") != "U1"


async def test_removing_the_current_reaction_retracts_it(
    recorder: tuple[FeedbackRecorder, ObjectFeedbackLog],
) -> None:
    rec, log = recorder
    await react(rec, "+1::skin-tone-2")
    assert await react(rec, "-1", added=False, minutes=1) is None  # not the current one
    assert len(await log.for_interaction("interaction-1")) == 1
    await react(rec, "+1", added=False, minutes=2)
    assert await log.for_interaction("interaction-1") == []


async def test_other_messages_and_neutral_emoji_are_ignored(
    recorder: tuple[FeedbackRecorder, ObjectFeedbackLog],
) -> None:
    rec, log = recorder
    assert await react(rec, "eyes") is None
    other = await rec.reaction(
        platform="slack", message_key="slack:C1:999.9", user_id="U1", emoji="+1", added=True
    )
    assert other is None
    assert await log.for_interaction("interaction-1") == []


def test_emoji_sets_are_configurable_and_normalised() -> None:
    labels = EmojiLabels(positive=["rocket"], negative=["👎"])
    assert labels.label(":rocket:") is FeedbackLabel.POSITIVE
    assert labels.label("👎🏽") is FeedbackLabel.NEGATIVE
    assert labels.label("+1") is None
    assert normalise_emoji("thumbsup::skin-tone-5") == "thumbsup"
    with pytest.raises(ValueError, match="both positive and negative"):
        EmojiLabels(positive=["x"], negative=["x"])


class BrokenModels:
    """An AnswerModels whose store is down."""

    async def note(self, interaction_id: str, model: str) -> None:
        raise StoreUnavailable("bot state is gone")

    async def model_of(self, interaction_id: str) -> str | None:
        raise StoreUnavailable("bot state is gone")


async def test_recorded_feedback_is_reported_with_the_answers_model(tmp_path: Path) -> None:
    """The hook sees each label written, with the model that wrote the answer or `unknown`."""
    state = SqliteBotState(tmp_path / "state.sqlite3")
    await state.remember("slack:C1:111.1", "interaction-1")
    await state.note("interaction-1", "lora-3")
    await state.remember("slack:C1:222.2", "interaction-2")
    seen: list[tuple[str | None, str]] = []
    rec = FeedbackRecorder(
        answers=state,
        feedback=local_feedback_log(tmp_path),
        labels=EmojiLabels(),
        hash_user=UserHasher(b"k" * 32),
        models=state,
        on_recorded=lambda f, model: seen.append((f.label, model)),
    )
    await react(rec, "+1")
    await react(rec, "+1", added=False, minutes=1)
    await react(rec, "eyes", minutes=2)  # says nothing: not recorded, not reported
    await rec.reaction(
        platform="slack", message_key="slack:C1:222.2", user_id="U1", emoji="-1", added=True
    )
    assert seen == [
        (FeedbackLabel.POSITIVE, "lora-3"),
        (None, "lora-3"),
        (FeedbackLabel.NEGATIVE, UNKNOWN_MODEL),
    ]


async def test_feedback_is_stored_when_the_model_lookup_fails(tmp_path: Path) -> None:
    """A failing model lookup costs the metric its model, never the feedback itself."""
    state = SqliteBotState(tmp_path / "state.sqlite3")
    await state.remember("slack:C1:111.1", "interaction-1")
    log = local_feedback_log(tmp_path)
    seen: list[str] = []
    rec = FeedbackRecorder(
        answers=state,
        feedback=log,
        labels=EmojiLabels(),
        hash_user=UserHasher(b"k" * 32),
        models=BrokenModels(),
        on_recorded=lambda _, model: seen.append(model),
    )
    assert await react(rec, "+1") is not None
    assert seen == [UNKNOWN_MODEL]
    assert len(await log.for_interaction("interaction-1")) == 1
