"""A durable local spool: writes that could not reach the object store wait here, in order.

One file per write, `<sequence number, 20 digits>.write` in the spool folder: a one-line JSON header
(kind, key, sha256 of the payload), a newline, then the payload bytes exactly as they are to
be stored. An entry is written to a temporary file, fsync'd, hard-linked under its final name
(which fails if another writer took that number, so the next is tried) and the folder is
fsync'd: once `append` returns, the entry survives a crash, and a reader never sees half of it.

Several processes (API workers, the scheduler) may share one spool: appends never collide,
and `exclusive()` lets one of them replay at a time. Entries that cannot be read back are moved
to `rejected/` and logged, never deleted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from adapters.storage.local import exclusive, fsync_dir
from core.object_keys import validate_key

_log = logging.getLogger(__name__)

SUFFIX = ".write"
_DIGITS = 20
_STALE_TEMP_S = 3600.0


@dataclass(frozen=True, slots=True)
class SpooledWrite:
    """One write waiting for the object store: put `data` under `key`, as `kind` says."""

    seq: int
    kind: str
    key: str
    data: bytes


class CorruptEntry(ValueError):
    """A spool file that cannot be parsed or whose payload does not match its checksum."""


class Spool:
    """Durable FIFO of object-store writes, in a local folder (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._rejected = root / "rejected"
        self._lock = threading.Lock()
        root.mkdir(parents=True, exist_ok=True)
        fsync_dir(root.parent)
        self._remove_stale_temporaries()
        self._next = self._last_seq() + 1

    @property
    def root(self) -> Path:
        return self._root

    def append(self, kind: str, key: str, data: bytes) -> int:
        """Stores the write durably and returns its sequence number; raises OSError if it cannot."""
        validate_key(key)
        header = {"kind": kind, "key": key, "sha256": hashlib.sha256(data).hexdigest()}
        fd, tmp = tempfile.mkstemp(dir=self._root, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(json.dumps(header).encode() + b"\n" + data)
                out.flush()
                os.fsync(out.fileno())
            seq = self._link(tmp)
        finally:
            Path(tmp).unlink(missing_ok=True)
        fsync_dir(self._root)
        return seq

    def _link(self, tmp: str) -> int:
        with self._lock:
            while True:
                # Wall-clock microseconds, never below the last number used here: increasing in
                # this process, and across processes sharing the spool as far as clocks agree.
                # (A plain counter would refill numbers another process has already replayed.)
                seq = max(self._next, time.time_ns() // 1000)
                self._next = seq + 1
                try:
                    os.link(tmp, self._path(seq))
                except FileExistsError:
                    continue  # another process took this number
                return seq

    def _path(self, seq: int) -> Path:
        return self._root / f"{seq:0{_DIGITS}d}{SUFFIX}"

    def _sequences(self) -> list[int]:
        found = []
        for entry in os.scandir(self._root):
            stem = entry.name.removesuffix(SUFFIX)
            if entry.name.endswith(SUFFIX) and stem.isdigit():
                found.append(int(stem))
        return sorted(found)

    def _last_seq(self) -> int:
        seqs = self._sequences()
        return seqs[-1] if seqs else 0

    def depth(self) -> int:
        """How many writes are waiting."""
        return len(self._sequences())

    def pending(self, limit: int | None = None) -> Iterator[SpooledWrite]:
        """The waiting writes, oldest first; unreadable entries are moved aside and skipped."""
        seqs = self._sequences()
        for seq in seqs if limit is None else seqs[:limit]:
            try:
                yield self._read(seq)
            except FileNotFoundError:
                continue  # replayed meanwhile by another process
            except CorruptEntry as exc:
                self.reject(seq, str(exc))

    def _read(self, seq: int) -> SpooledWrite:
        raw = self._path(seq).read_bytes()
        head, sep, data = raw.partition(b"\n")
        try:
            header = json.loads(head)
            kind, key, digest = str(header["kind"]), str(header["key"]), str(header["sha256"])
        except (ValueError, KeyError, TypeError) as exc:
            raise CorruptEntry(f"unreadable header: {exc}") from exc
        if not sep or hashlib.sha256(data).hexdigest() != digest:
            raise CorruptEntry("payload does not match its checksum")
        return SpooledWrite(seq=seq, kind=kind, key=key, data=data)

    def remove(self, seq: int) -> None:
        """Forgets a write once the store holds it (a crash before this only replays it again)."""
        self._path(seq).unlink(missing_ok=True)

    def reject(self, seq: int, reason: str) -> None:
        """Moves an entry that can never be replayed to `rejected/`, keeping it for inspection."""
        self._rejected.mkdir(exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.replace(self._path(seq), self._rejected / self._path(seq).name)
            fsync_dir(self._rejected)
            fsync_dir(self._root)
            _log.error("spool entry %d moved to %s: %s", seq, self._rejected, reason)

    def rejected(self) -> int:
        """How many entries were set aside as unreplayable."""
        if not self._rejected.is_dir():
            return 0
        return sum(1 for p in self._rejected.iterdir() if p.name.endswith(SUFFIX))

    def exclusive(self) -> contextlib.AbstractContextManager[bool]:
        """Holds the replay lock if no other process does; yields whether it got it."""
        return exclusive(self._root / ".lock")

    def _remove_stale_temporaries(self) -> None:
        # A temporary file outlives its append only if the process died mid-append (before the
        # caller was told the write was kept) or between the link and the unlink (the entry
        # itself is then in place): either way it is safe to remove once clearly abandoned.
        cutoff = time.time() - _STALE_TEMP_S
        for path in self._root.glob(".tmp-*"):
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()
