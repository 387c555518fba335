"""Indexing for tests through services opened the way every process opens them
(ops.wiring.open_services_sync)."""

from __future__ import annotations

from ops.settings import Settings
from ops.wiring import open_services_sync
from rag.indexer import IndexReport
from rag.sources import SourceTree


def index_tree(settings: Settings, tree: SourceTree, *, kb: str, source: str) -> IndexReport:
    """Indexes `tree` into the data dir of `settings`, as `leximind index` would."""
    with open_services_sync(settings, "cli") as (process, _):
        return process.services.indexer.index(tree, kb=kb, source=source)
