"""Interaction and feedback records as JSON files in a local folder: the zero-setup default."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from core.errors import StoreUnavailable
from core.types import Feedback, Interaction


def interaction_key(interaction: Interaction) -> str:
    """`interactions/YYYY/MM/DD/<id>.json`, dated by when the question was asked."""
    day = interaction.created_at[:10].replace("-", "/")
    return f"interactions/{day}/{interaction.id}.json"


def feedback_key(interaction_id: str, user_hash: str) -> str:
    """`feedback/<interaction id>/<user hash>.json`: one current label per user and answer."""
    return f"feedback/{interaction_id}/{user_hash}.json"


def write_atomically(path: Path, data: bytes) -> None:
    """Writes through a synced temporary file and a rename, so readers never see half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class LocalInteractionLog:
    """Implements core.ports.InteractionLog with one JSON file per interaction."""

    def __init__(self, root: Path) -> None:
        self._root = root

    async def record(self, interaction: Interaction) -> None:
        path = self._root / interaction_key(interaction)
        data = json.dumps(interaction.to_record(), ensure_ascii=False, indent=1).encode()
        try:
            await asyncio.to_thread(write_atomically, path, data)
        except OSError as exc:
            raise StoreUnavailable(f"cannot write interaction {interaction.id}: {exc}") from exc


class LocalFeedbackLog:
    """Implements core.ports.FeedbackLog with one JSON file per user and answer."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._lock = asyncio.Lock()

    async def record(self, feedback: Feedback) -> None:
        path = self._root / feedback_key(feedback.interaction_id, feedback.user_hash)
        data = json.dumps(feedback.to_record(), ensure_ascii=False).encode()
        try:
            async with self._lock:
                current = await asyncio.to_thread(_read_feedback, path)
                if current is None or current.created_at <= feedback.created_at:
                    await asyncio.to_thread(write_atomically, path, data)
        except OSError as exc:
            raise StoreUnavailable(
                f"cannot write feedback on {feedback.interaction_id}: {exc}"
            ) from exc

    async def for_interaction(self, interaction_id: str) -> list[Feedback]:
        folder = self._root / "feedback" / interaction_id
        paths = await asyncio.to_thread(lambda: sorted(folder.glob("*.json")))
        found = [await asyncio.to_thread(_read_feedback, p) for p in paths]
        return [f for f in found if f is not None and f.label is not None]


def _read_feedback(path: Path) -> Feedback | None:
    try:
        return Feedback.from_record(json.loads(path.read_bytes()))
    except FileNotFoundError:
        return None


class LocalObjectStore:
    """Implements core.ports.ObjectStore on a local folder; keys are relative paths."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"invalid object key {key!r}")
        return self._root.joinpath(*parts)

    def put(self, key: str, data: bytes, *, content_type: str = "application/json") -> None:
        try:
            write_atomically(self._path(key), data)
        except OSError as exc:
            raise StoreUnavailable(f"cannot write {key}: {exc}") from exc

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise KeyError(key) from None
        except OSError as exc:
            raise StoreUnavailable(f"cannot read {key}: {exc}") from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list(self, prefix: str = "") -> Iterator[str]:
        if not self._root.is_dir():
            return
        keys = (
            p.relative_to(self._root).as_posix()
            for p in self._root.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )
        yield from sorted(k for k in keys if k.startswith(prefix))
