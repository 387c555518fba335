"""/ask during a staged rollout: a named user is hashed with the bots' keyed hash (never stored
raw) and routed by it; a question without a user goes to the champion (fake vLLM API)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from adapters.llm.active_model import FileActiveModel
from bots.identity import UserHasher
from ops.api import create_app
from ops.settings import EmbeddingSettings, LLMSettings, Settings
from rag.sources import read_tree
from tests.support.corpus import make_fastapi_repo
from tests.support.fake_vllm import FakeVllm, fake_vllm
from tests.support.services import index_tree

KEY = "ab" * 32


@pytest.fixture
def server() -> Iterator[FakeVllm]:
    with fake_vllm() as fake:
        fake.default_answer = "Add CORSMiddleware [1]."
        fake.adapters["v2"] = {}
        yield fake


@pytest.fixture
def settings(tmp_path: Path, model_cache: Path, server: FakeVllm) -> Settings:
    made = Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        embedding=EmbeddingSettings(cache_dir=model_cache),
        llm=LLMSettings(base_url=server.base_url, model="base-model"),
        bots={"user_hash_key": KEY},  # type: ignore[arg-type]
    )
    repo = make_fastapi_repo(tmp_path / "repo")
    index_tree(made, read_tree(repo, max_bytes=1_000_000), kb="default", source="r")
    return made


def test_a_named_user_is_hashed_and_routed_to_the_challenger(settings: Settings) -> None:
    """With the challenger at 100%, a named user gets it and an anonymous question the
    champion; the interaction holds the keyed hash, not the name."""
    asyncio.run(
        FileActiveModel(settings.data_dir / "deploy" / "active_model.json").stage("v2", 1.0)
    )
    question = "How do I enable CORS in my FastAPI app?"
    with TestClient(create_app(settings)) as client:
        named = client.post("/ask", json={"question": question, "user": "alice@example.org"})
        anonymous = client.post("/ask", json={"question": question})
        empty = client.post("/ask", json={"question": question, "user": ""})
    assert named.status_code == 200 and named.json()["model"] == "v2"
    assert anonymous.json()["model"] == "base-model"
    assert empty.status_code == 422 and "user" in empty.json()["detail"]
    stored = next(
        settings.data_dir.glob(f"objects/interactions/*/*/*/{named.json()['interaction_id']}.json")
    )
    text = stored.read_text()
    assert "alice" not in text
    record = json.loads(text)
    assert record["question"]["user_hash"] == UserHasher(bytes.fromhex(KEY))(
        "api", "alice@example.org"
    )
    assert record["answer"]["routed_model"] == "v2"
