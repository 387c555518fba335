"""A slice of the whole FastAPI repository indexed as its maintainers laid it out: two
translations beside the English docs, the docs_src/ examples the pages include."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from core.types import FileRole
from ops.settings import EmbeddingSettings, IndexSettings, Settings
from ops.wiring import Services, open_services
from rag.indexer import IndexReport
from rag.layout.includes import find_includes
from rag.sources import read_tree
from tests.conftest import shared_data
from tests.support.corpus import make_fastapi_repo

PAGES = ["background-tasks.md", "body.md", "cors.md", "query-params.md", "testing.md"]
TRANSLATIONS = ("de", "es")
QUESTIONS = [
    ("How do I run a task in the background after returning a response?", "background-tasks.md"),
    ("How do I declare a request body with a Pydantic model?", "body.md"),
    ("How do I allow requests from my frontend's origin (CORS)?", "cors.md"),
    ("How do I declare optional query parameters with defaults?", "query-params.md"),
    ("How do I test my application with a test client?", "testing.md"),
]
EXAMPLE = "docs_src/background_tasks/tutorial001_py310.py"


def page(name: str, language: str = "en") -> str:
    return f"docs/{language}/docs/tutorial/{name}"


def slice_files() -> list[str]:
    """The English pages, their two translations, every docs_src file the English pages
    include, the README and one package module."""
    repo = shared_data("repos", "fastapi")
    examples = {str(p.relative_to(repo)) for p in (repo / "docs_src").rglob("*.py")}
    files = {"README.md", "fastapi/background.py"}
    for name in PAGES:
        files |= {page(name, lang) for lang in ("en", *TRANSLATIONS)}
        text = (repo / page(name)).read_text()
        files |= {i.target for i in find_includes(page(name), text, examples)}
    return sorted(files)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("fastapi")
    return make_fastapi_repo(target, slice_files(), source=("repos", "fastapi"))


@asynccontextmanager
async def services(tmp: Path, model_cache: Path, languages: list[str]) -> AsyncIterator[Services]:
    settings = Settings(
        _env_file=None,
        data_dir=tmp / "data",
        embedding=EmbeddingSettings(cache_dir=model_cache),
        index=IndexSettings(languages=languages),
    )
    async with open_services(settings, "cli") as process:
        yield process.services


def index(svc: Services, repo: Path) -> IndexReport:
    return svc.indexer.index(read_tree(repo, max_bytes=10**6), kb="default", source=str(repo))


async def test_translations_are_left_out_by_default_and_said_so(
    repo: Path, tmp_path: Path, model_cache: Path
) -> None:
    """Only English is indexed; the report names each left-out language and its files."""
    async with services(tmp_path, model_cache, []) as svc:
        report = index(svc, repo)
        assert report.main_language == "en"
        assert report.left_out == {f"translation ({lang})": len(PAGES) for lang in TRANSLATIONS}
        paths = set(svc.store.chunk_ids("default").values())
        assert not any(p.startswith(("docs/de/", "docs/es/")) for p in paths)
        assert page("body.md") in paths
        found = await svc.retriever.search(QUESTIONS[1][0], kb="default", k=5)
        assert found[0].path == page("body.md")


async def test_no_translation_outranks_its_original_and_examples_bring_their_page(
    repo: Path, tmp_path: Path, model_cache: Path
) -> None:
    """With both translations indexed, an English question's results never put a translated
    page above its English original; a hit on an included example lifts its page, whose
    passage quotes the example's code, and the example takes no slot above it."""
    async with services(tmp_path, model_cache, list(TRANSLATIONS)) as svc:
        report = index(svc, repo)
        assert report.left_out == {}
        stored = svc.store.chunks("default", list(svc.store.chunk_ids("default")))
        roles = {c.path: c.role for c in stored.values()}
        assert roles[page("body.md", "de")] is FileRole.TRANSLATION
        assert roles[page("body.md")] is FileRole.DOCS
        assert roles[EXAMPLE] is FileRole.EXAMPLE
        assert roles["fastapi/background.py"] is FileRole.SOURCE
        for question, name in QUESTIONS:
            paths = [s.path for s in await svc.retriever.search(question, kb="default", k=10)]
            assert page(name) in paths[:3], (question, paths)
            for lang in TRANSLATIONS:
                for other in PAGES:
                    translated = page(other, lang)
                    if translated in paths:
                        original = page(other)
                        assert original in paths and paths.index(original) < paths.index(translated)

        query = "write_notification email message log.txt"
        found = await svc.retriever.search(query, kb="default", k=5)
        keyword = [c.path for c, _ in svc.store.keyword_search("default", query, k=20)]
        assert EXAMPLE in keyword  # the example file itself is a hit
        assert found[0].path == page("background-tasks.md")
        assert "def write_notification" in found[0].chunk.text
        assert EXAMPLE not in [s.path for s in found]
