"""Indexing is incremental: unchanged files embed nothing, edits re-embed only what changed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ops.settings import EmbeddingSettings, Settings
from ops.wiring import Services, open_services_sync
from rag.indexer import IndexReport
from rag.sources import read_tree
from tests.support.corpus import git, make_fastapi_repo

FILES = [
    "docs/en/docs/tutorial/cors.md",
    "docs/en/docs/tutorial/testing.md",
    "docs/en/docs/tutorial/background-tasks.md",
]


@pytest.fixture
def setup(tmp_path: Path, model_cache: Path) -> Iterator[tuple[Services, Path]]:
    repo = make_fastapi_repo(tmp_path / "repo", files=FILES)
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        embedding=EmbeddingSettings(cache_dir=model_cache),
    )
    with open_services_sync(settings, "cli") as (process, _):
        yield process.services, repo


def run(services: Services, repo: Path, kb: str = "default") -> IndexReport:
    return services.indexer.index(read_tree(repo, max_bytes=10**6), kb=kb, source=str(repo))


def test_second_run_embeds_nothing(setup: tuple[Services, Path]) -> None:
    """Re-indexing an unchanged repository embeds no passage and reports no change."""
    services, repo = setup
    first = run(services, repo)
    assert first.files_changed == 3 and first.chunks_embedded == first.chunks_total > 10
    second = run(services, repo)
    assert second.chunks_embedded == 0 and not second.changed
    assert second.files_unchanged == 3
    assert second.chunks_total == first.chunks_total


def test_edit_reembeds_only_changed_chunks(setup: tuple[Services, Path]) -> None:
    """Editing one section of one file re-embeds that section alone and search sees the edit."""
    services, repo = setup
    first = run(services, repo)
    page = repo / FILES[1]
    text = page.read_text()
    page.write_text(text + "\n\n## Zebra fixtures\n\nUse the zebra fixture for striped tests.\n")
    second = run(services, repo)
    assert second.files_changed == 1 and second.files_unchanged == 2
    assert 1 <= second.chunks_embedded <= 2
    assert second.chunks_reused >= 1
    assert (
        second.chunks_total == first.chunks_total - second.chunks_removed + second.chunks_embedded
    )
    hits = services.store.keyword_search("default", "zebra striped", k=1)
    assert hits[0][0].path == FILES[1] and "Zebra" in hits[0][0].text


async def test_deleted_file_leaves_the_index(setup: tuple[Services, Path]) -> None:
    """A deleted file's chunks are removed and no longer retrievable."""
    services, repo = setup
    run(services, repo)
    git(repo, "rm", "--quiet", FILES[0])
    report = run(services, repo)
    assert report.files_deleted == 1 and report.chunks_removed > 0
    hits = await services.retriever.search("CORS allow origins", kb="default", k=5)
    assert FILES[0] not in [h.path for h in hits]


async def test_knowledge_bases_are_separate(setup: tuple[Services, Path], tmp_path: Path) -> None:
    """Two knowledge bases in one store never see each other's passages."""
    services, repo = setup
    other = make_fastapi_repo(tmp_path / "other", files=["docs/en/docs/deployment/docker.md"])
    run(services, repo, kb="tutorial")
    run(services, other, kb="deploy")
    hits = await services.retriever.search("Docker image", kb="tutorial", k=5)
    assert all(h.chunk.kb == "tutorial" for h in hits)
    assert "docs/en/docs/deployment/docker.md" not in [h.path for h in hits]
    assert services.retriever.knowledge_bases() == ["deploy", "tutorial"]
