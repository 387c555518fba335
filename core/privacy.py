"""User ids are stored only as keyed hashes: how to make one, and how to recognise one.

Records that reach durable storage (interactions, feedback) carry `user_hash` values made by
`hash_user_id`; the storage adapters refuse anything that does not look like such a hash, so
a raw platform id (`U024BE7LH`, `123456789012345678`, a login) can never be written by mistake.
"""

from __future__ import annotations

import hashlib
import hmac
import re

_USER_HASH = re.compile(r"[0-9a-f]{32,128}")


def hash_user_id(platform: str, user_id: str, *, key: bytes) -> str:
    """The HMAC-SHA256 of `platform:user_id` under `key`, as 64 lowercase hex digits.

    The key is a deployment secret: without it the hash cannot be reversed by trying ids.
    """
    if not key:
        raise ValueError("the user-hash key must not be empty")
    message = f"{platform}:{user_id}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def is_user_hash(value: str) -> bool:
    """Whether `value` looks like a hash (32-128 lowercase hex digits), not a raw user id."""
    return _USER_HASH.fullmatch(value) is not None


def require_user_hash(value: str, *, what: str = "user_hash") -> str:
    """`value` if it is a hash; else ValueError, which does not echo the value (it may be an id)."""
    if not is_user_hash(value):
        raise ValueError(
            f"{what} must be a keyed hash of the user id (32-128 lowercase hex digits, "
            "see core.privacy.hash_user_id), never the raw id"
        )
    return value
