"""What has been indexed: one record per knowledge base, and where the records are kept.

`Catalog` is the interface the indexer and the retriever use. `FileCatalog` keeps every
record in one JSON file of the data dir (one host); `rag.shared_catalog.ObjectStoreCatalog`
keeps one object per record in the object store, so replicas on several hosts share it.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

from core.errors import StoreUnavailable


@dataclass(slots=True)
class KnowledgeBase:
    """An indexed source: where it lives, its web address, and the hash of every file.

    The layout facts retrieval ranks with (rag.layout): the main language of its prose, the
    pages that include each included file, and the original of each indexed translation.
    """

    name: str
    source: str
    root: str
    web_url: str | None = None
    web_prefix: str = ""
    commit: str = ""
    indexed_at: str = ""
    files: dict[str, str] = field(default_factory=dict)
    language: str = ""
    included_by: dict[str, list[str]] = field(default_factory=dict)
    translated_from: dict[str, str] = field(default_factory=dict)


_FIELDS = frozenset(f.name for f in fields(KnowledgeBase))


def record_to_json(kb: KnowledgeBase) -> dict[str, Any]:
    """The record as a JSON-ready dict."""
    return asdict(kb)


def record_from_json(raw: object) -> KnowledgeBase:
    """A record from parsed JSON; ValueError when it is not one.

    Fields a later Leximind version added are ignored, so an older replica still reads
    what a newer indexer wrote.
    """
    if not isinstance(raw, dict):
        raise ValueError(f"a catalog record must be a JSON object, not {type(raw).__name__}")
    try:
        return KnowledgeBase(**{k: v for k, v in raw.items() if k in _FIELDS})
    except TypeError as exc:
        raise ValueError(f"invalid catalog record: {exc}") from exc


class Catalog(Protocol):
    """The knowledge-base records: read per search, written at the end of each index run.

    Readers see another process's writes without a restart. Raises StoreUnavailable when the
    records cannot be read or written.
    """

    def get(self, name: str) -> KnowledgeBase | None:
        """The record of `name`, or None when nothing of that name was indexed.

        Called once per search, so it must be cheap.
        """
        ...

    def names(self) -> list[str]:
        """Every recorded knowledge base, sorted."""
        ...

    def save(self, kb: KnowledgeBase) -> None:
        """Writes the record atomically, replacing the one of the same name only."""
        ...


class FileCatalog:
    """Implements Catalog in one JSON file, written atomically.

    The file is re-read when it changes on disk, so a server sees what a separate
    `leximind index` process wrote without restarting. Only processes of one host share it.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._mtime: float | None = None
        self._kbs: dict[str, KnowledgeBase] = {}

    @property
    def path(self) -> Path:
        return self._path

    def __repr__(self) -> str:
        return f"FileCatalog({str(self._path)!r})"

    def _load(self) -> dict[str, KnowledgeBase]:
        try:
            mtime = self._path.stat().st_mtime
        except FileNotFoundError:
            return {}
        if mtime != self._mtime:
            try:
                raw = json.loads(self._path.read_text(encoding="utf-8"))
                self._kbs = {name: record_from_json(record) for name, record in raw.items()}
            except (OSError, ValueError, AttributeError) as exc:
                raise StoreUnavailable(f"cannot read the catalog {self._path}: {exc}") from exc
            self._mtime = mtime
        return self._kbs

    def get(self, name: str) -> KnowledgeBase | None:
        with self._lock:
            return self._load().get(name)

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._load())

    def save(self, kb: KnowledgeBase) -> None:
        with self._lock:
            kbs = dict(self._load())
            kbs[kb.name] = kb
            payload = json.dumps({n: record_to_json(k) for n, k in sorted(kbs.items())}, indent=1)
            self._path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self._path.parent, prefix=".catalog-")
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(payload)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self._path)
            self._kbs = kbs
            self._mtime = self._path.stat().st_mtime
