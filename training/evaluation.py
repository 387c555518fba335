"""Evaluation: candidate and champion answer the dataset's test set through the model server.

Each sample is asked exactly as LlamaFactory trains on it: one user message holding the
instruction, a newline and the input (when there is one), no system prompt. Both models
answer the same samples, one model after the other so that each one's throughput is its own,
with up to `concurrency` requests in flight; vLLM batches them. Answers are scored with
training.metrics against `test.json` and, when the dataset has one, against the answers users
rejected (`feedback_holdout.json`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from adapters.llm.openai_compatible import OpenAICompatibleChatModel
from core.errors import ModelUnavailable
from core.types import ChatMessage
from rag.ports import Embedder
from training.errors import DatasetError
from training.eval_report import REJECTED_SPLIT, TEST_SPLIT, EvaluationReport, SplitScores
from training.metrics import scored
from training.publish import HOLDOUT_FILE, TEST_FILE

_log = logging.getLogger(__name__)

EXAMPLES_IN_REPORT = 5


@dataclass(frozen=True, slots=True)
class EvalSample:
    """A prompt (instruction and input) and the answer the model's is compared with."""

    instruction: str
    input: str
    reference: str


@dataclass(frozen=True, slots=True)
class ModelEndpoint:
    """Where and how the models are asked: an OpenAI-compatible API root ending in /v1.

    Answers are greedy (temperature 0) by default, so the two models are compared on what
    each finds most likely rather than on sampling noise.
    """

    base_url: str
    api_key: str | None = None
    timeout: float = 120.0
    max_tokens: int = 256
    temperature: float = 0.0


def load_split(path: Path, *, reference: str) -> list[EvalSample]:
    """The records of an Alpaca JSON file, with `reference` (a field name) as the answer.

    Raises DatasetError naming the file and record for a file that is not a list of objects
    with string fields.
    """
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read: {exc.strerror}") from exc
    except ValueError as exc:
        raise DatasetError(f"{path}: malformed JSON: {exc}") from exc
    if not isinstance(rows, list):
        raise DatasetError(f"{path}: expected a JSON array of records")
    return [_sample(path, index, row, reference) for index, row in enumerate(rows)]


def _sample(path: Path, index: int, row: Any, reference: str) -> EvalSample:
    if not isinstance(row, dict):
        raise DatasetError(f"{path}: record {index} is not an object")
    values = {name: row.get(name, "") for name in ("instruction", "input", reference)}
    for name, value in values.items():
        if not isinstance(value, str):
            raise DatasetError(f"{path}: record {index}: field {name!r} is not a string")
    if not values["instruction"].strip():
        raise DatasetError(f"{path}: record {index} has no instruction")
    return EvalSample(values["instruction"], values["input"], values[reference])


def prompt_messages(sample: EvalSample, *, max_chars: int) -> list[ChatMessage]:
    """The sample as LlamaFactory's alpaca template gives it to the model, cut to `max_chars`.

    Training cuts long records too (cutoff_len); cutting here keeps the prompt inside the
    model's context window instead of failing the request.
    """
    content = "\n".join(part for part in (sample.instruction, sample.input) if part)
    return [ChatMessage("user", content[:max_chars])]


def dataset_splits(dataset_dir: Path, *, max_samples: int) -> dict[str, list[EvalSample]]:
    """`test` from test.json and, if present, `feedback_rejected` from feedback_holdout.json.

    Each split keeps at most `max_samples` records, the first ones (the ETL has shuffled them).
    Raises DatasetError when test.json is missing or empty.
    """
    splits = {TEST_SPLIT: load_split(dataset_dir / TEST_FILE, reference="output")}
    holdout = dataset_dir / HOLDOUT_FILE
    if holdout.is_file():
        splits[REJECTED_SPLIT] = load_split(holdout, reference="rejected_output")
    if not splits[TEST_SPLIT]:
        raise DatasetError(f"{dataset_dir / TEST_FILE}: no test samples to evaluate on")
    return {name: samples[:max_samples] for name, samples in splits.items() if samples}


