"""Interaction records as JSON files in a local folder: the zero-setup default."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from pathlib import Path

from core.errors import StoreUnavailable
from core.types import Interaction


def interaction_key(interaction: Interaction) -> str:
    """`interactions/YYYY/MM/DD/<id>.json`, dated by when the question was asked."""
    day = interaction.created_at[:10].replace("-", "/")
    return f"interactions/{day}/{interaction.id}.json"


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
