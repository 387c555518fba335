"""The behaviour every Catalog implementation shares: records persist, replace by name only,
and one process sees what another wrote."""

from __future__ import annotations

from collections.abc import Callable

from rag.catalog import Catalog, KnowledgeBase

# Opens the catalog again on the same backing, as another process (or a restart) would.
OpenCatalog = Callable[[], Catalog]


def record(
    name: str, *, commit: str = "c1", indexed_at: str = "2026-11-25T10:00:00+00:00"
) -> KnowledgeBase:
    """A record with every field set."""
    return KnowledgeBase(
        name=name,
        source=f"https://github.com/o/{name}",
        root=f"/srv/clones/{name}",
        web_url=f"https://github.com/o/{name}",
        web_prefix="blob/main/",
        commit=commit,
        indexed_at=indexed_at,
        files={"README.md": "a" * 64, "docs/intro.md": "b" * 64},
    )


class CatalogContract:
    """Subclasses provide an `open_catalog` fixture: a factory of catalogs on one fresh backing,
    each of which sees another's write at its next read."""

    def test_an_empty_catalog_knows_nothing(self, open_catalog: OpenCatalog) -> None:
        """Nothing indexed: no names, and get answers None."""
        catalog = open_catalog()
        assert catalog.names() == []
        assert catalog.get("docs") is None

    def test_a_record_reads_back_with_every_field(self, open_catalog: OpenCatalog) -> None:
        """What was saved is what get returns, in this process and after a restart."""
        catalog = open_catalog()
        catalog.save(record("docs"))
        assert catalog.get("docs") == record("docs")
        assert open_catalog().get("docs") == record("docs")

    def test_saving_replaces_only_the_record_of_that_name(self, open_catalog: OpenCatalog) -> None:
        """A second save of a name replaces it; other records stay; names are sorted."""
        catalog = open_catalog()
        catalog.save(record("web"))
        catalog.save(record("api"))
        catalog.save(record("web", commit="c2"))
        reopened = open_catalog()
        assert reopened.names() == ["api", "web"]
        assert reopened.get("web") == record("web", commit="c2")
        assert reopened.get("api") == record("api")

    def test_a_reader_sees_another_processes_write(self, open_catalog: OpenCatalog) -> None:
        """A reader that already read the catalog sees a later write without being reopened."""
        reader, writer = open_catalog(), open_catalog()
        writer.save(record("docs"))
        assert reader.get("docs") == record("docs")
        writer.save(record("docs", commit="c2"))
        writer.save(record("more"))
        assert reader.get("docs") == record("docs", commit="c2")
        assert reader.names() == ["docs", "more"]

    def test_writers_of_different_knowledge_bases_keep_both(
        self, open_catalog: OpenCatalog
    ) -> None:
        """Two indexers that read the catalog before either wrote keep each other's record."""
        first, second = open_catalog(), open_catalog()
        assert first.names() == second.names() == []
        first.save(record("alpha"))
        second.save(record("beta"))
        assert open_catalog().names() == ["alpha", "beta"]
        assert first.get("beta") == record("beta")
