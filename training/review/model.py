"""What the review loop exchanges with a labelling tool: items to review, reviews, corrections.

Plain data and rules, no I/O: `training.review.loop` reads and writes the object store and an
adapter such as `training.review.board` talks to the tool.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.errors import LeximindError
from core.types import Turn

_INTERACTION_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


class MalformedRecord(LeximindError, ValueError):
    """A stored interaction record lacks a field the review needs or has the wrong type."""


def is_interaction_id(value: object) -> bool:
    """Whether `value` can name an interaction (and so an object key): letters, digits, _ -."""
    return isinstance(value, str) and _INTERACTION_ID.fullmatch(value) is not None


def correction_key(interaction_id: str) -> str:
    """`corrections/<interaction id>.json`: one current correction per interaction."""
    return f"corrections/{interaction_id}.json"


@dataclass(frozen=True, slots=True)
class SourceLink:
    """A passage the answer cited, as a reviewer sees it: where it is and how it starts."""

    path: str
    title: str
    url: str | None
    start_line: int | None
    end_line: int | None
    excerpt: str


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """One answer a maintainer should look at, with why it was picked."""

    interaction_id: str
    asked_at: str
    kb: str
    platform: str
    question: str
    history: tuple[Turn, ...]
    answer: str
    model: str
    reasons: tuple[str, ...]
    sources: tuple[SourceLink, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Review:
    """One annotation of one item as the labelling tool returns it.

    `interaction_id` is "" for a task the review loop did not create; `corrected` is the
    corrected answer ("" when the reviewer wrote none); `updated_at` is ISO-8601 UTC.
    """

    interaction_id: str
    task_id: int
    review_id: int
    annotator: str
    updated_at: str
    skipped: bool
    corrected: str
    verdict: str | None = None


@dataclass(slots=True)
class ReviewChoice:
    """The review that counts for each interaction, and how many were set aside and why."""

    latest: dict[str, Review] = field(default_factory=dict)
    skipped: int = 0
    empty: int = 0
    foreign: int = 0


def choose_reviews(reviews: Iterable[Review]) -> ReviewChoice:
    """Per interaction the latest review with a corrected answer; skipped and empty ones counted.

    Skipped (cancelled) reviews and reviews without corrected text never become corrections,
    also when they are the most recent: "answer was fine" is not a correction.
    """
    choice = ReviewChoice()
    for review in reviews:
        if not review.interaction_id:
            choice.foreign += 1
        elif review.skipped:
            choice.skipped += 1
        elif not review.corrected.strip():
            choice.empty += 1
        else:
            current = choice.latest.get(review.interaction_id)
            if current is None or _order(review) > _order(current):
                choice.latest[review.interaction_id] = review
    return choice


def _order(review: Review) -> tuple[str, int]:
    return review.updated_at, review.review_id


def correction_record(review: Review) -> dict[str, Any]:
    """The JSON record stored under `correction_key`; the same review gives the same record."""
    return {
        "interaction_id": review.interaction_id,
        "answer": review.corrected.strip(),
        "annotator": review.annotator,
        "created_at": review.updated_at,
        "task_id": review.task_id,
        "annotation_id": review.review_id,
        "verdict": review.verdict,
    }


def is_newer(record: Mapping[str, Any], than: Mapping[str, Any]) -> bool:
    """Whether correction `record` was made after `than` (by annotation time, then id)."""
    return (str(record.get("created_at", "")), _int(record.get("annotation_id"))) > (
        str(than.get("created_at", "")),
        _int(than.get("annotation_id")),
    )


def _int(value: object) -> int:
    return value if isinstance(value, int) else -1


def review_item(record: Mapping[str, Any], reasons: Iterable[str]) -> ReviewItem:
    """A ReviewItem from an `Interaction.to_record()` dict; raises MalformedRecord."""
    question = _section(record, "question")
    answer = _section(record, "answer")
    interaction_id = _text(record, "id")
    if not is_interaction_id(interaction_id):
        raise MalformedRecord(f"invalid interaction id {interaction_id!r}")
    history = tuple(
        Turn(question=_text(t, "question"), answer=_text(t, "answer"))
        for t in _list(question, "history")
    )
    return ReviewItem(
        interaction_id=interaction_id,
        asked_at=_text(record, "created_at"),
        kb=str(question.get("kb") or ""),
        platform=str(question.get("platform") or ""),
        question=_text(question, "text"),
        history=history,
        answer=_text(answer, "text"),
        model=str(answer.get("model") or ""),
        reasons=tuple(reasons),
        sources=tuple(_source(s) for s in _list(answer, "sources")),
    )


def _source(record: object) -> SourceLink:
    if not isinstance(record, Mapping):
        raise MalformedRecord("a source is not an object")
    text = " ".join(str(record.get("text") or "").split())
    url = record.get("url")
    return SourceLink(
        path=_text(record, "path"),
        title=str(record.get("title") or ""),
        url=url if isinstance(url, str) and url else None,
        start_line=_line(record.get("start_line")),
        end_line=_line(record.get("end_line")),
        excerpt=text if len(text) <= 300 else text[:299].rstrip() + "…",
    )


def _line(value: object) -> int | None:
    return value if isinstance(value, int) and value > 0 else None


def _section(record: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = record.get(name)
    if not isinstance(value, Mapping):
        raise MalformedRecord(f"field {name!r} is missing or not an object")
    return value


def _text(record: object, name: str) -> str:
    value = record.get(name) if isinstance(record, Mapping) else None
    if not isinstance(value, str):
        raise MalformedRecord(f"field {name!r} is missing or not a string")
    return value


def _list(record: Mapping[str, Any], name: str) -> list[Any]:
    value = record.get(name) or []
    if not isinstance(value, list):
        raise MalformedRecord(f"field {name!r} is not a list")
    return value
