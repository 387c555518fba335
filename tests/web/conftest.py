"""A FastAPI-docs knowledge base indexed once for the web tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.settings import EmbeddingSettings, Settings
from rag.sources import read_tree
from tests.support.corpus import make_fastapi_repo
from tests.support.services import index_tree


@pytest.fixture(scope="package")
def indexed_data(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Path:
    """A data dir holding an index of the FastAPI docs slice as `default`."""
    repo = make_fastapi_repo(tmp_path_factory.mktemp("repo"))
    data = tmp_path_factory.mktemp("data")
    settings = Settings(
        _env_file=None, data_dir=data, embedding=EmbeddingSettings(cache_dir=model_cache)
    )
    index_tree(settings, read_tree(repo, max_bytes=1_000_000), kb="default", source=str(repo))
    return data
