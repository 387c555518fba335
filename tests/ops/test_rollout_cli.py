"""`leximind model canary|promote|rollback` during a staged rollout, and `model canary-status`
reading answers and feedback per model from the object store (fake vLLM API, in-memory
registry in place of MLflow)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.llm.active_model import FileActiveModel
from adapters.storage.local import LocalObjectStore
from adapters.storage.logs import ObjectInteractionLog
from core.object_keys import feedback_key, interaction_key
from core.rollout import RolloutState
from core.types import Answer, Feedback, FeedbackLabel, Interaction, Question, Timings
from ops.wiring import TrainingBackends
from tests.ops.cli_support import invoke, model_env
from tests.support.fake_vllm import FakeVllm, fake_vllm, write_fake_adapter
from tests.support.retraining import MemoryRegistry, MemoryTracker, ScriptedTrainer
from training.ports import VersionStatus


@pytest.fixture
def server() -> Iterator[FakeVllm]:
    with fake_vllm() as fake:
        fake.default_answer = "Read the README [1]."
        yield fake


@pytest.fixture
def env(tmp_path: Path, server: FakeVllm, model_cache: Path) -> dict[str, str]:
    return model_env(tmp_path, server, model_cache)


def test_canary_then_promote_or_stop_from_the_command_line(
    tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """canary starts and changes a share, list shows it, rollback stops it, promote with no
    version gives the challenger everyone."""
    registry = MemoryRegistry()
    for version in ("v1", "v2"):
        write_fake_adapter(tmp_path / "data" / "adapters" / version, {})
        registry.register(version, run_id=f"run-{version}", dataset_version="d1")
    backends = TrainingBackends(ScriptedTrainer([]), MemoryTracker(), registry)
    monkeypatch.setattr("ops.wiring.build_model_registry", lambda settings: backends.registry)
    active = FileActiveModel(tmp_path / "data" / "deploy" / "active_model.json")

    assert invoke(env, "model", "promote", "v1")[0] == 0
    code, output = invoke(env, "model", "canary", "v2", "--share", "0.1")
    assert code == 0 and "canary: v2 answers 10.0% of users (before: 0.0%)" in output
    code, output = invoke(env, "model", "canary", "v2", "--share", "0.1")
    assert code == 0 and "already answers 10.0%" in output
    assert invoke(env, "model", "canary", "v2", "--share", "0.25")[0] == 0
    assert active.state() == RolloutState("v1", "v2", 0.25)
    listed = json.loads(invoke(env, "model", "list", "--json")[1])
    assert (listed["serving"], listed["challenger"], listed["share"]) == ("v1", "v2", 0.25)
    assert "canary: v2 answers 25.0%" in invoke(env, "model", "list")[1]

    code, output = invoke(env, "model", "rollback")
    assert code == 0 and "stopped the canary of v2; v1 answers every question" in output
    assert active.state() == RolloutState("v1")

    assert invoke(env, "model", "canary", "v2", "--share", "0.5")[0] == 0
    code, output = invoke(env, "model", "promote")
    assert code == 0 and "promoted v2 (before: v1)" in output
    assert active.state() == RolloutState("v2")
    assert registry.get("v2").status is VersionStatus.CHAMPION


def test_canary_errors_are_reported_plainly(env: dict[str, str]) -> None:
    """No adapter, a share out of range, promote with nothing canaried: exit codes and reasons."""
    code, output = invoke(env, "model", "canary", "v9", "--share", "0.1")
    assert code == 1 and "no adapter for v9" in output
    code, output = invoke(env, "model", "canary", "v9", "--share", "1.5")
    assert code == 2 and "--share" in output
    code, output = invoke(env, "model", "promote")
    assert code == 1 and "no canary is running" in output


def _interaction(
    n: int, *, model: str, routed: str, generation: float, at: datetime, platform: str = "slack"
) -> Interaction:
    answer = Answer(
        text="Run make test.",
        sources=(),
        confidence=0.8,
        abstained=model == "abstained",
        model=model,
        extractive=model == "extractive",
        timings=Timings(generation=generation),
        interaction_id=f"i{n}",
        routed_model=routed,
    )
    asked = at.isoformat(timespec="milliseconds")
    return Interaction(f"i{n}", asked, Question("How?", platform=platform), answer)


def _feedback(
    store: LocalObjectStore, interaction_id: str, user: int, label: FeedbackLabel
) -> None:
    record = Feedback(
        interaction_id, "slack", f"{user:032x}", "+1", label, "2026-01-01T00:00:00+00:00"
    )
    store.put(
        feedback_key(interaction_id, record.user_hash), json.dumps(record.to_record()).encode()
    )


def test_canary_status_reports_each_model_from_the_logs(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """Answers, abstentions, fallbacks, p50/p95 generation time and the positive-feedback rate
    per model, for the window asked; older answers and smoke questions are left out."""
    store = LocalObjectStore(tmp_path / "data" / "objects")
    now = datetime.now(UTC)
    made = [
        *(
            _interaction(n, model="v1", routed="v1", generation=0.1 * (n + 1), at=now)
            for n in range(10)
        ),
        _interaction(10, model="v2", routed="v2", generation=2.0, at=now),
        _interaction(11, model="v2", routed="v2", generation=4.0, at=now),
        _interaction(12, model="extractive", routed="v2", generation=0.01, at=now),
        _interaction(13, model="abstained", routed="v2", generation=0.0, at=now),
        _interaction(14, model="v2", routed="v2", generation=9.0, at=now - timedelta(days=3)),
        _interaction(15, model="v2", routed="v2", generation=9.0, at=now, platform="smoke"),
    ]
    for interaction in made:
        key = interaction_key(interaction.id, interaction.created_at)
        store.put(key, ObjectInteractionLog.encode(interaction))
    _feedback(store, "i0", 1, FeedbackLabel.POSITIVE)
    _feedback(store, "i1", 1, FeedbackLabel.POSITIVE)
    _feedback(store, "i1", 2, FeedbackLabel.NEGATIVE)
    _feedback(store, "i10", 1, FeedbackLabel.NEGATIVE)
    _feedback(store, "i14", 1, FeedbackLabel.POSITIVE)  # outside the window
    asyncio.run(
        FileActiveModel(tmp_path / "data" / "deploy" / "active_model.json").stage("v2", 0.2)
    )

    code, output = invoke(env, "model", "canary-status", "--hours", "24", "--json")
    assert code == 0, output
    report = json.loads(output)
    assert (report["champion"], report["challenger"], report["share"]) == ("base-model", "v2", 0.2)
    rows = {row["model"]: row for row in report["models"]}
    v1, v2 = rows["v1"], rows["v2"]
    assert (v1["routed"], v1["answers"], v1["positive"], v1["negative"]) == (10, 10, 2, 1)
    assert v1["positive_rate"] == pytest.approx(2 / 3)
    assert v1["generation_p50"] == pytest.approx(0.5) and v1["generation_p95"] == pytest.approx(1.0)
    assert (v2["routed"], v2["answers"], v2["abstained"], v2["fallbacks"]) == (4, 2, 1, 1)
    assert (v2["positive"], v2["negative"], v2["positive_rate"]) == (0, 1, 0.0)
    assert v2["generation_p95"] == 4.0

    code, output = invoke(env, "model", "canary-status")
    assert code == 0 and "challenger: v2 answers 20.0% of users" in output
    assert "67%" in output and "v2" in output
