"""Pooling token vectors into one unit-length vector per text, as sentence-transformers does."""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

Pooling = Literal["mean", "cls", "max", "mean_sqrt_len"]

Floats = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int64]


def pool(hidden: Floats, mask: Ints, pooling: Pooling) -> Floats:
    """One vector per row of `hidden` (batch, tokens, dim), ignoring padding; not normalised."""
    if pooling == "cls":
        return np.asarray(hidden[:, 0], dtype=np.float32)
    weights = mask[:, :, None].astype(np.float32)
    if pooling == "max":
        return np.asarray(np.where(weights > 0, hidden, -np.inf).max(axis=1), dtype=np.float32)
    sums = (hidden * weights).sum(axis=1)
    counts = np.maximum(weights.sum(axis=1), 1e-9)
    scale = np.sqrt(counts) if pooling == "mean_sqrt_len" else counts
    return np.asarray(sums / scale, dtype=np.float32)


def normalise(vectors: Floats) -> Floats:
    """Rows scaled to unit L2 length; an all-zero row stays zero."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.asarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)
