"""Incremental indexing: only new or changed passages are embedded; deleted files vanish."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol

import numpy as np

from core.memory import is_memory_path
from core.types import Chunk, FileRole
from rag.catalog import Catalog, KnowledgeBase
from rag.chunking import chunk_file
from rag.layout import expand_chunks, read_layout
from rag.ports import Embedder, Vectors, VectorStore
from rag.sources import SourceTree

_log = logging.getLogger(__name__)


class IndexProgress(Protocol):
    """Receives progress while indexing; the CLI draws bars from it."""

    def files(self, total: int) -> None: ...
    def file_done(self) -> None: ...
    def chunks(self, total: int) -> None: ...
    def chunks_done(self, count: int) -> None: ...


class SilentProgress:
    """Progress that goes nowhere."""

    def files(self, total: int) -> None:
        pass

    def file_done(self) -> None:
        pass

    def chunks(self, total: int) -> None:
        pass

    def chunks_done(self, count: int) -> None:
        pass


@dataclass(slots=True)
class IndexReport:
    """What one indexing run did."""

    kb: str
    files_indexed: int = 0
    files_changed: int = 0
    files_unchanged: int = 0
    files_deleted: int = 0
    chunks_total: int = 0
    chunks_embedded: int = 0
    chunks_reused: int = 0
    chunks_removed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    left_out: dict[str, int] = field(default_factory=dict)  # reason -> files ("translation (de)")
    main_language: str = ""
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.files_changed or self.files_deleted)


class Indexer:
    """Chunks a source tree, embeds what is new and keeps the store in step with the files.

    The tree is read as its maintainers laid it out (rag.layout): translations in languages
    other than the main one and `languages` are left out, included files' text joins the
    passages of the pages that include them, and every chunk carries its file's role.
    """

    def __init__(
        self,
        *,
        store: VectorStore,
        embedder: Embedder,
        catalog: Catalog,
        batch_size: int = 256,
        languages: Sequence[str] = (),
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._catalog = catalog
        self._batch_size = batch_size
        self._languages = tuple(languages)

    def index(
        self,
        tree: SourceTree,
        *,
        kb: str,
        source: str,
        progress: IndexProgress | None = None,
    ) -> IndexReport:
        """Brings knowledge base `kb` in line with `tree` and records it in the catalog."""
        started = time.perf_counter()
        progress = progress or SilentProgress()
        report = IndexReport(kb=kb, skipped=dict(tree.skip_counts()))
        layout = read_layout(tree.files, languages=self._languages)
        report.left_out = dict(Counter(layout.left_out.values()))
        report.main_language = layout.main_language
        files = [f for f in tree.files if f.path not in layout.left_out]
        texts = {f.path: f.text for f in files}
        previous = self._catalog.get(kb)
        known = previous.files if previous else {}
        # Memory entries live beside the files but are no file: a re-index never drops them.
        stored_ids = {i: p for i, p in self._store.chunk_ids(kb).items() if not is_memory_path(p)}
        stored_paths = set(stored_ids.values())

        shas = {f.path: f.sha256 for f in files}
        current = {f.path: layout.digest(f.path, f.sha256, shas) for f in files}
        deleted = sorted((set(known) | stored_paths) - set(current))
        if deleted:
            self._store.delete_paths(kb, deleted)
            report.files_deleted = sum(1 for p in deleted if p in known)
            gone = set(deleted)
            report.chunks_removed += sum(1 for p in stored_ids.values() if p in gone)

        progress.files(len(files))
        fresh: list[Chunk] = []
        changed_paths: list[str] = []
        for f in files:
            progress.file_done()
            if known.get(f.path) == current[f.path] and f.path in stored_paths:
                report.files_unchanged += 1
                continue
            changed_paths.append(f.path)
            role = layout.roles.get(f.path, FileRole.UNKNOWN)
            includes = layout.includes.get(f.path, [])
            chunks = chunk_file(kb=kb, path=f.path, text=f.text, commit=tree.commit)
            fresh += expand_chunks([replace(c, role=role) for c in chunks], includes, texts)
        report.files_changed = len(changed_paths)
        report.files_indexed = len(files)

        if changed_paths:
            self._replace(kb, changed_paths, fresh, stored_ids, report, progress)
        if report.changed:
            self._store.optimize()
        report.chunks_total = self._store.count(kb)
        self._catalog.save(
            KnowledgeBase(
                name=kb,
                source=source,
                root=str(tree.root),
                web_url=tree.web_url,
                web_prefix=tree.web_prefix,
                commit=tree.commit,
                indexed_at=datetime.now(UTC).isoformat(timespec="seconds"),
                files=current,
                language=layout.main_language,
                included_by=layout.included_by,
                translated_from=layout.translated_from,
            )
        )
        report.seconds = time.perf_counter() - started
        return report

    def _replace(
        self,
        kb: str,
        paths: list[str],
        chunks: list[Chunk],
        stored_ids: dict[str, str],
        report: IndexReport,
        progress: IndexProgress,
    ) -> None:
        """Writes the chunks of changed files, embedding only ids the store lacks."""
        unique = list({c.id: c for c in chunks}.values())
        wanted = {c.id for c in unique}
        reusable = [c.id for c in unique if c.id in stored_ids]
        reused = self._store.vectors(kb, reusable)
        to_embed = [c for c in unique if c.id not in reused]
        report.chunks_reused = len(reused)
        fresh = self._embed({c.id: embedding_text(c) for c in to_embed}, progress)
        report.chunks_embedded = len(to_embed)
        vectors: dict[str, Vectors] = {**reused, **fresh}
        path_set = set(paths)
        stale = [i for i, p in stored_ids.items() if p in path_set and i not in wanted]
        self._store.delete_ids(kb, stale)
        report.chunks_removed += len(stale)
        for start in range(0, len(unique), self._batch_size):
            batch = unique[start : start + self._batch_size]
            self._store.upsert(batch, np.stack([vectors[c.id] for c in batch]))

    def _embed(self, texts: dict[str, str], progress: IndexProgress) -> dict[str, Vectors]:
        """A vector per chunk id; each distinct text is embedded once.

        Identical passages (a licence header in every file, one example included by two
        pages) share a vector. The texts go to the model shortest first, so each call holds
        passages of about one length and its batches pad little; the order of the calls
        changes no vector beyond float noise.
        """
        distinct = sorted(set(texts.values()), key=lambda t: (len(t), t))
        progress.chunks(len(distinct))
        by_text: dict[str, Vectors] = {}
        for start in range(0, len(distinct), self._batch_size):
            batch = distinct[start : start + self._batch_size]
            by_text.update(zip(batch, self._embedder.embed(batch), strict=True))
            progress.chunks_done(len(batch))
        return {chunk_id: by_text[text] for chunk_id, text in texts.items()}


def embedding_text(chunk: Chunk) -> str:
    """What the embedding model sees: the title gives a passage its context."""
    return f"{chunk.title}\n{chunk.text}"
