"""Services for tests, opened and closed the way every process does (ops.wiring.open_services)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ops.settings import Settings
from ops.wiring import Process, Role, Services, open_services
from rag.indexer import IndexReport
from rag.sources import SourceTree


@contextmanager
def services_open(
    settings: Settings, role: Role = "cli", *, adjust: Callable[[Services], Services] | None = None
) -> Iterator[Process]:
    """`open_services` on an event loop of its own, for synchronous tests and fixtures.

    Clients bound to an event loop (httpx, Redis asyncio) work only on that loop: async
    tests enter `open_services` themselves.
    """
    with asyncio.Runner() as runner:
        opening = open_services(settings, role, adjust=adjust)
        process = runner.run(opening.__aenter__())
        try:
            yield process
        except BaseException as exc:
            if not runner.run(opening.__aexit__(type(exc), exc, exc.__traceback__)):
                raise
        else:
            runner.run(opening.__aexit__(None, None, None))


def index_tree(settings: Settings, tree: SourceTree, *, kb: str, source: str) -> IndexReport:
    """Indexes `tree` into the data dir of `settings`, as `leximind index` would."""
    with services_open(settings) as process:
        return process.services.indexer.index(tree, kb=kb, source=source)
