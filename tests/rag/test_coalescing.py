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


def test_a_bad_question_fails_alone_not_the_good_ones_in_its_batch() -> None:
    """A failed run is retried text by text: only the caller of the bad text gets the error,
    the others in the same batch get their vectors."""
    inner = GatedEmbedder()
    embedder = CoalescingEmbedder(inner)
    inner.fail = "boom"
    with ThreadPoolExecutor(max_workers=4) as pool:
        first = pool.submit(embedder.embed, ["fine"])
        assert inner.started.wait(timeout=30)
        batch = ("good", "boom", "also in the run")
        futures = [pool.submit(embedder.embed, [t]) for t in batch]
        while embedder._waiting.qsize() < len(batch):
            threading.Event().wait(0.01)
        inner.gate.set()
        assert first.result(timeout=30).tolist() == [[4.0, 1.0]]
        good, bad, also = futures
        assert good.result(timeout=30).tolist() == [[4.0, 1.0]]
        assert also.result(timeout=30).tolist() == [[15.0, 1.0]]
        with pytest.raises(RuntimeError, match="cannot embed 'boom'"):
            bad.result(timeout=30)
    assert sorted(inner.runs[1]) == sorted(batch)  # they did share one run first
    assert sorted(inner.runs[2:]) == [["also in the run"], ["boom"], ["good"]]
    inner.fail = None
    assert embedder.embed(["later"]).tolist() == [[5.0, 1.0]]  # the worker lives on


def test_name_and_dimension_are_the_models() -> None:
    """The wrapper is transparent to the index fingerprint and the stores."""
    embedder = CoalescingEmbedder(GatedEmbedder())
    assert (embedder.name, embedder.dimension) == ("gated", 2)
