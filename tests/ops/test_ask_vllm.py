"""/ask through a real vLLM server: the model's text with sources, then extractive when it dies."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ops.api import create_app
from ops.settings import AnswerSettings, EmbeddingSettings, LLMSettings, RetrievalSettings, Settings
from rag.sources import read_tree
from tests.support.corpus import make_fastapi_repo
from tests.support.services import index_tree
from tests.support.vllm_server import VllmServer

pytestmark = pytest.mark.vllm


def test_ask_uses_the_model_then_falls_back_when_it_stops(
    own_vllm_server: VllmServer, tmp_path: Path, model_cache: Path
) -> None:
    """While vLLM runs, /ask returns its text and sources; once it stops, an extractive answer."""
    repo = make_fastapi_repo(
        tmp_path / "repo",
        files=["docs/en/docs/tutorial/cors.md", "docs/en/docs/tutorial/testing.md"],
    )
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        embedding=EmbeddingSettings(cache_dir=model_cache),
        # The tiny model's window is 512 tokens: keep the prompt and reply inside it.
        llm=LLMSettings(
            base_url=own_vllm_server.base_url,
            model=own_vllm_server.model,
            timeout=30,
            max_tokens=24,
            temperature=0,
        ),
        retrieval=RetrievalSettings(top_k=2),
        # The tiny random Llama writes noise: these tests are about the plumbing, so its
        # text is sent as written, without the grounding check.
        answer=AnswerSettings(max_context_chars=500, grounding=False),
    )
    index_tree(settings, read_tree(repo, max_bytes=10**6), kb="default", source=str(repo))
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").json()["model"] == "ok (tiny-llama-own)"
        r = client.post("/ask", json={"question": "How do I configure CORS middleware?"})
        body = r.json()
        assert r.status_code == 200, body
        assert body["model"] == "tiny-llama-own" and not body["extractive"]
        assert body["answer"].strip()
        assert not body["answer"].startswith("From the project's sources")
        assert body["sources"][0]["path"] == "docs/en/docs/tutorial/cors.md"

        own_vllm_server.stop()
        assert not own_vllm_server.is_running()
        r = client.post("/ask", json={"question": "How do I configure CORS middleware?"})
        body = r.json()
        assert r.status_code == 200, body
        assert body["model"] == "extractive" and body["extractive"]
        assert body["answer"].startswith("From the project's sources")
        assert body["sources"][0]["path"] == "docs/en/docs/tutorial/cors.md"
        health = client.get("/healthz").json()
        assert health["status"] == "degraded" and health["model"].startswith("unreachable")
