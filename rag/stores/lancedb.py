"""The embedded default vector store: LanceDB in a local folder, with native full-text search."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import lancedb
import numpy as np
import pyarrow as pa

from core.errors import StoreUnavailable
from core.types import Chunk, ChunkKind, FileRole
from rag.keywords import keyword_text
from rag.ports import Vectors
from rag.stores.snapshot import DenseSnapshot, Snapshots

_log = logging.getLogger(__name__)

TABLE = "chunks"
_CONTROL = re.compile(r"[\x00-\x1f]")
_COLUMNS = [
    "id",
    "kb",
    "path",
    "title",
    "text",
    "start_line",
    "end_line",
    "language",
    "kind",
    "commit",
    "role",
]

_ENUMS = frozenset({"kind", "role"})


def _schema(dimension: int) -> pa.Schema:
    return pa.schema(
        [
            ("id", pa.string()),
            ("kb", pa.string()),
            ("path", pa.string()),
            ("title", pa.string()),
            ("text", pa.string()),
            ("start_line", pa.int32()),
            ("end_line", pa.int32()),
            ("language", pa.string()),
            ("kind", pa.string()),
            ("commit", pa.string()),
            ("role", pa.string()),
            ("search_text", pa.string()),
            ("vector", pa.list_(pa.float32(), dimension)),
        ]
    )


def _literal(value: str) -> str:
    """A SQL string literal for a filter, quotes doubled; control characters are refused."""
    if _CONTROL.search(value):
        raise ValueError(f"control characters in filter value {value!r}")
    return "'" + value.replace("'", "''") + "'"


def _where(
    kb: str, kind: ChunkKind | None, exclude_roles: frozenset[FileRole] = frozenset()
) -> str:
    clause = f"kb = {_literal(kb)}"
    if kind is not None:
        clause += f" AND kind = {_literal(kind.value)}"
    if exclude_roles:
        roles = ", ".join(_literal(r.value) for r in sorted(exclude_roles))
        clause += f" AND (role IS NULL OR role NOT IN ({roles}))"
    return clause


def _id_batches(kb: str, ids: Sequence[str], size: int = 500) -> Iterator[str]:
    """Filters selecting these ids of the knowledge base, `size` ids at a time."""
    for start in range(0, len(ids), size):
        listed = ", ".join(_literal(i) for i in ids[start : start + size])
        yield f"kb = {_literal(kb)} AND id IN ({listed})"


def _chunk(row: dict[str, Any]) -> Chunk:
    return Chunk(
        id=row["id"],
        kb=row["kb"],
        path=row["path"],
        title=row["title"],
        text=row["text"],
        start_line=int(row["start_line"]),
        end_line=int(row["end_line"]),
        language=row["language"],
        kind=ChunkKind(row["kind"]),
        commit=row["commit"],
        role=FileRole.parse(row.get("role")),
    )


def _has_keyword_index(table: Any) -> bool:
    return any(i.index_type == "FTS" for i in table.list_indices())


@contextmanager
def _translated(action: str) -> Iterator[None]:
    """Turns LanceDB and file-system failures into StoreUnavailable."""
    try:
        yield
    except (OSError, RuntimeError, pa.ArrowException) as exc:
        _log.error("LanceDB failed to %s: %s", action, exc)
        raise StoreUnavailable(f"the vector store failed to {action}") from exc


class LanceDBStore:
    """Chunks and their vectors in one LanceDB table, searched by cosine or BM25.

    The table is created on the first upsert with the embedder's dimension (needed only
    then: a store opened to be read, e.g. as a migration source, may leave it out); reading
    an empty store returns nothing rather than failing. Knowledge bases of up to
    `memory_rows` chunks are also held in memory for dense search and lookups by id
    (rag.stores.snapshot), refreshed whenever the table changes; 0 turns that off.
    """

    def __init__(
        self, path: Path, *, dimension: int | None = None, memory_rows: int = 100_000
    ) -> None:
        self._path = path
        self._snapshots = Snapshots(memory_rows)
        self._dimension = dimension
        self._db: Any = None
        self._table: Any = None
        self._fts_ready = False

    def _connect(self) -> Any:
        if self._db is None:
            with _translated("open"):
                self._path.mkdir(parents=True, exist_ok=True)
                # Always read the latest version, so a server sees what a separate
                # `leximind index` process wrote without restarting.
                self._db = lancedb.connect(str(self._path), read_consistency_interval=timedelta(0))
        return self._db

    def _open(self, *, create: bool) -> Any:
        if self._table is not None:
            return self._table
        db = self._connect()
        with _translated("open the table"):
            if TABLE in db.list_tables().tables:
                table = db.open_table(TABLE)
                if "role" not in table.schema.names:
                    # A table written before chunks had roles: theirs read as unknown.
                    table.add_columns(pa.field("role", pa.string()))
                self._table = table
                self._fts_ready = _has_keyword_index(table)
            elif create:
                if self._dimension is None:
                    raise ValueError("a new LanceDB table needs the vector dimension")
                self._table = db.create_table(TABLE, schema=_schema(self._dimension))
        return self._table

    def close(self) -> None:
        """Drops the table, the connection and the in-memory copies (LanceDB has no
        connection to close: it reads files); a later call opens them again."""
        self._table, self._db, self._fts_ready = None, None, False
        self._snapshots.clear()

    def upsert(self, chunks: Sequence[Chunk], vectors: Vectors) -> None:
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        if not chunks:
            return
        rows = [
            {
                **{name: getattr(c, name) for name in _COLUMNS if name not in _ENUMS},
                "kind": c.kind.value,
                "role": c.role.value,
                "search_text": keyword_text(c),
                "vector": np.asarray(v, dtype=np.float32),
            }
            for c, v in zip(chunks, vectors, strict=True)
        ]
        table = self._open(create=True)
        with _translated("write chunks"):
            (
                table.merge_insert("id")
                .when_matched_update_all()
                .when_not_matched_insert_all()
                .execute(pa.Table.from_pylist(rows, schema=table.schema))
            )

    def delete_paths(self, kb: str, paths: Sequence[str]) -> None:
        table = self._open(create=False)
        if table is None or not paths:
            return
        listed = ", ".join(_literal(p) for p in paths)
        with _translated("delete chunks"):
            table.delete(f"kb = {_literal(kb)} AND path IN ({listed})")

    def delete_ids(self, kb: str, ids: Sequence[str]) -> None:
        table = self._open(create=False)
        if table is None or not ids:
            return
        with _translated("delete chunks"):
            for where in _id_batches(kb, ids):
                table.delete(where)

    def chunk_ids(self, kb: str) -> dict[str, str]:
        table = self._open(create=False)
        if table is None:
            return {}
        with _translated("list chunks"):
            data = (
                table.search()
                .where(f"kb = {_literal(kb)}")
                .select(["id", "path"])
                .limit(None)
                .to_arrow()
            )
        return dict(zip(data["id"].to_pylist(), data["path"].to_pylist(), strict=True))

    def _snapshot(self, kb: str, *, load_if_missing: bool = True) -> DenseSnapshot | None:
        """The in-memory copy of `kb` at the table's current version. Searches load it;
        lookups by id only use one already loaded, so indexing never pays for a copy."""
        table = self._open(create=False)
        if table is None:
            return None
        if not load_if_missing:
            with _translated("read the table version"):
                return self._snapshots.held(kb, int(table.version))
        where = f"kb = {_literal(kb)}"

        def load() -> tuple[list[Chunk], Vectors]:
            data = table.search().where(where).select([*_COLUMNS, "vector"]).limit(None)
            rows = data.to_arrow()
            chunks = [_chunk(r) for r in rows.select(_COLUMNS).to_pylist()]
            vectors = rows["vector"].combine_chunks().flatten().to_numpy(zero_copy_only=False)
            return chunks, vectors

        with _translated("read the knowledge base into memory"):
            return self._snapshots.get(
                kb, int(table.version), count=lambda: int(table.count_rows(where)), load=load
            )

    def vectors(self, kb: str, ids: Sequence[str]) -> dict[str, Vectors]:
        snapshot = self._snapshot(kb, load_if_missing=False)
        if snapshot is not None:
            return snapshot.vectors(ids)
        return {
            row["id"]: np.asarray(row["vector"], dtype=np.float32)
            for row in self._rows(kb, ids, ["id", "vector"], action="read vectors")
        }

    def chunks(self, kb: str, ids: Sequence[str]) -> dict[str, Chunk]:
        snapshot = self._snapshot(kb, load_if_missing=False)
        if snapshot is not None:
            return snapshot.chunks_of(ids)
        return {
            row["id"]: _chunk(row) for row in self._rows(kb, ids, _COLUMNS, action="read chunks")
        }

    def _rows(
        self, kb: str, ids: Sequence[str], columns: list[str], *, action: str
    ) -> list[dict[str, Any]]:
        table = self._open(create=False)
        if table is None or not ids:
            return []
        rows: list[dict[str, Any]] = []
        with _translated(action):
            for where in _id_batches(kb, ids):
                rows.extend(table.search().where(where).select(columns).limit(None).to_list())
        return rows

    def vector_search(
        self,
        kb: str,
        vector: Vectors,
        *,
        k: int,
        kind: ChunkKind | None = None,
        exclude_roles: frozenset[FileRole] = frozenset(),
    ) -> list[tuple[Chunk, float]]:
        snapshot = self._snapshot(kb)
        if snapshot is not None:
            return snapshot.search(vector, k=k, kind=kind, exclude_roles=exclude_roles)
        table = self._open(create=False)
        if table is None:
            return []
        with _translated("search vectors"):
            rows = (
                table.search(np.asarray(vector, dtype=np.float32), vector_column_name="vector")
                .metric("cosine")
                .where(_where(kb, kind, exclude_roles), prefilter=True)
                .select([*_COLUMNS, "_distance"])
                .limit(k)
                .to_list()
            )
        return [(_chunk(r), 1.0 - float(r["_distance"])) for r in rows]

    def keyword_search(
        self,
        kb: str,
        query: str,
        *,
        k: int,
        kind: ChunkKind | None = None,
        exclude_roles: frozenset[FileRole] = frozenset(),
    ) -> list[tuple[Chunk, float]]:
        table = self._open(create=False)
        if table is None or not query.strip():
            return []
        if not self._fts_ready:
            # Another process may have built the index since this table was opened.
            with _translated("read the keyword index"):
                self._fts_ready = _has_keyword_index(table)
            if not self._fts_ready:
                self.optimize()
        with _translated("search keywords"):
            rows = (
                table.search(query, query_type="fts", fts_columns="search_text")
                .where(_where(kb, kind, exclude_roles), prefilter=True)
                .select([*_COLUMNS, "_score"])
                .limit(k)
                .to_list()
            )
        return [(_chunk(r), float(r["_score"])) for r in rows]

    def count(self, kb: str | None = None) -> int:
        table = self._open(create=False)
        if table is None:
            return 0
        with _translated("count chunks"):
            return int(table.count_rows(None if kb is None else f"kb = {_literal(kb)}"))

    def knowledge_bases(self) -> list[str]:
        table = self._open(create=False)
        if table is None:
            return []
        with _translated("list knowledge bases"):
            kbs = table.search().select(["kb"]).limit(None).to_arrow()["kb"]
        return sorted(set(kbs.to_pylist()))

    def optimize(self) -> None:
        """Brings the keyword index up to date and compacts the table after a batch of writes.

        The first call builds the keyword index; later ones add new rows to it and drop
        deleted ones (LanceDB's `optimize`), at a cost that follows the change rather than
        the table, so a one-file re-index stays fast on a large knowledge base.
        """
        table = self._open(create=False)
        if table is None:
            return
        with _translated("build the keyword index"):
            if not _has_keyword_index(table):
                table.create_fts_index(
                    "search_text",
                    use_tantivy=False,
                    replace=True,
                    stem=True,
                    remove_stop_words=True,
                )
            table.optimize()
        self._fts_ready = True

    def check(self) -> None:
        table = self._open(create=False)
        if table is not None:
            with _translated("read"):
                table.search().select(["id"]).limit(1).to_list()
        elif not self._path.parent.exists():
            raise StoreUnavailable(f"vector store folder {self._path.parent} does not exist")
