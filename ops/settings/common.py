"""What every settings section shares: placeholder values and name rules."""

from __future__ import annotations

from pathlib import Path

_PLACEHOLDERS = frozenset({"changeme", "change-me", "secret", "xxx", "todo", "your-api-key"})

# MinIO's well-known default credentials are placeholders too.
_STORAGE_PLACEHOLDERS = _PLACEHOLDERS | {"minioadmin", "your-secret-key"}


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "leximind"
