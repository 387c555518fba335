"""The per-model canary figures count grounding checks and their fallbacks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.storage.logs import ObjectInteractionLog
from core.object_keys import interaction_key
from core.types import Answer, Grounding, Interaction, Question, Timings
from tests.fakes import MemoryObjectStore
from training.rollout_report import rollout_report


def _store(n: int, *, model: str, grounding: Grounding | None, store: MemoryObjectStore) -> None:
    answer = Answer(
        text="Run make test [1].",
        sources=(),
        confidence=0.8,
        abstained=model == "abstained",
        model=model,
        extractive=model == "extractive",
        timings=Timings(generation=0.5),
        interaction_id=f"i{n}",
        routed_model="small",
        grounding=grounding,
    )
    asked = datetime.now(UTC).isoformat(timespec="milliseconds")
    interaction = Interaction(f"i{n}", asked, Question("How?"), answer)
    store.put(interaction_key(interaction.id, asked), ObjectInteractionLog.encode(interaction))


def test_grounding_fallbacks_are_reported_apart_from_model_failures() -> None:
    store = MemoryObjectStore()
    sent = Grounding("small", 0.9, 0.45, 2, 0, 1, 0)
    _store(0, model="small", grounding=sent, store=store)
    _store(1, model="small", grounding=sent, store=store)
    _store(2, model="extractive", store=store, grounding=Grounding(
        "small", 0.2, 0.45, 3, 3, 0, 0, fallback="extractive", reason="support 0.20 below 0.45"
    ))  # fmt: skip
    _store(3, model="abstained", store=store, grounding=Grounding(
        "small", 0.1, 0.45, 1, 1, 2, 0, fallback="abstained", reason="weak"
    ))  # fmt: skip
    _store(4, model="extractive", grounding=None, store=store)  # the model failed
    now = datetime.now(UTC)
    report = rollout_report(store, since=now - timedelta(hours=1), until=now + timedelta(hours=1))
    small = report.models["small"].to_record()
    assert (small["routed"], small["checked"], small["grounding_fallbacks"]) == (5, 4, 2)
    assert small["grounding_fallback_rate"] == 0.5
    assert small["mean_support"] == pytest.approx((0.9 + 0.9 + 0.2 + 0.1) / 4)
    assert small["removed_citations"] == 4
    assert (small["fallbacks"], small["abstained"]) == (1, 1)
