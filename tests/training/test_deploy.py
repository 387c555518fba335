"""Hot redeploy: load, smoke-test through the core, switch the active name; keep the previous
adapter for rollback and unload older ones (against a local fake of vLLM's API)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.llm.active_model import FileActiveModel
from core.answering import AnswerPolicy
from core.types import Source
from tests.fakes import ListRetriever, MemoryInteractionLog, chunk
from tests.support.fake_vllm import FakeVllm, fake_vllm, write_fake_adapter
from tests.support.retraining import MemoryRegistry
from training.deploy import Deployer
from training.deploy_ledger import DeployLedger
from training.errors import DeploymentError
from training.evaluation import ModelEndpoint
from training.ports import VersionStatus
from training.smoke import AnswerSmokeTest
from training.vllm_adapters import VllmAdapterServer

QUESTION = "How do I get started?"
PASSAGE = "Getting started: install the package with pip and run the tests with pytest."


@pytest.fixture
def server() -> Iterator[FakeVllm]:
    with fake_vllm() as fake:
        yield fake


class Setup:
    """A deployer over the fake server, with what the tests look at."""

    def __init__(self, server: FakeVllm, tmp_path: Path, *, sources: list[Source]) -> None:
        self.server = server
        self.tmp = tmp_path
        self.active = FileActiveModel(tmp_path / "deploy" / "active_model.json")
        self.log = MemoryInteractionLog()
        self.registry = MemoryRegistry()
        self.deployer = Deployer(
            server=VllmAdapterServer(root_url=server.root_url, timeout=10),
            active=self.active,
            smoke=AnswerSmokeTest(
                endpoint=ModelEndpoint(base_url=server.base_url, timeout=10),
                retriever=ListRetriever({"default": sources}),
                interaction_log=self.log,
                policy=AnswerPolicy(min_relevance=0.3),
                question=QUESTION,
            ),
            ledger=DeployLedger(tmp_path / "deploy"),
            base_model="base-model",
            adapters_dir=tmp_path / "adapters",
            registry=self.registry,
        )

    def adapter(self, version: str) -> Path:
        """A registered adapter under adapters/<version>; it answers the server's default."""
        folder = write_fake_adapter(self.tmp / "adapters" / version, {})
        self.registry.register(version, run_id=f"run-{version}", dataset_version="d1")
        return folder


@pytest.fixture
def setup(server: FakeVllm, tmp_path: Path) -> Setup:
    source = Source(chunk("docs/start.md", PASSAGE, title="Getting started"), score=0.8)
    made = Setup(server, tmp_path, sources=[source])
    server.default_answer = "Install it with pip [1]."
    return made


async def test_promotion_switches_the_active_model_after_a_smoke_answer(setup: Setup) -> None:
    """The adapter is loaded, answers the smoke question through the core, becomes active."""
    setup.adapter("v1")

    switch = await setup.deployer.promote("v1")

    assert (switch.active, switch.previous) == ("v1", "base-model")
    assert setup.active.current() == "v1" and await setup.deployer.active_model() == "v1"
    assert "v1" in setup.server.adapters
    smoke = list(setup.log.records.values())
    assert len(smoke) == 1 and smoke[0].question.platform == "smoke"
    assert smoke[0].answer.model == "v1" and not smoke[0].answer.extractive
    prompt = setup.server.requests[-1]["messages"][-1]["content"]
    assert "Getting started" in prompt and QUESTION in prompt
    assert setup.registry.get("v1").status is VersionStatus.CHAMPION
    assert setup.deployer.rollback_target() == "base-model"


async def test_the_previous_adapter_stays_loaded_and_older_ones_go(setup: Setup) -> None:
    """After three promotions the active and the previous adapter are loaded, the first is not;
    the registry has one champion and the replaced ones retired."""
    for version in ("v1", "v2", "v3"):
        setup.adapter(version)
        await setup.deployer.promote(version)

    assert set(setup.server.adapters) == {"v2", "v3"}
    assert setup.active.current() == "v3"
    statuses = {v.version: v.status for v in setup.registry.versions()}
    assert statuses == {
        "v1": VersionStatus.RETIRED,
        "v2": VersionStatus.RETIRED,
        "v3": VersionStatus.CHAMPION,
    }


