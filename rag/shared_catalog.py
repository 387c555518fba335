"""The knowledge-base catalog in the object store, shared by API replicas on several hosts."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator

from adapters.refresh import BackgroundRefresh, on_event_loop
from core.errors import StoreUnavailable
from core.ports import ObjectStore, VersionedListing
from rag.catalog import FileCatalog, KnowledgeBase, record_from_json, record_to_json

_log = logging.getLogger(__name__)

CATALOG_PREFIX = "catalog/"
_SUFFIX = ".json"


def record_key(name: str, *, prefix: str = CATALOG_PREFIX) -> str:
    """`catalog/<name>.json`; a leading '.' (allowed in names, not in keys) becomes `%2E`.

    '%' cannot occur in a knowledge base name, so the key stays unique.
    """
    segment = "%2E" + name[1:] if name.startswith(".") else name
    return f"{prefix}{segment}{_SUFFIX}"


class ObjectStoreCatalog:
    """Implements rag.catalog.Catalog with one object per knowledge base in an ObjectStore.

    Writes: `save` puts one object, `catalog/<name>.json`; S3 replaces an object atomically,
    and indexers of different knowledge bases never touch each other's objects.

    Reads are served from memory. At most every `ttl` seconds (counted from the end of the
    last refresh) one refresh lists the prefix with versions (on S3 one LIST request, which
    carries every object's ETag) and fetches only the records that are new or changed, so
    every replica sees a new or re-indexed knowledge base soon after `ttl` seconds and a
    search normally costs no request at all. On an event loop the refresh runs in a thread
    of its own (adapters.refresh) and readers keep the previous copy meanwhile; elsewhere the
    reader refreshes, and while another thread refreshes it keeps the previous copy too. A
    store without `list_versions` gets every record fetched again at each refresh.

    When the store fails, reads serve the last records read (the failure is logged once per
    outage) and the store is asked again `ttl` seconds after the failed refresh ended. With
    a `local` catalog (this host's DATA_DIR/catalog.json), every record read or saved is
    also kept there, and a process that starts while the store is down serves this copy
    until the store answers. Without one, reads before the first successful listing raise
    StoreUnavailable. `save` raises StoreUnavailable: the caller must know that the record
    was not written. A record that is not valid JSON is logged and skipped (its previous
    version, if one was read, is kept).
    """

    def __init__(
        self,
        store: ObjectStore,
        *,
        ttl: float = 2.0,
        prefix: str = CATALOG_PREFIX,
        clock: Callable[[], float] = time.monotonic,
        local: FileCatalog | None = None,
    ) -> None:
        if ttl < 0:
            raise ValueError("the catalog ttl cannot be negative")
        self._store = store
        self._local = local
        self._prefix = prefix
        self._refresher = BackgroundRefresh(
            self._refresh, every=ttl, name="catalog refresh", clock=clock
        )
        self._lock = threading.Lock()  # one refresh or save at a time
        # Replaced, never mutated, so readers need no lock.
        self._by_key: dict[str, tuple[str, KnowledgeBase]] = {}
        self._by_name: dict[str, KnowledgeBase] = {}
        self._unreadable: dict[str, str] = {}  # key -> version already reported as invalid
        self._loaded = False
        self._failing = False
        self._error: StoreUnavailable | None = None  # why the first listing failed

    def __repr__(self) -> str:
        return f"ObjectStoreCatalog({self._store!r}, prefix={self._prefix!r})"

    def get(self, name: str) -> KnowledgeBase | None:
        record = self._records().get(name)
        if record is None and self._loaded and not on_event_loop():
            # A name this process has not seen may have been indexed by another host since
            # the last refresh: off the event loop, a due refresh is waited for.
            self._refresher.refresh(wait=True)
            record = self._by_name.get(name)
        return record

    def names(self) -> list[str]:
        return sorted(self._records())

    def save(self, kb: KnowledgeBase) -> None:
        key = record_key(kb.name, prefix=self._prefix)
        payload = json.dumps(record_to_json(kb), indent=1).encode()
        with self._lock:
            self._store.put(key, payload)
            self._keep_locally([kb])
            # The version is unknown here: the next refresh reads the object once more.
            self._by_key = {**self._by_key, key: ("", kb)}
            self._by_name = {**self._by_name, kb.name: kb}
            self._unreadable.pop(key, None)

    def _records(self) -> dict[str, KnowledgeBase]:
        if self._loaded and not self._refresher.due():
            return self._by_name
        self._refresher.refresh(wait=not self._loaded)
        if self._loaded:
            return self._by_name
        if on_event_loop():  # the first listing is still running in the background
            if self._local is not None:
                return self._local_records()
            raise StoreUnavailable("the shared catalog has not been read yet")
        raise self._error or StoreUnavailable("the shared catalog could not be read")

    def _refresh(self) -> None:
        """Reads what changed since the last refresh; on failure keeps the last records."""
        with self._lock:
            try:
                by_key = self._read_changes()
            except StoreUnavailable as exc:
                self._failed(exc)
                return
            if self._failing:
                _log.info("the catalog can be read again")
            changed = [
                kb for key, (_, kb) in by_key.items() if self._by_key.get(key) != by_key[key]
            ]
            self._keep_locally(changed)
            self._by_key = by_key
            self._by_name = {kb.name: kb for _, kb in by_key.values()}
            self._loaded, self._failing, self._error = True, False, None

    def _failed(self, exc: StoreUnavailable) -> None:
        if not self._loaded:
            if self._local is None:
                self._error = exc
                return
            self._by_name = self._local_records()
            self._loaded = True
        if not self._failing:
            _log.warning(
                "cannot refresh the catalog; serving the %d knowledge bases last read: %s",
                len(self._by_name),
                exc,
            )
        self._failing = True

    def _read_changes(self) -> dict[str, tuple[str, KnowledgeBase]]:
        found: dict[str, tuple[str, KnowledgeBase]] = {}
        for key, version in self._listing():
            known = self._by_key.get(key)
            if version and known is not None and known[0] == version:
                found[key] = known
                continue
            if version and self._unreadable.get(key) == version:
                continue
            record = self._fetch(key, version)
            if record is not None:
                found[key] = (version, record)
            elif known is not None:
                found[key] = known
        return found

    def _listing(self) -> Iterator[tuple[str, str]]:
        if isinstance(self._store, VersionedListing):
            listed = self._store.list_versions(self._prefix)
        else:
            listed = ((key, "") for key in self._store.list(self._prefix))
        for key, version in listed:
            if key.endswith(_SUFFIX) and "/" not in key[len(self._prefix) :]:
                yield key, version

    def _fetch(self, key: str, version: str) -> KnowledgeBase | None:
        """The record at `key`; None when it vanished or is not a valid record."""
        try:
            return record_from_json(json.loads(self._store.get(key)))
        except KeyError:
            return None  # deleted between the listing and the read
        except ValueError as exc:
            self._unreadable[key] = version
            _log.error("catalog record %s is not valid and is skipped: %s", key, exc)
            return None

    def _local_records(self) -> dict[str, KnowledgeBase]:
        """This host's copy; a failure to read it is logged and counts as empty."""
        if self._local is None:
            return {}
        try:
            return {name: kb for name in self._local.names() if (kb := self._local.get(name))}
        except StoreUnavailable as exc:
            _log.error("cannot read this host's copy of the catalog: %s", exc)
            return {}

    def _keep_locally(self, records: list[KnowledgeBase]) -> None:
        """Copies records to this host's catalog; a failure there is logged, not raised."""
        if self._local is None:
            return
        for kb in records:
            try:
                self._local.save(kb)
            except (OSError, StoreUnavailable) as exc:
                _log.error("cannot keep knowledge base %s in this host's catalog: %s", kb.name, exc)
