"""Evaluation: both models answer the test set through the OpenAI API, many at once; scored and
reported (against a local fake of vLLM; tests/training/test_retraining_vllm.py uses vLLM)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import ModelUnavailable
from rag.embedding import OnnxEmbedder
from tests.support.fake_vllm import FakeVllm, fake_vllm
from tests.support.retraining import onnx_embedder
from training.errors import DatasetError
from training.eval_report import write_report
from training.evaluation import (
    EvalSample,
    Evaluator,
    ModelEndpoint,
    dataset_splits,
    prompt_messages,
)
from training.metrics import similarity

TEST = [
    {"instruction": "How do I sort a list?", "input": "", "output": "Use sorted(items)."},
    {"instruction": "Read a file", "input": "path = 'a.txt'", "output": "open(path).read()"},
    {"instruction": "Join strings", "input": "", "output": "', '.join(words)"},
    {"instruction": "Parse JSON", "input": "", "output": "json.loads(text)"},
]
HOLDOUT = [
    {
        "interaction_id": "i1",
        "instruction": "How do I enable CORS?",
        "input": "[1] docs/cors.md",
        "rejected_output": "Set CORS=1 in the shell.",
    }
]


@pytest.fixture(scope="module")
def embedder(model_cache: Path) -> OnnxEmbedder:
    return onnx_embedder(model_cache)


@pytest.fixture
def server() -> Iterator[FakeVllm]:
    with fake_vllm() as fake:
        yield fake


def write_dataset(folder: Path, *, holdout: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "test.json").write_text(json.dumps(TEST))
    if holdout:
        (folder / "feedback_holdout.json").write_text(json.dumps(HOLDOUT))
    return folder


def prompt(record: dict[str, str]) -> str:
    return "\n".join(p for p in (record["instruction"], record["input"]) if p)


def evaluator(
    server: FakeVllm, embedder: OnnxEmbedder, *, concurrency: int = 16, max_samples: int = 1000
) -> Evaluator:
    return Evaluator(
        endpoint=ModelEndpoint(base_url=server.base_url, timeout=10, max_tokens=32),
        embedder=embedder,
        concurrency=concurrency,
        max_samples=max_samples,
    )


def test_the_prompt_is_the_one_training_uses() -> None:
    """One user message, instruction and input joined by a newline, no system prompt, cut."""
    sample = EvalSample("Read a file", "path = 'a.txt'", "open(path).read()")
    messages = prompt_messages(sample, max_chars=1000)
    assert [(m.role, m.content) for m in messages] == [("user", "Read a file\npath = 'a.txt'")]
    assert prompt_messages(EvalSample("Sort", "", "x"), max_chars=1000)[0].content == "Sort"
    assert prompt_messages(sample, max_chars=4)[0].content == "Read"


def test_identical_answers_score_one_and_others_less(embedder: OnnxEmbedder) -> None:
    """Every metric is 1 for answers equal to the references and lower for other answers."""
    references = [r["output"] for r in TEST]
    same = similarity(references, references, embedder=embedder)
    assert set(same) == {"bleu4", "rouge1", "rouge2", "rougeL", "cosine"}
    assert all(v == pytest.approx(1.0, abs=1e-4) for v in same.values())
    other = similarity(["I cannot say."] * len(references), references, embedder=embedder)
    assert all(0 <= other[k] < same[k] for k in same)
    with pytest.raises(ValueError, match="2 predictions for 4 references"):
        similarity(references[:2], references, embedder=embedder)


async def test_the_better_model_scores_higher_and_the_report_is_written(
    server: FakeVllm, embedder: OnnxEmbedder, tmp_path: Path
) -> None:
    """A candidate that gives the references beats a champion that does not; JSON and Markdown
    reports hold both models' metrics, throughput and examples."""
    server.adapters["good"] = {prompt(r): r["output"] for r in TEST}
    dataset = write_dataset(tmp_path / "dataset")

    report = await evaluator(server, embedder).evaluate(
        dataset, candidate="good", champion="base-model", dataset_version="v1"
    )

    good, base = report.metrics("good"), report.metrics("base-model")
    assert good["test/rougeL"] == pytest.approx(1.0) and base["test/rougeL"] < 0.5
    assert report.samples_per_s > 0
    assert [(s.model, s.split, s.samples) for s in report.scores] == [
        ("good", "test", 4),
        ("base-model", "test", 4),
    ]
    asked = [(r["model"], r["messages"]) for r in server.requests]
    assert ("good", [{"role": "user", "content": "Read a file\npath = 'a.txt'"}]) in asked
    assert all(r["temperature"] == 0 and r["max_tokens"] == 32 for r in server.requests)
    path = write_report(report, tmp_path / "reports")
    saved = json.loads(path.read_text())
    assert (
        saved["candidate"] == "good" and saved["examples"][0]["candidate"] == "Use sorted(items)."
    )
    markdown = (tmp_path / "reports" / "report.md").read_text()
    assert "| good | 1.0000" in markdown and "samples/s with 16 in flight" in markdown
    # Every answer and its own scores are kept, in sample order, for a paired comparison.
    [good_test] = [s for s in saved["scores"] if s["model"] == "good"]
    assert good_test["answers"] == [r["output"] for r in TEST]
    assert good_test["per_sample"]["rougeL"] == pytest.approx([1.0] * 4)
    gains = report.paired_gains("rougeL")
    assert gains is not None and len(gains) == 4 and all(g > 0 for g in gains)
    assert sum(gains) / 4 == pytest.approx(good["test/rougeL"] - base["test/rougeL"], abs=1e-5)
    assert report.paired_gains("bleu4") is None  # a corpus figure has no per-sample scores


