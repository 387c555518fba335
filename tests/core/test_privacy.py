"""User ids become keyed hashes, and hashes can be told apart from raw ids."""

from __future__ import annotations

import pytest

from core.privacy import hash_user_id, is_user_hash, require_user_hash


def test_hash_is_keyed_stable_and_per_platform() -> None:
    """The same id hashes the same under one key, differently under another key or platform."""
    one = hash_user_id("slack", "U024BE7LH", key=b"k1")
    assert one == hash_user_id("slack", "U024BE7LH", key=b"k1")
    assert one != hash_user_id("slack", "U024BE7LH", key=b"k2")
    assert one != hash_user_id("discord", "U024BE7LH", key=b"k1")
    assert is_user_hash(one) and "U024BE7LH" not in one


def test_an_empty_key_is_refused() -> None:
    """Hashing without a secret would be reversible by trying ids."""
    with pytest.raises(ValueError, match="key"):
        hash_user_id("slack", "U1", key=b"")


@pytest.mark.parametrize(
    "value", ["U024BE7LH", "123456789012345678", "octocat", "", "ABCDEF" * 8, "0" * 31]
)
def test_raw_ids_are_not_hashes(value: str) -> None:
    """Platform ids, logins, upper-case or too-short hex are refused, without echoing them."""
    assert not is_user_hash(value)
    with pytest.raises(ValueError, match="keyed hash") as refused:
        require_user_hash(value)
    assert not value or value not in str(refused.value)
