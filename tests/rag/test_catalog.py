"""The file catalog of one data dir passes the catalog contract and reports a damaged file."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import StoreUnavailable
from rag.catalog import FileCatalog, record_from_json
from tests.rag.catalog_contract import CatalogContract, OpenCatalog


class TestFileCatalog(CatalogContract):
    @pytest.fixture
    def open_catalog(self, tmp_path: Path) -> OpenCatalog:
        return lambda: FileCatalog(tmp_path / "data" / "catalog.json")


def test_a_damaged_file_is_a_store_error(tmp_path: Path) -> None:
    """A catalog file that is not JSON raises StoreUnavailable naming the file."""
    path = tmp_path / "catalog.json"
    path.write_text("{not json")
    with pytest.raises(StoreUnavailable, match=r"catalog\.json"):
        FileCatalog(path).names()


def test_records_ignore_fields_they_do_not_know() -> None:
    """A record written by a later version (an extra field) still reads; a non-record does not."""
    raw = {"name": "docs", "source": "s", "root": "r"}
    assert record_from_json({**raw, "added_later": 1}).name == "docs"
    with pytest.raises(ValueError, match="JSON object"):
        record_from_json(["docs"])
    with pytest.raises(ValueError, match="invalid catalog record"):
        record_from_json({"name": "docs"})
