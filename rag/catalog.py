"""What has been indexed: one record per knowledge base, kept as JSON in the data dir."""

from __future__ import annotations

import json
import os
import tempfile
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core.errors import StoreUnavailable


@dataclass(slots=True)
class KnowledgeBase:
    """An indexed source: where it lives, its web address, and the hash of every file."""

    name: str
    source: str
    root: str
    web_url: str | None = None
    web_prefix: str = ""
    commit: str = ""
    indexed_at: str = ""
    files: dict[str, str] = field(default_factory=dict)


class Catalog:
    """Knowledge-base records in one JSON file, written atomically.

    The file is re-read when it changes on disk, so a server sees what a separate
    `leximind index` process wrote without restarting.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._mtime: float | None = None
        self._kbs: dict[str, KnowledgeBase] = {}

    def _load(self) -> dict[str, KnowledgeBase]:
        try:
            mtime = self._path.stat().st_mtime
        except FileNotFoundError:
            return {}
        if mtime != self._mtime:
            try:
                raw = json.loads(self._path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise StoreUnavailable(f"cannot read the catalog {self._path}: {exc}") from exc
            self._kbs = {name: KnowledgeBase(**record) for name, record in raw.items()}
            self._mtime = mtime
        return self._kbs

    def get(self, name: str) -> KnowledgeBase | None:
        with self._lock:
            return self._load().get(name)

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._load())

    def save(self, kb: KnowledgeBase) -> None:
        """Writes the record, replacing the one of the same name."""
        with self._lock:
            kbs = dict(self._load())
            kbs[kb.name] = kb
            payload = json.dumps({n: asdict(k) for n, k in sorted(kbs.items())}, indent=1)
            self._path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self._path.parent, prefix=".catalog-")
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(payload)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self._path)
            self._kbs = kbs
            self._mtime = self._path.stat().st_mtime
