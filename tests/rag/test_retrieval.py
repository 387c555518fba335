"""The hybrid retriever lifts pages that its candidate passages link to, when asked to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import cast

import numpy as np
import pytest

from core.types import Chunk, ChunkKind, FileRole
from rag.catalog import Catalog, FileCatalog, KnowledgeBase
from rag.ports import Vectors, VectorStore
from rag.retrieval import LEAD_EVIDENCE, RELEASE_EVIDENCE, HybridRetriever
from tests.fakes import chunk


class RankedStore:
    """Answers every search with the same ranking, best first; enough for the retriever."""

    def __init__(self, ranking: list[Chunk]) -> None:
        self._ranking = ranking

    def _ranked(self, k: int, exclude_roles: frozenset[FileRole]) -> list[Chunk]:
        return [c for c in self._ranking if c.role not in exclude_roles][:k]

    def vector_search(
        self,
        kb: str,
        vector: Vectors,
        *,
        k: int,
        kind: ChunkKind | None = None,
        exclude_roles: frozenset[FileRole] = frozenset(),
    ) -> list[tuple[Chunk, float]]:
        return [(c, self.similarity(i)) for i, c in enumerate(self._ranked(k, exclude_roles))]

    def similarity(self, position: int) -> float:
        """The cosine a dense search gives the passage at this position of the ranking."""
        return 0.9 - 0.001 * position

    def keyword_search(
        self,
        kb: str,
        query: str,
        *,
        k: int,
        kind: ChunkKind | None = None,
        exclude_roles: frozenset[FileRole] = frozenset(),
    ) -> list[tuple[Chunk, float]]:
        return [(c, 10.0 - i) for i, c in enumerate(self._ranked(k, exclude_roles))]

    def vectors(self, kb: str, ids: Sequence[str]) -> dict[str, Vectors]:
        return {i: np.ones(2, dtype=np.float32) / np.sqrt(2) for i in ids}


class StoreWithFiles(RankedStore):
    """Ranks some chunks for every search and holds others that no search finds."""

    def __init__(self, ranking: list[Chunk], unranked: list[Chunk]) -> None:
        super().__init__(ranking)
        self._all = {c.id: c for c in [*ranking, *unranked]}
        self.listed = 0

    def chunk_ids(self, kb: str) -> dict[str, str]:
        self.listed += 1
        return {i: c.path for i, c in self._all.items()}

    def chunks(self, kb: str, ids: Sequence[str]) -> dict[str, Chunk]:
        return {i: self._all[i] for i in ids if i in self._all}


class FaintStore(RankedStore):
    """Ranks as RankedStore does, at similarities under any relevance threshold."""

    def similarity(self, position: int) -> float:
        return round(0.3 - 0.05 * position, 4)


class ConstantEmbedder:
    """Embeds every text as the same unit vector."""

    name = "constant"
    dimension = 2

    def embed(self, texts: Sequence[str]) -> Vectors:
        return np.tile(np.array([1.0, 0.0], dtype=np.float32), (len(texts), 1))


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    catalog = FileCatalog(tmp_path / "catalog.json")
    files = {p: "0" for p in ("docs/hub.md", "docs/other.md", "docs/target.md")}
    catalog.save(KnowledgeBase(name="default", source="repo", root="repo", files=files))
    return catalog


def _retriever(
    catalog: Catalog, store: RankedStore, *, follow_links: bool = False
) -> HybridRetriever:
    """The retriever over a fake store (it implements the searches the retriever calls)."""
    return HybridRetriever(
        store=cast(VectorStore, store),
        embedder=ConstantEmbedder(),
        catalog=catalog,
        follow_links=follow_links,
    )


RANKING = [
    chunk("docs/hub.md", "Answers this. The details are in [Target](target.md#part)."),
    chunk("docs/other.md", "Mentions the question's words."),
    chunk("docs/target.md", "Explains it in the project's own terms."),
]


@pytest.mark.parametrize(
    ("follow_links", "order"),
    [
        (True, ["docs/hub.md", "docs/target.md", "docs/other.md"]),
        (False, ["docs/hub.md", "docs/other.md", "docs/target.md"]),
    ],
)
async def test_linked_page_is_lifted_only_with_follow_links(
    catalog: Catalog, follow_links: bool, order: list[str]
) -> None:
    """The page a top passage links to moves up to just below it; without links it does not."""
    retriever = _retriever(catalog, RankedStore(RANKING), follow_links=follow_links)
    found = await retriever.search("question", kb="default", k=3)
    assert [s.path for s in found] == order


async def test_links_follow_a_reindex_of_the_knowledge_base(catalog: Catalog) -> None:
    """Links are remembered per passage until the knowledge base is indexed again."""
    hub = chunk("docs/hub.md", "Answers this. The details are in [Target](target.md).")
    ranking = [hub, RANKING[1], RANKING[2]]
    retriever = _retriever(catalog, RankedStore(ranking), follow_links=True)
    first = await retriever.search("question", kb="default", k=3)
    assert [s.path for s in first] == ["docs/hub.md", "docs/target.md", "docs/other.md"]

    # target.md is deleted by a re-index: the passage's link leads nowhere any more.
    files = {p: "0" for p in ("docs/hub.md", "docs/other.md")}
    catalog.save(
        KnowledgeBase(name="default", source="repo", root="repo", files=files, indexed_at="later")
    )
    again = await retriever.search("question", kb="default", k=3)
    assert [s.path for s in again] == ["docs/hub.md", "docs/other.md", "docs/target.md"]


async def test_an_imports_only_passage_gives_way(catalog: Catalog) -> None:
    """A code passage of nothing but imports ranks below pages that say something."""
    imports = chunk(
        "pkg/cli.py",
        "import os\nimport sys\nfrom pkg.testing import Runner\n",
        kind=ChunkKind.CODE,
    )
    retriever = _retriever(catalog, RankedStore([imports, RANKING[1], RANKING[2]]))
    found = await retriever.search("question", kb="default", k=3)
    assert [s.path for s in found] == ["docs/other.md", "docs/target.md", "pkg/cli.py"]


async def test_test_modules_take_no_candidate_place_for_running_the_tests(
    catalog: Catalog,
) -> None:
    """However many test passages match "run the tests" better, the build script that runs
    them is a candidate and comes first; a question about the tests still gets the tests."""
    tests = [
        replace(
            chunk(
                f"tests/test_{n}.py", f"def test_run_{n}(): assert run({n})", kind=ChunkKind.CODE
            ),
            role=FileRole.TEST,
        )
        for n in range(30)
    ]
    script = replace(chunk("scripts/test.sh", "pytest --cov"), role=FileRole.BUILD)
    retriever = HybridRetriever(
        store=cast(VectorStore, RankedStore([*tests, script])),
        embedder=ConstantEmbedder(),
        catalog=catalog,
        candidates=20,
    )
    found = await retriever.search("How do I run the tests?", kb="default", k=3)
    assert [s.path for s in found][:1] == ["scripts/test.sh"]
    assert all(s.chunk.role is not FileRole.TEST for s in found)
    about = await retriever.search("What do the test fixtures mock?", kb="default", k=3)
    assert [s.path for s in about] == ["tests/test_0.py", "tests/test_1.py", "tests/test_2.py"]


async def test_a_question_about_the_project_gets_the_readme_opening(tmp_path: Path) -> None:
    """No search finds the README's opening for "what does this project do?"; it comes
    first anyway, as evidence enough to answer, though the docs' index includes the README
    (which would otherwise fold it away). The README is looked up once per indexed version."""
    logo = chunk("README.md", '<img src="logo.svg">', lines=(1, 2))
    opening = chunk(
        "README.md", "Quill is a library for building command line tools.", lines=(3, 6)
    )
    catalog = FileCatalog(tmp_path / "catalog.json")
    files = {p: "0" for p in ("README.md", "docs/index.md", "docs/other.md")}
    catalog.save(
        KnowledgeBase(
            name="default",
            source="repo",
            root="repo",
            files=files,
            included_by={"README.md": ["docs/index.md"]},
        )
    )
    ranking = [chunk("docs/index.md", "Welcome."), chunk("docs/other.md", "Other things.")]
    store = StoreWithFiles(ranking, [logo, opening])
    retriever = HybridRetriever(
        store=cast(VectorStore, store), embedder=ConstantEmbedder(), catalog=catalog
    )
    found = await retriever.search("What does this project do?", kb="default", k=3)
    assert [(s.path, s.chunk.start_line) for s in found][:1] == [("README.md", 3)]
    assert found[0].score >= LEAD_EVIDENCE
    await retriever.search("What is this project for?", kb="default", k=3)
    assert store.listed == 1
    other = await retriever.search("What does the other page say?", kb="default", k=3)
    assert "README.md" not in [s.path for s in other]


async def test_a_question_naming_a_release_gets_that_releases_section(catalog: Catalog) -> None:
    """'version 3.0' takes the 3.0.0 section of a changelog, not 0.3.1 that the embedding
    prefers, and counts it as evidence however little its list resembles the question."""
    older = chunk("CHANGES.rst", "- Fixed a bug.", title="Version 0.3.1", lines=(90, 95))
    asked = chunk("CHANGES.rst", "- Removed old code.", title="Version 3.0.0", lines=(1, 5))
    retriever = _retriever(catalog, FaintStore([older, asked, RANKING[1]]))
    found = await retriever.search("What changed in version 3.0?", kb="default", k=2)
    assert [s.title for s in found] == ["Version 3.0.0", "Title"]
    assert [s.score for s in found] == [RELEASE_EVIDENCE, 0.2]
    plain = await retriever.search("What changed lately?", kb="default", k=2)
    assert {s.path: (s.title, s.score) for s in plain}["CHANGES.rst"] == ("Version 0.3.1", 0.3)


async def test_a_question_naming_a_patch_release_gets_that_release_not_its_siblings(
    catalog: Catalog,
) -> None:
    """'3.0.2' names one release: the 3.0.0 section ranked above it is another release, though
    both are 3.0; '3.0' names them all."""
    first = chunk("CHANGES.rst", "- Removed old code.", title="Version 3.0.0", lines=(1, 5))
    patch = chunk("CHANGES.rst", "- Fixed a type.", title="Version 3.0.2", lines=(9, 12))
    retriever = _retriever(catalog, FaintStore([first, patch, RANKING[1]]))
    found = await retriever.search("What changed in version 3.0.2?", kb="default", k=1)
    assert [(s.title, s.score) for s in found] == [("Version 3.0.2", RELEASE_EVIDENCE)]
    found = await retriever.search("What changed in version 3.0?", kb="default", k=1)
    assert [s.title for s in found] == ["Version 3.0.0"]


class RecordingEmbedder(ConstantEmbedder):
    """Embeds as ConstantEmbedder does and keeps what it was asked to embed."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.texts.extend(texts)
        return super().embed(texts)


