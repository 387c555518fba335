"""The HTTP API over a real index of FastAPI docs: answers, search, errors, health, metrics."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ops.api import create_app
from ops.settings import EmbeddingSettings, Settings, StorageSettings
from rag.sources import read_tree
from tests.support.corpus import make_fastapi_repo
from tests.support.seaweedfs import SeaweedServer
from tests.support.services import index_tree


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Settings:
    """Settings whose data dir holds an index of the FastAPI docs slice as `default`."""
    repo = make_fastapi_repo(tmp_path_factory.mktemp("repo"))
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path_factory.mktemp("data"),
        embedding=EmbeddingSettings(cache_dir=model_cache),
    )
    index_tree(settings, read_tree(repo, max_bytes=1_000_000), kb="default", source=str(repo))
    return settings


@pytest.fixture
def client(indexed: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(indexed)) as c:
        yield c


def test_search_finds_the_page_with_lines_and_permalink(client: TestClient) -> None:
    """/search ranks the page that answers first, with relative path, lines and a GitHub URL."""
    r = client.post("/search", json={"question": "How to pass a list in query parameters?"})
    assert r.status_code == 200
    sources = r.json()["sources"]
    assert len(sources) == 5
    assert sources[0]["path"] == "docs/en/docs/tutorial/query-params-str-validations.md"
    first = sources[0]
    assert first["url"].startswith("https://github.com/fastapi/fastapi/blob/")
    assert first["url"].endswith(f"{first['path']}#L{first['start_line']}-L{first['end_line']}")
    assert first["snippet"] and first["title"]
    assert len({s["path"] for s in sources}) == 5, "one passage per page"


def test_search_k_and_unknown_kb(client: TestClient) -> None:
    """`k` limits the results; an unknown knowledge base is a 404 with a message."""
    assert len(client.post("/search", json={"question": "CORS", "k": 2}).json()["sources"]) == 2
    r = client.post("/search", json={"question": "CORS", "kb": "elsewhere"})
    assert r.status_code == 404 and "elsewhere" in r.json()["detail"]


def test_ask_answers_extractively_with_sources_and_records(
    client: TestClient, indexed: Settings
) -> None:
    """/ask without a model answers from the passages, cites them, and records the interaction."""
    r = client.post("/ask", json={"question": "How do I enable CORS in my FastAPI app?"})
    assert r.status_code == 200
    body = r.json()
    assert body["model"] == "extractive" and body["extractive"] and not body["abstained"]
    assert "[1]" in body["answer"]
    assert body["sources"][0]["path"] == "docs/en/docs/tutorial/cors.md"
    assert 0 < body["confidence"] <= 1
    recorded = list(
        indexed.data_dir.glob(f"objects/interactions/*/*/*/{body['interaction_id']}.json")
    )
    assert len(recorded) == 1


def test_ask_abstains_off_topic(client: TestClient) -> None:
    """A question the docs cannot answer gets an abstention listing the closest sources."""
    r = client.post("/ask", json={"question": "What is a good recipe for sourdough bread?"})
    body = r.json()
    assert r.status_code == 200 and body["abstained"]
    assert "don't know" in body["answer"]


def test_ask_follow_up_uses_history(client: TestClient) -> None:
    """A terse follow-up is understood through the earlier turn."""
    history = [{"question": "How do I run background tasks?", "answer": "Use BackgroundTasks."}]
    r = client.post("/ask", json={"question": "Can they be async?", "history": history})
    assert r.status_code == 200
    assert r.json()["sources"][0]["path"] == "docs/en/docs/tutorial/background-tasks.md"


@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [
        ({"question": ""}, 422, "empty"),
        ({"question": "   \n "}, 422, "empty"),
        ({"question": "why? " * 1000}, 422, "limit"),
        ({}, 422, "question"),
        ({"question": 42}, 422, "question"),
        ({"question": "hi", "k": 0}, 422, "k"),
    ],
)
def test_bad_input_is_a_clear_4xx(
    client: TestClient, payload: dict[str, object], status: int, message: str
) -> None:
    """Invalid questions and bodies get a 4xx whose detail says what is wrong."""
    endpoint = "/search" if "k" in payload else "/ask"
    r = client.post(endpoint, json=payload)
    assert r.status_code == status
    assert message in r.json()["detail"]


def test_oversized_body_and_history_refused(client: TestClient) -> None:
    """A body over 1 MB is a 413 and more than 50 history turns a 422, before any work."""
    r = client.post("/ask", content=b"{" + b" " * 1_000_001 + b"}")
    assert r.status_code == 413 and "over" in r.json()["detail"]
    turns = [{"question": "q", "answer": "a"}] * 51
    r = client.post("/ask", json={"question": "hi there", "history": turns})
    assert r.status_code == 422 and "history" in r.json()["detail"]


def test_malformed_json_is_400(client: TestClient) -> None:
    """A body that is not JSON is a 400, not a stack trace."""
    r = client.post("/ask", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json() == {"detail": "the request body is not valid JSON"}


def test_health_metrics_and_docs(client: TestClient) -> None:
    """/healthz reports the stores, spool and model, /metrics counts requests, /docs is served."""
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["store"] == "ok"
    assert health.json()["object_store"] == "ok" and health.json()["spool_depth"] == 0
    assert health.json()["model"].startswith("extractive")
    client.post("/search", json={"question": "Docker"})
    metrics = client.get("/metrics").text
    assert 'leximind_requests_total{endpoint="/search",status="200"}' in metrics
    assert "leximind_retrieval_seconds_bucket" in metrics
    assert "leximind_spool_depth 0.0" in metrics and "leximind_object_store_up 1.0" in metrics
    assert client.get("/docs").status_code == 200


def test_store_failure_is_503_and_server_keeps_serving(
    tmp_path: Path, indexed: Settings, model_cache: Path
) -> None:
    """With the index destroyed under it, /ask answers 503 with a message; /metrics still works."""
    data = tmp_path / "data"
    shutil.copytree(indexed.data_dir, data)
    settings = indexed.model_copy(update={"data_dir": data})
    with TestClient(create_app(settings)) as c:
        assert c.post("/search", json={"question": "CORS"}).status_code == 200
        shutil.rmtree(data / "lancedb")
        r = c.post("/ask", json={"question": "How do I enable CORS?"})
        assert r.status_code == 503
        assert "unavailable" in r.json()["detail"]
        assert c.get("/healthz").status_code == 503
        assert c.get("/metrics").status_code == 200


def test_server_sees_a_separate_index_run(tmp_path: Path, model_cache: Path) -> None:
    """A knowledge base indexed by another process is searchable without a server restart."""
    data = tmp_path / "data"
    settings = Settings(
        _env_file=None, data_dir=data, embedding=EmbeddingSettings(cache_dir=model_cache)
    )
    first = make_fastapi_repo(tmp_path / "first", files=["docs/en/docs/tutorial/cors.md"])
    index_tree(settings, read_tree(first, max_bytes=10**6), kb="default", source=str(first))
    second = make_fastapi_repo(tmp_path / "second", files=["docs/en/docs/deployment/docker.md"])
    with TestClient(create_app(settings)) as c:
        assert c.post("/search", json={"question": "CORS"}).status_code == 200
        assert c.post("/search", json={"question": "Docker", "kb": "ops"}).status_code == 404
        env = {
            **os.environ,
            "LEXIMIND_DATA_DIR": str(data),
            "LEXIMIND_EMBEDDING__CACHE_DIR": str(model_cache),
        }
        subprocess.run(
            [sys.executable, "-m", "ops.cli", "index", str(second), "--kb", "ops"],
            env=env,
            check=True,
            capture_output=True,
        )
        r = c.post("/search", json={"question": "Docker image", "kb": "ops"})
        assert r.status_code == 200
        assert r.json()["sources"][0]["path"] == "docs/en/docs/deployment/docker.md"
        assert c.post("/search", json={"question": "CORS"}).json()["sources"][0]["path"] == (
            "docs/en/docs/tutorial/cors.md"
        )


def test_answers_survive_an_object_store_outage(
    tmp_path: Path, indexed: Settings, own_seaweedfs: SeaweedServer
) -> None:
    """With S3 down /ask still answers, /healthz shows the spooled record; drain stores it."""
    storage = StorageSettings(
        backend="s3",
        endpoint=own_seaweedfs.endpoint,
        access_key=own_seaweedfs.access_key,
        secret_key=own_seaweedfs.secret_key,
        secure=False,
        connect_timeout=1.0,
        retries=0,
        spool_dir=tmp_path / "spool",
    )
    settings = indexed.model_copy(update={"storage": storage})
    own_seaweedfs.stop()
    with TestClient(create_app(settings)) as c:
        r = c.post("/ask", json={"question": "How do I enable CORS?"})
        assert r.status_code == 200
        health = c.get("/healthz")
        assert health.status_code == 200 and health.json()["status"] == "degraded"
        assert health.json()["spool_depth"] == 1
        assert "unreachable" in health.json()["object_store"]
        metrics = c.get("/metrics").text
        assert "leximind_spool_depth 1.0" in metrics and "leximind_object_store_up 0.0" in metrics

        own_seaweedfs.start()
        services = c.app.state.services  # type: ignore[attr-defined]
        assert asyncio.run(services.spooled_writer.drain()) == 1

        health = c.get("/healthz").json()
        assert (health["status"], health["object_store"], health["spool_depth"]) == ("ok", "ok", 0)
        keys = list(services.object_store.list("interactions/"))
        assert [k.rsplit("/", 1)[1] for k in keys] == [f"{r.json()['interaction_id']}.json"]
