"""Sentence embeddings with sentence-transformers on torch: the original prototype's embedder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.embedding.errors import EmbeddingError
from rag.embedding.model_folder import ModelFolder
from rag.ports import Vectors


class SentenceTransformerEmbedder:
    """sentence-transformers on torch (CPU): the reference that the ONNX embedder is measured by.

    About 2.4x slower than OnnxEmbedder on two cores; kept for benchmarks and quality checks.
    """

    def __init__(self, *, model_dir: Path, batch_size: int = 32, device: str = "cpu") -> None:
        from sentence_transformers import SentenceTransformer  # imports torch: only when used

        self._folder = ModelFolder.read(model_dir)
        self._batch_size = batch_size
        try:
            self._model = SentenceTransformer(str(model_dir), device=device, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise EmbeddingError(f"sentence-transformers cannot load {model_dir}: {exc}") from exc

    @property
    def name(self) -> str:
        return f"{self._folder.label}:sentence-transformers"

    @property
    def dimension(self) -> int:
        return self._folder.dimension

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One unit-length float32 row per text, in the order given."""
        if not texts:
            return np.empty((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)
