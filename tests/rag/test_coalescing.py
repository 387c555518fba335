"""Single-question embeddings from concurrent callers share model runs, with the same vectors."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from rag.embedding.coalescing import CoalescingEmbedder
from rag.ports import Vectors


class GatedEmbedder:
    """Embeds each text as a vector of its length; the first run waits for a gate, so
    questions asked meanwhile queue up and must share the next run."""

    def __init__(self) -> None:
        self.runs: list[list[str]] = []
        self.gate = threading.Event()
        self.started = threading.Event()
        self.fail: str | None = None

    @property
    def name(self) -> str:
        return "gated"

    @property
    def dimension(self) -> int:
        return 2

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.runs.append(list(texts))
        self.started.set()
        self.gate.wait(timeout=30)
        if self.fail is not None and self.fail in texts:
            raise RuntimeError(f"cannot embed {self.fail!r}")
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)


def test_questions_queued_during_a_run_share_the_next_run() -> None:
    """While one question is embedded, the ones arriving meanwhile go into one batch."""
    inner = GatedEmbedder()
    embedder = CoalescingEmbedder(inner)
    questions = ["a", "bb", "ccc", "dddd", "eeeee"]
    with ThreadPoolExecutor(max_workers=len(questions)) as pool:
        first = pool.submit(embedder.embed, [questions[0]])
        assert inner.started.wait(timeout=30)
        rest = [pool.submit(embedder.embed, [q]) for q in questions[1:]]
        while embedder._waiting.qsize() < len(rest):  # all four are queued behind the first
            threading.Event().wait(0.01)
        inner.gate.set()
        vectors = [first.result(timeout=30), *(f.result(timeout=30) for f in rest)]

    assert inner.runs == [["a"], ["bb", "ccc", "dddd", "eeeee"]]
    for question, vector in zip(questions, vectors, strict=True):
        assert vector.shape == (1, 2)
        assert vector[0].tolist() == [len(question), 1.0]


def test_several_texts_go_straight_to_the_model() -> None:
    """Indexing batches are not queued: one call, one run, rows in order."""
    inner = GatedEmbedder()
    inner.gate.set()
    vectors = CoalescingEmbedder(inner).embed(["xy", "z"])
    assert inner.runs == [["xy", "z"]]
    assert vectors.tolist() == [[2.0, 1.0], [1.0, 1.0]]


def test_a_failed_run_raises_in_every_caller_of_that_run() -> None:
    """An embedding error reaches the callers whose texts were in the run, and only them."""
    inner = GatedEmbedder()
    embedder = CoalescingEmbedder(inner)
    inner.fail = "boom"
    with ThreadPoolExecutor(max_workers=3) as pool:
        first = pool.submit(embedder.embed, ["fine"])
        assert inner.started.wait(timeout=30)
        doomed = [pool.submit(embedder.embed, [t]) for t in ("boom", "also in the run")]
        while embedder._waiting.qsize() < len(doomed):
            threading.Event().wait(0.01)
        inner.gate.set()
        assert first.result(timeout=30).tolist() == [[4.0, 1.0]]
        for future in doomed:
            with pytest.raises(RuntimeError, match="cannot embed 'boom'"):
                future.result(timeout=30)
    inner.fail = None
    assert embedder.embed(["later"]).tolist() == [[5.0, 1.0]]  # the worker lives on


def test_name_and_dimension_are_the_models() -> None:
    """The wrapper is transparent to the index fingerprint and the stores."""
    embedder = CoalescingEmbedder(GatedEmbedder())
    assert (embedder.name, embedder.dimension) == ("gated", 2)
