"""Sentence embeddings: int8 ONNX on onnxruntime for serving, sentence-transformers as reference.

EmbeddingError (a LeximindError) is raised when a model cannot be read, exported or loaded.
"""

from rag.embedding.errors import EmbeddingError
from rag.embedding.onnx_embedder import OnnxEmbedder
from rag.embedding.torch_embedder import SentenceTransformerEmbedder

__all__ = ["EmbeddingError", "OnnxEmbedder", "SentenceTransformerEmbedder"]
