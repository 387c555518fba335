"""The embedding package's error."""

from __future__ import annotations

from core.errors import LeximindError


class EmbeddingError(LeximindError):
    """An embedding model cannot be read, exported or loaded."""