class Evaluator:
    """Scores two served models (by name) on a dataset version's test samples."""

    def __init__(
        self,
        *,
        endpoint: ModelEndpoint,
        embedder: Embedder,
        concurrency: int = 16,
        max_samples: int = 1000,
        max_prompt_chars: int = 2000,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if concurrency < 1 or max_samples < 1 or max_prompt_chars < 1:
            raise ValueError("concurrency, max_samples and max_prompt_chars must be positive")
        self._endpoint = endpoint
        self._embedder = embedder
        self._concurrency = concurrency
        self._max_samples = max_samples
        self._max_prompt_chars = max_prompt_chars
        self._transport = transport

    @property
    def concurrency(self) -> int:
        return self._concurrency

    async def evaluate(
        self, dataset_dir: Path, *, candidate: str, champion: str, dataset_version: str = ""
    ) -> EvaluationReport:
        """Both models answer every split; raises ModelUnavailable if a request fails and
        DatasetError for unusable samples."""
        splits = dataset_splits(dataset_dir, max_samples=self._max_samples)
        scores: list[SplitScores] = []
        answers: dict[str, list[str]] = {}
        async with self._client() as client:
            for model in (candidate, champion):
                for split, samples in splits.items():
                    predictions, seconds = await self.answer(client, model, samples)
                    if split == TEST_SPLIT:
                        answers[model] = predictions
                    references = [s.reference for s in samples]
                    metrics, per_sample = await asyncio.to_thread(
                        scored, predictions, references, embedder=self._embedder
                    )
                    scores.append(
                        SplitScores(
                            model, split, len(samples), seconds, metrics, per_sample, predictions
                        )
                    )
                    _log.info(
                        "%s on %s: %d samples in %.1f s, %s",
                        model,
                        split,
                        len(samples),
                        seconds,
                        metrics,
                    )
        return EvaluationReport(
            candidate=candidate,
            champion=champion,
            dataset_version=dataset_version,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            concurrency=self._concurrency,
            scores=tuple(scores),
            examples=_examples(splits[TEST_SPLIT], answers, candidate, champion),
        )

    def _client(self) -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=self._concurrency, max_keepalive_connections=None)
        return httpx.AsyncClient(
            timeout=self._endpoint.timeout, limits=limits, transport=self._transport
        )

    async def answer(
        self, client: httpx.AsyncClient, model: str, samples: Sequence[EvalSample]
    ) -> tuple[list[str], float]:
        """The model's answers in sample order and the seconds they took.

        The first failed request cancels the others and its ModelUnavailable is raised.
        """
        e = self._endpoint
        chat = OpenAICompatibleChatModel(
            base_url=e.base_url,
            model=model,
            api_key=e.api_key,
            timeout=e.timeout,
            max_tokens=e.max_tokens,
            temperature=e.temperature,
            client=client,
        )
        gate = asyncio.Semaphore(self._concurrency)

        async def one(sample: EvalSample) -> str:
            async with gate:
                messages = prompt_messages(sample, max_chars=self._max_prompt_chars)
                return (await chat.complete(messages)).text.strip()

        started = time.perf_counter()
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(one(sample)) for sample in samples]
        except* ModelUnavailable as failed:
            raise failed.exceptions[0] from None
        return [t.result() for t in tasks], time.perf_counter() - started


def _examples(
    samples: Sequence[EvalSample], answers: dict[str, list[str]], candidate: str, champion: str
) -> tuple[dict[str, str], ...]:
    return tuple(
        {
            "prompt": "\n".join(p for p in (s.instruction, s.input) if p),
            "reference": s.reference,
            "candidate": answers[candidate][i],
            "champion": answers[champion][i],
        }
        for i, s in enumerate(samples[:EXAMPLES_IN_REPORT])
    )
