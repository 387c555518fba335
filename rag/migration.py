"""Copying an index from one vector store to another with its vectors: no re-embedding.

Store-agnostic: it reads the source through `chunk_ids`, `chunks` and `vectors` and writes
the target through `upsert`, so it copies LanceDB into Weaviate as well as between any two
VectorStores.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from core.errors import UnknownKnowledgeBase
from rag.catalog import Catalog
from rag.ports import VectorStore

_log = logging.getLogger(__name__)


@dataclass(slots=True)
class CopyReport:
    """What copying one knowledge base did, and the counts that verify it."""

    kb: str
    source: int = 0
    already_there: int = 0
    copied: int = 0
    vanished: int = 0
    pruned: int = 0
    target: int = 0

    @property
    def verified(self) -> bool:
        """Whether the target holds as many chunks of the knowledge base as the source."""
        return self.source == self.target


# Told the knowledge base and how many chunks one more batch wrote.
BatchDone = Callable[[str, int], None]


def copy_index(
    source: VectorStore,
    target: VectorStore,
    *,
    kbs: Sequence[str] = (),
    batch: int = 500,
    prune: bool = False,
    on_batch: BatchDone | None = None,
) -> list[CopyReport]:
    """Copies every knowledge base of `source` (or those named) into `target`.

    Resumable: ids the target already holds are skipped (chunk ids hash the content, so an
    id there is the same chunk), so after an interruption the same call copies only the
    rest. With `prune`, target chunks the source no longer has are deleted. Each report
    ends with both stores' counts; the caller decides what a mismatch means. Raises
    UnknownKnowledgeBase for a named knowledge base the source does not hold, and
    StoreUnavailable when either store fails (what was written stays written).
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    present = source.knowledge_bases()
    missing = [kb for kb in kbs if kb not in present]
    if missing:
        raise UnknownKnowledgeBase(f"the source index has no knowledge base {missing[0]!r}")
    return [
        _copy_one(source, target, kb, batch=batch, prune=prune, on_batch=on_batch)
        for kb in (kbs or present)
    ]


def _copy_one(
    source: VectorStore,
    target: VectorStore,
    kb: str,
    *,
    batch: int,
    prune: bool,
    on_batch: BatchDone | None,
) -> CopyReport:
    report = CopyReport(kb=kb)
    wanted = source.chunk_ids(kb)
    there = set(target.chunk_ids(kb))
    todo = sorted(set(wanted) - there)
    report.already_there = len(wanted) - len(todo)
    for start in range(0, len(todo), batch):
        ids = todo[start : start + batch]
        chunks = source.chunks(kb, ids)
        vectors = source.vectors(kb, ids)
        ready = [i for i in ids if i in chunks and i in vectors]
        report.vanished += len(ids) - len(ready)  # deleted from the source meanwhile
        if ready:
            target.upsert([chunks[i] for i in ready], np.stack([vectors[i] for i in ready]))
        report.copied += len(ready)
        if on_batch is not None:
            on_batch(kb, len(ready))
    stale = sorted(there - set(wanted))
    if prune and stale:
        target.delete_ids(kb, stale)
        report.pruned = len(stale)
    target.optimize()
    report.source = source.count(kb)
    report.target = target.count(kb)
    _log.info(
        "copied %s: %d chunks copied, %d already there, %d in the source, %d in the target",
        kb,
        report.copied,
        report.already_there,
        report.source,
        report.target,
    )
    return report


def copy_catalog(source: Catalog, target: Catalog, *, kbs: Sequence[str] = ()) -> list[str]:
    """Copies catalog records (every one of `source`, or those named) into `target`.

    A record is copied when the target has none of that name or an older one (by
    `indexed_at`), so a knowledge base re-indexed into the target since is never set back.
    Returns the names copied; names the source does not hold are skipped. Raises
    StoreUnavailable when either catalog fails.
    """
    copied = []
    for name in kbs or source.names():
        record = source.get(name)
        if record is None:
            continue
        there = target.get(name)
        if there is not None and there.indexed_at >= record.indexed_at:
            continue
        target.save(record)
        copied.append(name)
    _log.info("copied %d catalog records", len(copied))
    return copied
