"""`leximind model list|promote|rollback` and `leximind retrain --now` (fake vLLM API, in-memory
trainer, tracker and registry in place of LlamaFactory and MLflow)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.llm.active_model import FileActiveModel
from ops import jobs
from ops.wiring import TrainingBackends
from tests.ops.cli_support import invoke, model_env
from tests.support.fake_vllm import FakeVllm, fake_vllm, write_fake_adapter
from tests.support.retraining import (
    MemoryRegistry,
    MemoryTracker,
    ScriptedTrainer,
    conala_inputs,
    intents,
)
from training.errors import TrainingFailed
from training.ports import VersionStatus

GOOD = {question: f"answer number {n}" for n, question in enumerate(intents(20))}


@pytest.fixture
def server() -> Iterator[FakeVllm]:
    with fake_vllm() as fake:
        fake.default_answer = "Read the README [1]."
        yield fake


@pytest.fixture
def env(tmp_path: Path, server: FakeVllm, model_cache: Path) -> dict[str, str]:
    conala = conala_inputs(tmp_path / "conala", GOOD)
    return {**model_env(tmp_path, server, model_cache), "LEXIMIND_DATASET__CONALA_DIR": str(conala)}


def use_backends(monkeypatch: pytest.MonkeyPatch, backends: TrainingBackends) -> None:
    """The composition root hands out these backends instead of LlamaFactory and MLflow."""
    monkeypatch.setattr("ops.wiring.build_training_backends", lambda settings, **_: backends)
    monkeypatch.setattr("ops.wiring.build_model_registry", lambda settings: backends.registry)


def test_promote_then_rollback_from_the_command_line(
    tmp_path: Path, env: dict[str, str], server: FakeVllm, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Promote switches every process's model; list shows it; rollback switches back."""
    registry = MemoryRegistry()
    for version in ("v1", "v2"):
        write_fake_adapter(tmp_path / "data" / "adapters" / version, {})
        registry.register(version, run_id=f"run-{version}", dataset_version="d1")
    registry.set_metrics("v2", {"test/rougeL": 0.4321})
    use_backends(monkeypatch, TrainingBackends(ScriptedTrainer([]), MemoryTracker(), registry))
    active = FileActiveModel(tmp_path / "data" / "deploy" / "active_model.json")

    assert invoke(env, "model", "promote", "v1") == (0, "promoted v1 (before: base-model)\n")
    code, output = invoke(env, "model", "promote", "v2")
    assert code == 0 and "promoted v2 (before: v1)" in output
    assert active.current() == "v2" and set(server.adapters) == {"v1", "v2"}

    code, output = invoke(env, "model", "list", "--json")
    listed = json.loads(output)
    assert (listed["serving"], listed["rollback_to"]) == ("v2", "v1")
    assert {v["version"]: v["status"] for v in listed["versions"]} == {
        "v1": "retired",
        "v2": "champion",
    }
    code, output = invoke(env, "model", "list")
    assert code == 0 and "v2 *" in output and "0.4321" in output

    code, output = invoke(env, "model", "rollback")
    assert code == 0 and "rolled back to v1 (before: v2)" in output
    assert active.current() == "v1" and registry.get("v1").status is VersionStatus.CHAMPION


def test_deploy_errors_are_reported_plainly(env: dict[str, str]) -> None:
    """An unknown version or nothing to roll back to: exit 1 and the reason (the registry is
    MLflow in the data dir here, empty)."""
    code, output = invoke(env, "model", "promote", "v9")
    assert code == 1 and "no adapter for v9" in output
    code, output = invoke(env, "model", "rollback")
    assert code == 1 and "no earlier model to roll back to" in output
    code, output = invoke(env, "model", "list")
    assert code == 0 and "serving: base-model" in output and "rollback to: (nothing" in output


def test_an_unreachable_registry_still_lists_what_serves(env: dict[str, str]) -> None:
    """With the MLflow server down, list says so and still shows the model in service."""
    down = {
        **env,
        "LEXIMIND_TRACKING__URI": "http://127.0.0.1:9",
        "LEXIMIND_TRACKING__RETRIES": "0",
    }
    code, output = invoke(down, "model", "list")
    assert code == 0 and "registry unavailable" in output and "serving: base-model" in output


def test_deploying_needs_a_model_server(tmp_path: Path, model_cache: Path) -> None:
    """Without LEXIMIND_LLM__BASE_URL there is nothing to deploy into: a clear error."""
    env = {"LEXIMIND_DATA_DIR": str(tmp_path), "LEXIMIND_EMBEDDING__CACHE_DIR": str(model_cache)}
    code, output = invoke(env, "model", "promote", "v1")
    assert code == 1 and "LEXIMIND_LLM__BASE_URL" in output


def test_retrain_now_runs_the_loop_here(
    tmp_path: Path, env: dict[str, str], server: FakeVllm, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`retrain --now` builds, trains, evaluates and promotes in this process and records the run;
    a failed training exits 1 and leaves the champion."""
    adapter = write_fake_adapter(tmp_path / "prepared", GOOD)
    registry = MemoryRegistry()
    trainer = ScriptedTrainer([adapter, TrainingFailed("loss is NaN at step 3")])
    use_backends(monkeypatch, TrainingBackends(trainer, MemoryTracker(), registry))

    code, output = invoke(env, "retrain", "--now")
    assert code == 0 and "promoted: leximind-" in output
    champion = registry.versions()[0].version
    more = {**GOOD, "How do I reverse a list?": "items[::-1]"}  # new data, a new dataset version
    conala_inputs(tmp_path / "conala", more)
    code, output = invoke(env, "retrain", "--now")
    assert code == 1 and "training failed: loss is NaN at step 3" in output

    assert FileActiveModel(tmp_path / "data" / "deploy" / "active_model.json").current() == champion
    runs = jobs.RunLog(tmp_path / "data" / "scheduler").runs("retrain")
    assert [r["status"] for r in runs] == ["ok", "failed"]
    assert runs[0]["outcome"]["status"] == "promoted"


def test_retrain_now_without_a_trainer_says_so(env: dict[str, str]) -> None:
    """Without the trainer venv's CLI configured the command says what to set and exits 1."""
    code, output = invoke(env, "retrain", "--now")
    assert code == 1 and "LEXIMIND_TRAINING__CLI is not set" in output
