"""Answer-memory entries from corrections and reactions live in S3 and LanceDB, lead answers,
survive re-indexing, and are replaced, withdrawn and deleted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.endorsements import MemoryCurator
from core.memory import MemorySource, answer_entry_id
from core.object_keys import memory_key
from core.types import ChunkKind, Feedback, FeedbackLabel, Question
from ops import wiring
from ops.settings import EmbeddingSettings, Settings, StorageSettings
from ops.wiring import open_services_sync
from ops.wiring.memory import build_curator
from rag.sources import read_tree
from tests.adapters.test_s3_storage import new_bucket
from tests.support.corpus import make_fastapi_repo
from tests.support.review import interaction, store_feedback, store_interaction
from tests.support.seaweedfs import SeaweedServer

PAGES = ["docs/en/docs/tutorial/cors.md", "docs/en/docs/tutorial/testing.md"]
QUESTION = "How can I make my API reachable from a browser app on another domain?"
CORRECTED = "Add CORSMiddleware and list the front-end's origin in allow_origins."


@pytest.fixture
def services(
    tmp_path: Path, model_cache: Path, seaweedfs: SeaweedServer
) -> Iterator[wiring.Services]:
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        embedding=EmbeddingSettings(cache_dir=model_cache),
        storage=StorageSettings(
            backend="s3",
            endpoint=seaweedfs.endpoint,
            access_key=seaweedfs.access_key,
            secret_key=seaweedfs.secret_key,  # type: ignore[arg-type]
            secure=False,
            bucket=new_bucket(),
            catalog_ttl=0,
        ),
    )
    with open_services_sync(settings, "cli") as (process, _):
        built = process.services
        repo = make_fastapi_repo(tmp_path / "repo", files=PAGES)
        built.indexer.index(read_tree(repo, max_bytes=10**6), kb="docs", source=str(repo))
        yield built


def curator(services: wiring.Services) -> MemoryCurator:
    assert services.memory is not None
    return build_curator(Settings(_env_file=None), services.memory)  # the fixture's defaults


def correct(services: wiring.Services, interaction_id: str, answer: str, at: str) -> None:
    record = {"interaction_id": interaction_id, "answer": answer, "annotator": "maintainer"}
    record["created_at"] = at
    services.object_store.put(f"corrections/{interaction_id}.json", json.dumps(record).encode())


async def test_a_correction_leads_later_answers_and_survives_reindexing(
    services: wiring.Services, tmp_path: Path
) -> None:
    """A maintainer's correction becomes one object and one MEMORY chunk; a paraphrase of the
    question is answered with it first, a re-index keeps it, a new correction replaces it."""
    store = services.object_store
    store_interaction(store, interaction("c1", question=QUESTION, answer="Use a proxy."))
    correct(services, "c1", CORRECTED, "2026-11-22T09:00:00Z")
    report = curator(services).sync()
    assert report.remembered == 1

    entry = json.loads(store.get(memory_key("docs", answer_entry_id("c1"))))
    assert entry["source"] == "correction" and entry["endorsed_by"] == ["maintainer"]
    assert entry["question"] == QUESTION and entry["answer"] == CORRECTED
    ids = services.store.chunk_ids("docs")
    assert ids[f"memory-{answer_entry_id('c1')}"].startswith("memory://")

    asked = Question(text="How do I allow my browser frontend on another domain to call my API?")
    answer = await services.answers.answer(Question(text=asked.text, kb="docs", platform="slack"))
    assert answer.memory is not None and answer.memory.entry.answer == CORRECTED
    assert answer.text.startswith("A maintainer answered a similar question on 2026-11-22: ")
    assert answer.sources and all(s.chunk.kind is not ChunkKind.MEMORY for s in answer.sources)

    unrelated = await services.answers.answer(
        Question(text="How do I write tests with TestClient?", kb="docs")
    )
    assert unrelated.memory is None

    repo = make_fastapi_repo(tmp_path / "repo2", files=PAGES[:1])
    again = services.indexer.index(read_tree(repo, max_bytes=10**6), kb="docs", source="x")
    assert again.files_deleted == 1
    assert f"memory-{answer_entry_id('c1')}" in services.store.chunk_ids("docs")

    correct(services, "c1", "Use CORSMiddleware with allow_origins=['*'].", "2026-11-23T09:00:00Z")
    assert curator(services).sync().remembered == 1
    replaced = await services.answers.answer(Question(text=asked.text, kb="docs"))
    assert replaced.memory is not None
    assert replaced.memory.entry.answer == "Use CORSMiddleware with allow_origins=['*']."
    assert services.memory is not None and len(services.memory.entries("docs")) == 1


async def test_reactions_endorse_then_a_retraction_withdraws(services: wiring.Services) -> None:
    """Positive reactions from enough distinct users make an entry at once; a retracted one
    or a negative majority withdraws it; a maintainer deletes one from store and index."""
    store = services.object_store
    store_interaction(store, interaction("r1", question=QUESTION, answer=CORRECTED))
    for user in ("a" * 32, "b" * 32):
        store_feedback(store, "r1", user, FeedbackLabel.POSITIVE)
    recorder = services.feedback  # the endorsing log the bots record through
    third = Feedback("r1", "slack", "c" * 32, "+1", FeedbackLabel.POSITIVE, "2026-11-21T11:00:00Z")
    await recorder.record(third)
    assert services.memory is not None
    [entry] = services.memory.entries("docs")
    assert entry.source is MemorySource.REACTIONS and len(entry.endorsed_by) == 3
    assert entry.link is None or entry.link.startswith("https://")

    for user in ("b" * 32, "c" * 32):
        await recorder.record(Feedback("r1", "slack", user, "+1", None, "2026-11-21T12:00:00Z"))
    assert services.memory.entries("docs") == []
    assert not any(p.startswith("memory://") for p in services.store.chunk_ids("docs").values())

    await recorder.record(
        Feedback("r1", "slack", "b" * 32, "+1", FeedbackLabel.POSITIVE, "2026-11-21T13:00:00Z")
    )
    assert len(services.memory.entries("docs")) == 1
    for user in ("d" * 32, "e" * 32, "f" * 32):
        await recorder.record(
            Feedback("r1", "slack", user, "-1", FeedbackLabel.NEGATIVE, "2026-11-21T14:00:00Z")
        )
    assert services.memory.entries("docs") == []

    store_interaction(store, interaction("r2", question="How do I run tests?", answer="pytest"))
    correct(services, "r2", "Run pytest from the repository root.", "2026-11-24T09:00:00Z")
    curator(services).sync()
    assert services.memory.forget("docs", answer_entry_id("r2")) is True
    assert services.memory.entries("docs") == []
    assert services.memory.forget("docs", answer_entry_id("r2")) is False
    assert not any(p.startswith("memory://") for p in services.store.chunk_ids("docs").values())
