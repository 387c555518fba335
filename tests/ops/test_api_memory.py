"""/ask says which endorsed answer leads its text: the `memory` lead of the response schema, filled
for a paraphrase of an entry's question and null for an unrelated question."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.memory import MemoryEntry, MemorySource
from ops.api import create_app
from ops.settings import EmbeddingSettings, Settings
from ops.wiring import open_services_sync
from rag.sources import read_tree
from tests.support.corpus import make_fastapi_repo

LINK = "https://github.com/fastapi/fastapi/issues/9#issuecomment-1"
ENTRY = MemoryEntry(
    id="github-fastapi.fastapi.9",
    kb="default",
    question="How can I run code once when the application starts up?",
    answer="Use a lifespan function: the code before its yield runs once at start-up.",
    source=MemorySource.GITHUB,
    endorsed_by=("maint",),
    endorsed_at="2026-11-20T10:00:00+00:00",
    link=LINK,
    platform="github",
)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Iterator[TestClient]:
    repo = make_fastapi_repo(tmp_path_factory.mktemp("repo"))
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path_factory.mktemp("data"),
        embedding=EmbeddingSettings(cache_dir=model_cache),
    )
    with open_services_sync(settings, "cli") as (process, _):
        services = process.services
        services.indexer.index(read_tree(repo, max_bytes=1_000_000), kb="default", source=str(repo))
        assert services.memory is not None
        services.memory.remember(ENTRY)
    with TestClient(create_app(settings)) as c:
        yield c


def test_ask_response_schema_has_the_memory_lead(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    memory = schema["AskResponse"]["properties"]["memory"]
    assert {"$ref": "#/components/schemas/MemoryOut"} in memory["anyOf"]
    assert {"lead", "link", "asked_before", "score"} <= set(schema["MemoryOut"]["required"])


def test_ask_names_the_entry_that_leads_the_answer(client: TestClient) -> None:
    body = client.post(
        "/ask", json={"question": "How do I run some code once when my app starts?"}
    ).json()
    memory = body["memory"]
    assert memory["lead"].startswith("A maintainer answered a similar question on 2026-11-20")
    assert body["answer"].startswith(memory["lead"])
    assert memory["link"] == LINK and memory["source"] == "github"
    assert memory["asked_before"] == LINK  # asked over the API, answered on GitHub
    assert memory["score"] >= Settings(_env_file=None).memory.threshold


def test_an_unrelated_question_has_no_memory_lead(client: TestClient) -> None:
    body = client.post("/ask", json={"question": "How do I enable CORS in my FastAPI app?"}).json()
    assert body["memory"] is None
