"""The active model name in a file of the data dir, seen by every process that shares it.

A promotion writes the file through a synced temporary file and a rename, so a reader sees the
old name or the new one, never half of either. Readers cache the name by the file's identity
(inode, modification time, size): a request costs one `stat`, and a switch made by another
process is seen on the next request. A Redis implementation of the same port can replace this
one for replicas on several hosts.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

from core.storage.local import write_atomically

_log = logging.getLogger(__name__)

MAX_NAME_CHARS = 200


def validate_model_name(name: str) -> str:
    """The name itself when a model server can be asked for it; else ValueError."""
    if not name or len(name) > MAX_NAME_CHARS:
        raise ValueError(f"model name must be 1-{MAX_NAME_CHARS} characters, got {len(name)}")
    if any(ch.isspace() or not ch.isprintable() for ch in name):
        raise ValueError(f"model name {name!r} contains spaces or control characters")
    return name


class FileActiveModel:
    """Implements core.ports.ActiveModel on a small JSON file: `{"model": ..., "switched_at": ...}`.

    A file that cannot be read or parsed is logged once and the last name read is kept, so a
    hand-edited file never breaks answering.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int] | None = None
        self._name: str | None = None

    @property
    def path(self) -> Path:
        return self._path

    def current(self) -> str | None:
        try:
            st = os.stat(self._path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            _log.error("cannot stat the active model file %s: %s", self._path, exc)
            return self._name
        identity = (st.st_ino, st.st_mtime_ns, st.st_size)
        if identity == self._seen:
            return self._name
        with self._lock:
            if identity != self._seen:
                self._name = self._read(self._name)
                self._seen = identity
            return self._name

    def _read(self, fallback: str | None) -> str | None:
        try:
            record = json.loads(self._path.read_text(encoding="utf-8"))
            name = record["model"]
            if not isinstance(name, str):
                raise TypeError(f"model is {type(name).__name__}, not a string")
            return validate_model_name(name)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            _log.error(
                "the active model file %s is unreadable (%s); still using %s",
                self._path,
                exc,
                fallback,
            )
            return fallback

    def switch(self, name: str) -> None:
        record = {
            "model": validate_model_name(name),
            "switched_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        }
        write_atomically(self._path, (json.dumps(record) + "\n").encode())
        _log.info("active model is now %s", name)
