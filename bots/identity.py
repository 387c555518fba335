"""Platform user ids turned into stable keyed hashes, so no raw id is ever stored."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from core.privacy import hash_user_id


class UserHasher:
    """HMAC-SHA256 of `platform:user_id` under a secret key, truncated to 32 hex digits.

    A keyed hash cannot be reversed by hashing every known user id, unlike a plain one.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the user hash key must be at least 16 bytes")
        self._key = key

    def __call__(self, platform: str, user_id: str) -> str:
        return hash_user_id(platform, user_id, key=self._key)[:32]


def load_or_create_key(path: Path) -> bytes:
    """The key kept in `path`, created (readable by the owner only) on first use."""
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return bytes.fromhex(path.read_text().strip())
    with os.fdopen(fd, "w") as out:
        out.write(key.hex())
        out.flush()
        os.fsync(out.fileno())
    return key
