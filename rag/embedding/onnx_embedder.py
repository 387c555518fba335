"""Sentence embeddings on onnxruntime from a cached (int8) ONNX export."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort

from rag.embedding.errors import EmbeddingError
from rag.embedding.model_folder import ModelFolder
from rag.embedding.onnx_export import exported_model
from rag.embedding.pooling import normalise, pool
from rag.embedding.tokens import TextTokenizer
from rag.ports import Vectors

_log = logging.getLogger(__name__)


class OnnxEmbedder:
    """A sentence-transformers model (BERT family) run by onnxruntime, int8 by default.

    The first use exports the model into `cache_dir` (about 10 s, needs torch); every later
    process loads that export and never imports torch. Texts are sorted by token count before
    batching (`bucket`) so that a batch pads little. Safe to call from several threads.

    `threads` and `inter_threads` are onnxruntime's intra- and inter-op pool sizes;
    `optimization` its graph optimisation level ("disable", "basic", "extended", "all").
    """

    def __init__(
        self,
        *,
        model_dir: Path,
        cache_dir: Path,
        quantize: bool = True,
        batch_size: int = 32,
        max_length: int = 256,
        threads: int | None = None,
        inter_threads: int = 1,
        optimization: str = "all",
        bucket: bool = True,
    ) -> None:
        if batch_size < 1 or max_length < 2:
            raise ValueError("batch_size must be >= 1 and max_length >= 2")
        if optimization not in _LEVELS:
            raise ValueError(
                f"optimization must be one of {', '.join(_LEVELS)}, not {optimization}"
            )
        self._folder = ModelFolder.read(model_dir)
        self._cache_dir = cache_dir
        self._quantize = quantize
        self._batch_size = batch_size
        # sentence-transformers truncates at the model's max_seq_length; never go beyond it.
        self._max_length = min(max_length, self._folder.max_seq_length or max_length)
        self._threads = threads or len(os.sched_getaffinity(0))
        self._inter_threads = max(1, inter_threads)
        self._optimization = optimization
        self._bucket = bucket
        self._tokenizer = TextTokenizer(model_dir / "tokenizer.json", max_length=self._max_length)
        self._session: ort.InferenceSession | None = None
        self._loading = threading.Lock()

    @property
    def name(self) -> str:
        return f"{self._folder.label}:onnx-{'int8' if self._quantize else 'fp32'}"

    @property
    def dimension(self) -> int:
        return self._folder.dimension

    def load(self) -> None:
        """Exports the model if the cache lacks it and opens it; `embed` does this on first use.

        Call it at start-up to fail early and keep the export out of the first request.
        """
        self._open()

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One unit-length float32 row per text, in the order given."""
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return vectors
        session = self._open()
        names = [i.name for i in session.get_inputs()]
        encodings = self._tokenizer.encode(texts)
        # Similar lengths in a batch mean little padding: ~2x faster on mixed-length chunks.
        lengths = [len(e.ids) for e in encodings] if self._bucket else [0] * len(encodings)
        order = np.argsort(lengths, kind="stable")
        for start in range(0, len(order), self._batch_size):
            rows = order[start : start + self._batch_size]
            batch = self._tokenizer.pad([encodings[i] for i in rows])
            (hidden,) = session.run(None, batch.feeds(names))
            vectors[rows] = pool(np.asarray(hidden), batch.attention_mask, self._folder.pooling)
        return normalise(vectors)

    def _open(self) -> ort.InferenceSession:
        with self._loading:
            if self._session is None:
                path = exported_model(self._folder, self._cache_dir, quantize=self._quantize)
                self._session = _session(
                    path,
                    threads=self._threads,
                    inter_threads=self._inter_threads,
                    level=_LEVELS[self._optimization],
                )
                _log.info("loaded %s with %d threads", path.name, self._threads)
            return self._session


_LEVELS = {
    "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}


def _session(
    path: Path, *, threads: int, inter_threads: int, level: ort.GraphOptimizationLevel
) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = inter_threads
    if inter_threads > 1:
        options.execution_mode = ort.ExecutionMode.ORT_PARALLEL
    # Idle pool threads sleep instead of spinning: between two small runs (one question at
    # a time in a server) a spinning thread burns a core that retrieval needs.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = level
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except (RuntimeError, ValueError) as exc:  # onnxruntime's errors derive from RuntimeError
        raise EmbeddingError(f"cannot load {path} (delete it to export again): {exc}") from exc
