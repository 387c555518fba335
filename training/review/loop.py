"""Send doubtful answers to a review board and bring the reviewers' corrections back.

Reads `interactions/YYYY/MM/DD/<id>.json` and `feedback/<id>/<user hash>.json` from the object
store and writes `corrections/<id>.json`, which the training-data build uses in place of the
model's answer. Both directions are idempotent: a second run adds no task and rewrites no
correction that did not change.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from core.ports import ObjectStore
from training.review.model import (
    MalformedRecord,
    Review,
    ReviewItem,
    choose_reviews,
    correction_key,
    correction_record,
    is_interaction_id,
    is_newer,
    review_item,
)

_log = logging.getLogger(__name__)


class ReviewBoard(Protocol):
    """A labelling tool's project, as the review loop sees it."""

    def queued(self) -> set[str]:
        """Interaction ids that already have a task, reviewed or not."""
        ...

    def add(self, items: Sequence[ReviewItem]) -> int:
        """Creates one task per item; returns how many were created."""
        ...

    def reviews(self) -> Iterator[Review]:
        """Every annotation of every task, skipped and empty ones included."""
        ...


@dataclass(slots=True)
class Candidates:
    """Answers that need a reviewer, oldest first, and the records that could not be read."""

    items: list[ReviewItem] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ExportReport:
    """What `export_for_review` did; `missing` counts feedback on interactions not stored."""

    candidates: int = 0
    exported: int = 0
    already_queued: int = 0
    already_corrected: int = 0
    unreadable: list[str] = field(default_factory=list)
    missing: int = 0


@dataclass(slots=True)
class ImportReport:
    """What `import_corrections` did with the reviews it found."""

    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    kept_newer: int = 0
    skipped: int = 0
    empty: int = 0
    foreign: int = 0


def find_for_review(store: ObjectStore, *, since: date | None = None) -> Candidates:
    """Interactions whose answer abstained or has a current negative label from any user.

    `since` limits the search to interactions asked on or after that day. Records that are
    not valid JSON or lack fields are listed in `unreadable`, never silently dropped.
    """
    found = Candidates()
    negative = _negative_votes(store, found.unreadable)
    keys = _interaction_keys(store, since, found.unreadable)
    for interaction_id, key in keys.items():
        record = _load(store, key, found.unreadable)
        if record is None:
            continue
        reasons = _reasons(record, negative.get(interaction_id, 0))
        if not reasons:
            continue
        try:
            found.items.append(review_item(record, reasons))
        except MalformedRecord as exc:
            _log.warning("cannot review %s: %s", key, exc)
            found.unreadable.append(key)
    if since is None:
        found.missing = sorted(set(negative) - set(keys))
        for interaction_id in found.missing:
            _log.warning("feedback on interaction %s, which is not in the store", interaction_id)
    return found


def _reasons(record: dict[str, Any], negative: int) -> list[str]:
    reasons = []
    answer = record.get("answer")
    if isinstance(answer, dict) and answer.get("abstained") is True:
        reasons.append("abstained")
    if negative:
        reasons.append(f"negative feedback from {negative} user{'s' if negative > 1 else ''}")
    return reasons


def _interaction_keys(store: ObjectStore, since: date | None, bad: list[str]) -> dict[str, str]:
    first_day = since.strftime("%Y/%m/%d") if since else ""
    keys: dict[str, str] = {}
    for key in store.list("interactions/"):
        parts = key.split("/")
        if len(parts) != 5 or not parts[4].endswith(".json"):
            _log.warning("not an interaction key: %s", key)
            bad.append(key)
            continue
        if "/".join(parts[1:4]) >= first_day:
            keys[parts[4].removesuffix(".json")] = key
    return keys


def _negative_votes(store: ObjectStore, bad: list[str]) -> Counter[str]:
    votes: Counter[str] = Counter()
    for key in store.list("feedback/"):
        record = _load(store, key, bad)
        if record is None:
            continue
        interaction_id = record.get("interaction_id")
        if not is_interaction_id(interaction_id):
            _log.warning("feedback %s names no valid interaction", key)
            bad.append(key)
        elif record.get("label") == "negative":
            votes[str(interaction_id)] += 1
    return votes


def _load(store: ObjectStore, key: str, bad: list[str]) -> dict[str, Any] | None:
    """The JSON object stored at `key`; None (and `key` added to `bad`) when it is not one."""
    try:
        value = json.loads(store.get(key))
    except KeyError:
        return None  # deleted between list and get: nothing to review
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        _log.warning("%s is not valid JSON: %s", key, exc)
        bad.append(key)
        return None
    if not isinstance(value, dict):
        _log.warning("%s is not a JSON object", key)
        bad.append(key)
        return None
    return value


def export_for_review(
    store: ObjectStore, board: ReviewBoard, *, since: date | None = None
) -> ExportReport:
    """Adds a task for every candidate that has neither a task nor a correction yet."""
    found = find_for_review(store, since=since)
    queued = board.queued()
    corrected = {
        key.removeprefix("corrections/").removesuffix(".json") for key in store.list("corrections/")
    }
    report = ExportReport(
        candidates=len(found.items), unreadable=found.unreadable, missing=len(found.missing)
    )
    new: list[ReviewItem] = []
    for item in found.items:
        if item.interaction_id in queued:
            report.already_queued += 1
        elif item.interaction_id in corrected:
            report.already_corrected += 1
        else:
            new.append(item)
    if new:
        report.exported = board.add(new)
    _log.info(
        "review export: %d exported, %d already queued, %d already corrected",
        report.exported,
        report.already_queued,
        report.already_corrected,
    )
    return report


def import_corrections(store: ObjectStore, board: ReviewBoard) -> ImportReport:
    """Stores the latest corrected answer of each reviewed interaction.

    A stored correction is rewritten only when a newer review says something else; one made
    after the latest review on the board (say, from an earlier project) is kept.
    """
    choice = choose_reviews(board.reviews())
    report = ImportReport(skipped=choice.skipped, empty=choice.empty, foreign=choice.foreign)
    for interaction_id, review in sorted(choice.latest.items()):
        record = correction_record(review)
        key = correction_key(interaction_id)
        current = _load(store, key, [])
        if current == record:
            report.unchanged += 1
            continue
        if current is not None and is_newer(current, than=record):
            report.kept_newer += 1
            continue
        data = json.dumps(record, ensure_ascii=False, indent=1).encode()
        store.put(key, data)
        if current is None:
            report.imported += 1
        else:
            report.updated += 1
    _log.info(
        "review import: %d imported, %d updated, %d unchanged",
        report.imported,
        report.updated,
        report.unchanged,
    )
    return report