async def test_rollback_restores_the_previous_model_at_once(setup: Setup) -> None:
    """A rollback switches back to the still loaded previous adapter, then to the base model."""
    for version in ("v1", "v2"):
        setup.adapter(version)
        await setup.deployer.promote(version)
    loads_before = len(setup.server.requests)

    switch = await setup.deployer.rollback()

    assert (switch.active, switch.previous) == ("v1", "v2")
    assert setup.active.current() == "v1"
    assert len(setup.server.requests) == loads_before  # no smoke question: it served before
    # v2 stays loaded for requests that picked its name just before the switch.
    assert {"v1", "v2"} <= set(setup.server.adapters) and switch.unloaded == ()
    assert setup.registry.get("v2").status is VersionStatus.RETIRED
    serving = setup.registry.champion()
    assert serving is not None and serving.version == "v1"

    back = await setup.deployer.rollback()
    assert back.active == "base-model" and setup.active.current() == "base-model"
    assert back.unloaded == ("v2",) and set(setup.server.adapters) == {"v1"}
    with pytest.raises(DeploymentError, match="no earlier model"):
        await setup.deployer.rollback()


async def test_a_restarted_server_gets_the_serving_adapter_back(setup: Setup) -> None:
    """vLLM forgets runtime adapters when it restarts; loading the next candidate loads the
    adapter in service again as well."""
    setup.adapter("v1")
    await setup.deployer.promote("v1")
    setup.server.adapters.clear()

    await setup.deployer.load_candidate("v2", setup.adapter("v2"))

    assert set(setup.server.adapters) == {"v1", "v2"}


async def test_a_failed_smoke_question_switches_nothing(setup: Setup) -> None:
    """An adapter that answers with nothing is unloaded again and the active model stays."""
    setup.adapter("v1")
    await setup.deployer.promote("v1")
    setup.adapter("v2")
    setup.server.default_answer = ""

    with pytest.raises(DeploymentError, match="v2"):
        await setup.deployer.promote("v2")

    assert setup.active.current() == "v1"
    assert "v2" not in setup.server.adapters
    assert setup.registry.get("v2").status is VersionStatus.CANDIDATE


async def test_the_smoke_question_asks_the_model_directly_without_evidence(
    server: FakeVllm, tmp_path: Path
) -> None:
    """With no knowledge base to retrieve from, the adapter still has to answer the question."""
    setup = Setup(server, tmp_path, sources=[])
    server.default_answer = "Start with the README."
    setup.adapter("v1")

    await setup.deployer.promote("v1")

    assert setup.active.current() == "v1"
    assert server.requests[-1]["messages"][-1]["content"].endswith(
        f"Question: {QUESTION}\n\nAnswer:"
    )


async def test_an_unknown_version_is_refused(setup: Setup) -> None:
    """Promoting a version with no adapter folder fails with a clear error."""
    with pytest.raises(DeploymentError, match="no adapter for v9"):
        await setup.deployer.promote("v9")
    assert setup.active.current() is None


async def test_a_server_without_runtime_lora_updating_is_explained(setup: Setup) -> None:
    """Without VLLM_ALLOW_RUNTIME_LORA_UPDATING the error says how to start vLLM."""
    setup.server.lora_routes = False
    setup.adapter("v1")
    with pytest.raises(DeploymentError, match="VLLM_ALLOW_RUNTIME_LORA_UPDATING=True"):
        await setup.deployer.promote("v1")


async def test_an_unreachable_server_is_a_deployment_error(tmp_path: Path) -> None:
    """Nothing listening: DeploymentError naming the server, nothing switched."""
    server = VllmAdapterServer(root_url="http://127.0.0.1:9", timeout=2)
    with pytest.raises(DeploymentError, match=r"cannot reach vLLM at http://127\.0\.0\.1:9"):
        await server.load("v1", tmp_path)


async def test_loading_and_unloading_are_idempotent(server: FakeVllm, tmp_path: Path) -> None:
    """Loading a loaded adapter or unloading an absent one is not an error."""
    adapters = VllmAdapterServer(root_url=server.root_url, timeout=10)
    folder = write_fake_adapter(tmp_path / "v1", {})
    await adapters.load("v1", folder)
    await adapters.load("v1", folder)
    assert await adapters.loaded() == ["v1"]
    await adapters.unload("v1")
    await adapters.unload("v1")
    assert await adapters.loaded() == []
    with pytest.raises(DeploymentError, match="No adapter found"):
        await adapters.load("v2", tmp_path / "missing")
