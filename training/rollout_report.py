"""Per-model figures of a staged rollout over a time window, read from the interaction and
feedback logs in the object store (`leximind model canary-status`).

Each model gets one row. `routed`, `abstained` and `fallbacks` count the questions routed to
it (abstentions, and answers given extractively because it failed); `answers`, the
generation-time percentiles and the feedback count the answers it wrote itself. `checked`,
`grounding_fallbacks` and `support` are its generated answers checked against their sources,
those replaced (extractive or abstention) for lack of support, and their support scores. Smoke
questions of deployments are left out; retracted reactions do not count.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from core.object_keys import FEEDBACK, INTERACTIONS, parse_time
from core.ports import ObjectStore
from core.types import Feedback, FeedbackLabel

_log = logging.getLogger(__name__)

SMOKE_PLATFORM = "smoke"


@dataclass(slots=True)
class ModelReport:
    """One model's figures; `generation` holds the seconds of each answer it wrote."""

    model: str
    routed: int = 0
    abstained: int = 0
    fallbacks: int = 0
    answers: int = 0
    positive: int = 0
    negative: int = 0
    generation: list[float] = field(default_factory=list)
    checked: int = 0
    grounding_fallbacks: int = 0
    removed_citations: int = 0
    support: list[float] = field(default_factory=list)

    def percentile(self, q: float) -> float | None:
        """The nearest-rank `q` quantile (0 < q <= 1) of the generation times, if any."""
        if not self.generation:
            return None
        ordered = sorted(self.generation)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]

    @property
    def grounding_fallback_rate(self) -> float | None:
        """Checked answers not sent as generated / all checked ones; None without any."""
        return self.grounding_fallbacks / self.checked if self.checked else None

    @property
    def mean_support(self) -> float | None:
        return sum(self.support) / len(self.support) if self.support else None

    @property
    def positive_rate(self) -> float | None:
        """Positive labels / all positive and negative labels; None without any."""
        rated = self.positive + self.negative
        return self.positive / rated if rated else None

    def to_record(self) -> dict[str, Any]:
        """The figures as JSON-serialisable values."""
        return {
            "model": self.model,
            "routed": self.routed,
            "abstained": self.abstained,
            "fallbacks": self.fallbacks,
            "answers": self.answers,
            "generation_p50": self.percentile(0.5),
            "generation_p95": self.percentile(0.95),
            "positive": self.positive,
            "negative": self.negative,
            "positive_rate": self.positive_rate,
            "checked": self.checked,
            "grounding_fallbacks": self.grounding_fallbacks,
            "grounding_fallback_rate": self.grounding_fallback_rate,
            "mean_support": self.mean_support,
            "removed_citations": self.removed_citations,
        }


@dataclass(slots=True)
class RolloutReport:
    """The rows, by model name, and how many records could not be read."""

    models: dict[str, ModelReport] = field(default_factory=dict)
    unreadable: int = 0

    def row(self, model: str) -> ModelReport:
        if model not in self.models:
            self.models[model] = ModelReport(model)
        return self.models[model]


def rollout_report(store: ObjectStore, *, since: datetime, until: datetime) -> RolloutReport:
    """The figures of the interactions asked from `since` up to `until` (both with a UTC
    offset) and of the feedback on them. Raises StoreUnavailable when the store is down."""
    if since.tzinfo is None or until.tzinfo is None:
        raise ValueError("since and until need a UTC offset")
    report = RolloutReport()
    writers: dict[str, str] = {}
    for key in _interaction_keys(store, since, until):
        record = _load(store, key, report)
        if record is None:
            continue
        try:
            found = _count_interaction(report, record, since, until)
        except (KeyError, TypeError, ValueError) as exc:
            _log.error("skipping unreadable interaction %s: %s", key, exc)
            report.unreadable += 1
            continue
        if found is not None:
            writers[found[0]] = found[1]
    _count_feedback(store, report, writers)
    return report


def _interaction_keys(store: ObjectStore, since: datetime, until: datetime) -> list[str]:
    day = since.astimezone(UTC).date()
    last = until.astimezone(UTC).date()
    keys: list[str] = []
    while day <= last:
        keys.extend(store.list(f"{INTERACTIONS}{day:%Y/%m/%d}/"))
        day += timedelta(days=1)
    return keys


def _load(store: ObjectStore, key: str, report: RolloutReport) -> Any:
    try:
        return json.loads(store.get(key))
    except KeyError:
        return None  # deleted since it was listed
    except ValueError as exc:
        _log.error("skipping unreadable record %s: %s", key, exc)
        report.unreadable += 1
        return None


def _count_interaction(
    report: RolloutReport, record: Any, since: datetime, until: datetime
) -> tuple[str, str] | None:
    """Counts one interaction; returns (its id, the model that wrote it) when it counted."""
    asked = parse_time(str(record["created_at"]), what="interaction created_at")
    if not since <= asked <= until or record["question"].get("platform") == SMOKE_PLATFORM:
        return None
    answer = record["answer"]
    model = str(answer["model"])
    routed = report.row(str(answer.get("routed_model") or model))
    routed.routed += 1
    grounding = answer.get("grounding")
    if grounding:
        checked = report.row(str(grounding["model"]))
        checked.checked += 1
        checked.support.append(float(grounding["support"]))
        checked.removed_citations += int(grounding["removed_citations"])
        if grounding.get("fallback"):
            checked.grounding_fallbacks += 1
    if answer.get("abstained"):
        routed.abstained += 1
    elif answer.get("extractive") and routed.model != model and not grounding:
        routed.fallbacks += 1
    writer = report.row(model)
    writer.answers += 1
    writer.generation.append(float(answer["timings"]["generation"]))
    return str(record["id"]), model


def _count_feedback(store: ObjectStore, report: RolloutReport, writers: dict[str, str]) -> None:
    for key in store.list(FEEDBACK):
        interaction_id = key[len(FEEDBACK) :].split("/", 1)[0]
        model = writers.get(interaction_id)
        if model is None:
            continue
        record = _load(store, key, report)
        if record is None:
            continue
        try:
            label = Feedback.from_record(record).label
        except (KeyError, TypeError, ValueError) as exc:
            _log.error("skipping unreadable feedback %s: %s", key, exc)
            report.unreadable += 1
            continue
        if label is FeedbackLabel.POSITIVE:
            report.row(model).positive += 1
        elif label is FeedbackLabel.NEGATIVE:
            report.row(model).negative += 1
