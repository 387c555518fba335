"""What every settings section shares: placeholder values and name rules."""

from __future__ import annotations

from pathlib import Path

_PLACEHOLDERS = frozenset({"changeme", "change-me", "secret", "xxx", "todo", "your-api-key"})

# MinIO's well-known default credentials are placeholders too.
_STORAGE_PLACEHOLDERS = _PLACEHOLDERS | {"minioadmin", "your-secret-key"}


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "leximind"


def validate_kb_name(value: str) -> str:
    """A knowledge base name: 1-64 letters, digits, '.', '_' or '-'."""
    if not value or len(value) > 64 or not all(ch.isalnum() or ch in "._-" for ch in value):
        raise ValueError(f"invalid knowledge base name {value!r}: use letters, digits, . _ -")
    return value