async def test_answers_to_rejected_feedback_are_scored_apart(
    server: FakeVllm, embedder: OnnxEmbedder, tmp_path: Path
) -> None:
    """With a feedback hold-out, each model is also compared with the answers users rejected."""
    server.base_answers = {prompt(HOLDOUT[0]): HOLDOUT[0]["rejected_output"]}
    server.adapters["new"] = {}
    dataset = write_dataset(tmp_path / "dataset", holdout=True)

    report = await evaluator(server, embedder).evaluate(
        dataset, candidate="new", champion="base-model"
    )

    base, new = report.metrics("base-model"), report.metrics("new")
    assert base["feedback_rejected/rougeL"] == pytest.approx(1.0)
    assert new["feedback_rejected/rougeL"] < base["feedback_rejected/rougeL"]
    assert "feedback_rejected (1 samples; lower is better)" in report.markdown()


async def test_requests_are_in_flight_together(
    server: FakeVllm, embedder: OnnxEmbedder, tmp_path: Path
) -> None:
    """With a concurrency of 4, four requests reach the server before any is answered."""
    server.barrier = threading.Barrier(4, timeout=10)
    dataset = write_dataset(tmp_path / "dataset")

    await evaluator(server, embedder, concurrency=4).evaluate(
        dataset, candidate="base-model", champion="base-model"
    )

    assert server.in_flight_peak == 4


async def test_sample_limit_applies_per_split(
    server: FakeVllm, embedder: OnnxEmbedder, tmp_path: Path
) -> None:
    """Only the first max_samples records of each split are asked."""
    dataset = write_dataset(tmp_path / "dataset")
    report = await evaluator(server, embedder, max_samples=2).evaluate(
        dataset, candidate="base-model", champion="base-model"
    )
    assert {s.samples for s in report.scores} == {2}
    assert len(server.requests) == 4


async def test_a_failing_model_fails_the_evaluation(
    server: FakeVllm, embedder: OnnxEmbedder, tmp_path: Path
) -> None:
    """A model the server cannot answer with raises ModelUnavailable naming the HTTP error."""
    server.failing.add("base-model")
    dataset = write_dataset(tmp_path / "dataset")
    with pytest.raises(ModelUnavailable, match="HTTP 500"):
        await evaluator(server, embedder).evaluate(
            dataset, candidate="base-model", champion="base-model"
        )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        ("{", "malformed JSON"),
        ('{"a": 1}', "expected a JSON array"),
        ("[]", "no test samples"),
        ('[{"instruction": "", "output": "x"}]', "record 0 has no instruction"),
        ('[{"instruction": "q", "output": 3}]', "field 'output' is not a string"),
    ],
)
def test_unusable_test_sets_are_refused(tmp_path: Path, content: str | None, message: str) -> None:
    """A missing, malformed or empty test.json is a DatasetError naming the problem."""
    if content is not None:
        (tmp_path / "test.json").write_text(content)
    with pytest.raises(DatasetError, match=message):
        dataset_splits(tmp_path, max_samples=10)