async def test_a_short_question_saying_it_is_searched_with_the_project_name(
    tmp_path: Path,
) -> None:
    """Dense search embeds "How do I install Quill?" for "How do I install it?" (the name as
    the README's opening uses it); a question about something else is embedded as asked."""
    opening = chunk(
        "README.md", "Quill is a library for building command line tools.", title="Quill"
    )
    catalog = FileCatalog(tmp_path / "catalog.json")
    catalog.save(
        KnowledgeBase(name="default", source="repo", root="repo", files={"README.md": "0"})
    )
    embedder = RecordingEmbedder()
    retriever = HybridRetriever(
        store=cast(VectorStore, StoreWithFiles([opening], [])),
        embedder=embedder,
        catalog=catalog,
    )
    await retriever.search("How do I install it?", kb="default", k=1)
    await retriever.search("How do I read my response when it fails?", kb="default", k=1)
    assert embedder.texts[:2] == [
        "How do I install Quill?",
        "How do I read my response when it fails?",
    ]


async def test_a_copy_of_a_page_takes_no_second_slot(catalog: Catalog) -> None:
    """CONTRIBUTING.md kept in .github/ and in docs/ (one link differs): one slot, held by
    the docs copy at the better rank; a different page keeps its own."""
    text = "To test requests through a proxy, run mitmproxy locally and trust its certificate. "
    github = chunk(".github/CONTRIBUTING.md", text * 3 + "See https://a.example/old.")
    docs = chunk("docs/contributing.md", text * 3 + "See https://a.example/new.")
    other = chunk("docs/ssl.md", "Pass verify= a path to a CA bundle, or an SSL context.")
    retriever = _retriever(catalog, RankedStore([github, other, docs]))
    found = await retriever.search("question", kb="default", k=3)
    assert [s.path for s in found] == ["docs/contributing.md", "docs/ssl.md"]
