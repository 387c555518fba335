"""AnswerService: retrieve, decide whether to abstain, generate or extract, cite, record."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from core.errors import InvalidQuestion, ModelUnavailable, StoreUnavailable
from core.extractive import EXTRACTIVE_MODEL, abstention, extractive_answer
from core.memory import MemoryHit, best_hit, for_surface, lead
from core.ports import AnswerMemory, ChatModel, InteractionLog, Retriever, Rollout
from core.prompting import build_messages
from core.text import validate_text
from core.types import Answer, Interaction, Question, Source, Timings, Turn

_log = logging.getLogger(__name__)

ABSTAINED_MODEL = "abstained"


@dataclass(frozen=True, slots=True)
class AnswerPolicy:
    """The knobs of answering, filled from settings by the composition root.

    `min_relevance` is the cosine similarity the best passage must reach; below it the
    service abstains. `confidence_floor`/`confidence_ceiling` map that similarity onto 0..1.
    `memory_threshold` is the core.memory.match_score an endorsed answer must reach to lead.
    """

    default_kb: str = "default"
    top_k: int = 5
    min_relevance: float = 0.35
    confidence_floor: float = 0.25
    confidence_ceiling: float = 0.75
    max_question_chars: int = 2000
    max_context_chars: int = 6000
    history_turns: int = 4
    memory_threshold: float = 0.57


def validate_question(text: str, *, max_chars: int) -> str:
    """The question stripped of surrounding space; raises InvalidQuestion when unusable."""
    stripped = text.strip()
    if not stripped:
        raise InvalidQuestion("the question is empty")
    if len(stripped) > max_chars:
        raise InvalidQuestion(
            f"the question is {len(stripped)} characters long; the limit is {max_chars}"
        )
    try:
        return validate_text(stripped, what="the question")
    except ValueError as exc:
        raise InvalidQuestion(str(exc)) from None


def retrieval_query(text: str, question: Question, *, turns: int) -> str:
    """The search query: a follow-up is searched together with the question it follows."""
    if not question.history or turns <= 0:
        return text
    return f"{question.history[-1].question}\n{text}"


class AnswerService:
    """Answers questions from a knowledge base with cited sources.

    With `rollout`, each question is routed to the champion or, during a canary, to the
    challenger by its user hash (core.rollout); the chat model is asked for that model.
    With `memory`, endorsed answers are searched beside the docs: a close match leads the
    answer (core.memory.lead) and is shown to the model as the endorsed passage.
    """

    def __init__(
        self,
        *,
        retriever: Retriever,
        chat_model: ChatModel | None,
        interaction_log: InteractionLog,
        policy: AnswerPolicy | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        rollout: Rollout | None = None,
        memory: AnswerMemory | None = None,
    ) -> None:
        self._retriever = retriever
        self._memory = memory
        self._chat_model = chat_model
        self._rollout = rollout
        self._log_store = interaction_log
        self._policy = policy or AnswerPolicy()
        self._clock = clock

    @property
    def policy(self) -> AnswerPolicy:
        return self._policy

    def confidence(self, sources: list[Source]) -> float:
        """The best passage's similarity mapped linearly onto 0..1."""
        if not sources:
            return 0.0
        p = self._policy
        best = max(s.score for s in sources)
        scaled = (best - p.confidence_floor) / (p.confidence_ceiling - p.confidence_floor)
        return round(min(max(scaled, 0.0), 1.0), 3)

    async def search(self, text: str, *, kb: str | None, k: int) -> list[Source]:
        """The passages for a query, validated like a question."""
        p = self._policy
        query = validate_question(text, max_chars=p.max_question_chars)
        return await self._retriever.search(query, kb=kb or p.default_kb, k=k)

    async def answer(self, question: Question) -> Answer:
        """Answers, falling back to an extractive answer when the model fails.

        Raises InvalidQuestion, UnknownKnowledgeBase, or StoreUnavailable when retrieval fails.
        """
        p = self._policy
        started = time.perf_counter()
        text = validate_question(question.text, max_chars=p.max_question_chars)
        route = self._route(question)
        kb = question.kb or p.default_kb
        history = question.history[-p.history_turns :] if p.history_turns else ()
        query = retrieval_query(text, question, turns=p.history_turns)
        sources, hit = await asyncio.gather(
            self._retriever.search(query, kb=kb, k=p.top_k),
            self._recall(query, kb, platform=question.platform),
        )
        retrieved = time.perf_counter()
        confidence = self.confidence(sources)
        best = max((s.score for s in sources), default=0.0)

        if hit is not None:
            reply, model, extractive = await self._generate(
                text, sources, kb, history, route, hit=hit, docs_relevant=best >= p.min_relevance
            )
            confidence = max(confidence, min(hit.score, 1.0))
        elif best < p.min_relevance:
            reply, model, extractive = abstention(sources), ABSTAINED_MODEL, False
        else:
            reply, model, extractive = await self._generate(text, sources, kb, history, route)
        finished = time.perf_counter()
        answer = Answer(
            text=reply,
            sources=tuple(sources),
            confidence=confidence,
            abstained=model == ABSTAINED_MODEL,
            model=model,
            extractive=extractive,
            timings=Timings(
                retrieval=retrieved - started,
                generation=finished - retrieved,
                total=finished - started,
            ),
            interaction_id=uuid.uuid4().hex,
            routed_model=self._routed_name(route),
            memory=hit,
        )
        await self._record(question, answer)
        return answer

    async def _recall(self, query: str, kb: str, *, platform: str) -> MemoryHit | None:
        """The endorsed answer that leads, if one matches closely; the docs answer alone when
        the memory cannot be searched."""
        if self._memory is None:
            return None
        try:
            hits = await self._memory.recall(query, kb=kb)
        except StoreUnavailable as exc:
            _log.warning("answer memory unavailable, answering from the docs: %s", exc)
            return None
        hit = best_hit(hits, threshold=self._policy.memory_threshold)
        return for_surface(hit, platform=platform) if hit is not None else None

    def _route(self, question: Question) -> str | None:
        """The model this question goes to; None leaves the choice to the chat model."""
        if self._chat_model is None or self._rollout is None:
            return None
        return self._rollout.state().model_for(question.user_hash)

    def _routed_name(self, route: str | None) -> str:
        if route is not None:
            return route
        return self._chat_model.name if self._chat_model is not None else EXTRACTIVE_MODEL

    async def _generate(
        self,
        text: str,
        sources: list[Source],
        kb: str,
        history: tuple[Turn, ...],
        route: str | None,
        *,
        hit: MemoryHit | None = None,
        docs_relevant: bool = True,
    ) -> tuple[str, str, bool]:
        """The answer text, the model that wrote it, and whether it is extractive.

        With a memory hit the text starts with its lead; the model, told which passage is
        the endorsed answer, adds what the docs say; without a model the docs' extract
        follows the lead only when the docs are relevant.
        """
        opening = f"{lead(hit)}\n\n" if hit is not None else ""
        if self._chat_model is not None:
            messages = build_messages(
                text,
                sources,
                project=kb,
                history=history,
                max_context_chars=self._policy.max_context_chars,
                endorsed=hit.entry if hit is not None else None,
            )
            try:
                completion = await self._chat_model.complete(messages, model=route)
            except ModelUnavailable as exc:
                _log.warning("chat model unavailable, answering extractively: %s", exc)
            else:
                if completion.text.strip():
                    return opening + completion.text.strip(), completion.model, False
                _log.warning("chat model %s returned an empty answer", completion.model)
        if hit is not None and not docs_relevant:
            return lead(hit), EXTRACTIVE_MODEL, True
        return opening + extractive_answer(text, sources), EXTRACTIVE_MODEL, True

    async def _record(self, question: Question, answer: Answer) -> None:
        interaction = Interaction(
            id=answer.interaction_id,
            created_at=self._clock().isoformat(timespec="milliseconds"),
            question=question,
            answer=answer,
        )
        try:
            await self._log_store.record(interaction)
        except StoreUnavailable as exc:
            _log.error("could not record interaction %s: %s", interaction.id, exc)
