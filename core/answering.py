"""AnswerService: retrieve, decide whether to abstain, generate or extract, cite, record."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from core.calibration_table import CALIBRATION
from core.confidence import Calibration, calibrated_confidence, evidence
from core.errors import InvalidQuestion, ModelUnavailable, StoreUnavailable
from core.extractive import EXTRACTIVE_MODEL, abstention, extractive_answer
from core.grounding import Embed, GroundingPolicy, PassageHeader, check_answer
from core.memory import MemoryHit, best_hit, for_surface, lead
from core.ports import (
    AnswerMemory,
    ChatModel,
    InteractionLog,
    Retriever,
    Rollout,
    StreamingChatModel,
)
from core.prompting import build_messages
from core.text import validate_text
from core.types import (
    Answer,
    AnswerDone,
    AnswerEvent,
    ChatMessage,
    Grounding,
    Interaction,
    Question,
    Source,
    SourcesFound,
    TextDelta,
    Timings,
    Turn,
)

_log = logging.getLogger(__name__)

ABSTAINED_MODEL = "abstained"
# Why a generated answer was not sent as it was (Grounding.cause).
LOW_SUPPORT = "low_support"
NO_SENTENCE = "no_sentence"
OFF_TOPIC = "off_topic"
INVENTED_SOURCE = "invented_source"
REPETITIVE = "repetitive"


@dataclass(frozen=True, slots=True)
class AnswerPolicy:
    """The knobs of answering, filled from settings by the composition root.

    `min_relevance` is the cosine similarity the best passage must reach; below it the
    service abstains (boilerplate passages, core.passages, count as none). `calibration`
    turns the passages' similarities into the chance that the first source answers
    (core.confidence).
    `memory_threshold` is the core.memory.match_score an endorsed answer must reach to lead.
    """

    default_kb: str = "default"
    top_k: int = 5
    min_relevance: float = 0.35
    calibration: Calibration = CALIBRATION
    max_question_chars: int = 2000
    max_context_chars: int = 6000
    history_turns: int = 4
    grounding: GroundingPolicy | None = field(default_factory=GroundingPolicy)
    min_evidence: float = 0.5
    memory_threshold: float = 0.60


@dataclass(frozen=True, slots=True)
class _Retrieved:
    """A validated question with its passages, before any text is written."""

    text: str
    kb: str
    route: str | None
    history: tuple[Turn, ...]
    sources: list[Source]
    confidence: float
    abstaining: bool
    started: float
    retrieved: float
    hit: MemoryHit | None = None
    docs_relevant: bool = True


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
        embed: Embed | None = None,
        memory: AnswerMemory | None = None,
    ) -> None:
        self._retriever = retriever
        self._chat_model = chat_model
        self._rollout = rollout
        self._log_store = interaction_log
        self._policy = policy or AnswerPolicy()
        self._clock = clock
        self._embed = embed
        self._memory = memory

    @property
    def policy(self) -> AnswerPolicy:
        return self._policy

    def confidence(self, sources: list[Source]) -> float:
        """The calibrated chance that the first of the ranked sources answers (0..1)."""
        return calibrated_confidence(sources, self._policy.calibration)

    async def search(self, text: str, *, kb: str | None, k: int) -> list[Source]:
        """The passages for a query, validated like a question."""
        p = self._policy
        query = validate_question(text, max_chars=p.max_question_chars)
        return await self._retriever.search(query, kb=kb or p.default_kb, k=k)

    async def answer(self, question: Question) -> Answer:
        """Answers, falling back to an extractive answer when the model fails.

        Raises InvalidQuestion, UnknownKnowledgeBase, or StoreUnavailable when retrieval fails.
        """
        found = await self._retrieve(question)
        if found.abstaining:
            reply, model, extractive = abstention(found.sources), ABSTAINED_MODEL, False
        else:
            reply, model, extractive = await self._generate(found)
        reply, model, extractive, grounding = await self._checked(found, reply, model, extractive)
        return await self._finish(question, found, reply, model, extractive, grounding)

    async def answer_stream(self, question: Question) -> AsyncIterator[AnswerEvent]:
        """Answers as events: the sources first, then the text in pieces as the model writes
        it, then the recorded answer.

        A model that cannot stream, or no model, gives the whole text as one piece; a model
        that fails before its first piece gives the extractive answer as one piece, and one
        that fails later ends with `AnswerDone.replaced` and the extractive answer. Raises
        like `answer`, before the first event.
        """
        found = await self._retrieve(question)
        yield SourcesFound(tuple(found.sources), found.confidence, found.abstaining)
        streamed: list[str] = []
        replaced = False
        if found.abstaining:
            reply, model, extractive = abstention(found.sources), ABSTAINED_MODEL, False
        elif isinstance(self._chat_model, StreamingChatModel):
            name = found.route or self._chat_model.name
            failed = False
            messages = self._messages(found)
            if found.hit is not None:
                streamed.append(_opening(found))
                yield TextDelta(streamed[0])
            try:
                async for piece in self._chat_model.stream(messages, model=found.route):
                    streamed.append(piece)
                    yield TextDelta(piece)
            except ModelUnavailable as exc:
                _log.warning("chat model stream failed, answering extractively: %s", exc)
                failed = True
            reply, model, extractive = "".join(streamed).strip(), name, False
            if failed or not reply:
                if not failed:
                    _log.warning("chat model %s streamed an empty answer", name)
                replaced = bool(streamed)
                reply = self._extractive(found)
                model, extractive = EXTRACTIVE_MODEL, True
        else:
            reply, model, extractive = await self._generate(found)
        checked = await self._checked(found, reply, model, extractive)
        if streamed and checked[0] != reply:
            replaced = True  # the streamed text did not hold up against its sources
        reply, model, extractive, grounding = checked
        if not streamed:
            yield TextDelta(reply)
        yield AnswerDone(
            await self._finish(question, found, reply, model, extractive, grounding),
            replaced=replaced,
        )

    async def _retrieve(self, question: Question) -> _Retrieved:
        p = self._policy
        started = time.perf_counter()
        text = validate_question(question.text, max_chars=p.max_question_chars)
        route = self._route(question)
        history = question.history[-p.history_turns :] if p.history_turns else ()
        query = retrieval_query(text, question, turns=p.history_turns)
        kb = question.kb or p.default_kb
        sources, hit = await asyncio.gather(
            self._retriever.search(query, kb=kb, k=p.top_k),
            self._recall(query, kb, platform=question.platform),
        )
        best = max((evidence(s) for s in sources), default=0.0)
        confidence = self.confidence(sources) if best >= p.min_relevance else 0.0
        if hit is not None:
            confidence = max(confidence, min(hit.score, 1.0))
        return _Retrieved(
            text=text,
            kb=kb,
            route=route,
            history=history,
            sources=sources,
            confidence=confidence,
            abstaining=hit is None and best < p.min_relevance,
            started=started,
            retrieved=time.perf_counter(),
            hit=hit,
            docs_relevant=best >= p.min_relevance,
        )

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

    async def _finish(
        self,
        question: Question,
        found: _Retrieved,
        reply: str,
        model: str,
        extractive: bool,
        grounding: Grounding | None = None,
    ) -> Answer:
        finished = time.perf_counter()
        answer = Answer(
            text=reply,
            sources=tuple(found.sources),
            confidence=found.confidence,
            abstained=model == ABSTAINED_MODEL,
            model=model,
            extractive=extractive,
            timings=Timings(
                retrieval=found.retrieved - found.started,
                generation=finished - found.retrieved,
                total=finished - found.started,
            ),
            interaction_id=uuid.uuid4().hex,
            routed_model=self._routed_name(found.route),
            grounding=grounding,
            memory=found.hit,
        )
        await self._record(question, answer)
        return answer

    def _messages(self, found: _Retrieved) -> list[ChatMessage]:
        return build_messages(
            found.text,
            found.sources,
            project=found.kb,
            history=found.history,
            max_context_chars=self._policy.max_context_chars,
            endorsed=found.hit.entry if found.hit is not None else None,
        )

    def _route(self, question: Question) -> str | None:
        """The model this question goes to; None leaves the choice to the chat model."""
        if self._chat_model is None or self._rollout is None:
            return None
        return self._rollout.state().model_for(question.user_hash)

    def _routed_name(self, route: str | None) -> str:
        if route is not None:
            return route
        return self._chat_model.name if self._chat_model is not None else EXTRACTIVE_MODEL

    async def _generate(self, found: _Retrieved) -> tuple[str, str, bool]:
        if self._chat_model is not None:
            try:
                completion = await self._chat_model.complete(
                    self._messages(found), model=found.route
                )
            except ModelUnavailable as exc:
                _log.warning("chat model unavailable, answering extractively: %s", exc)
            else:
                if completion.text.strip():
                    return _opening(found) + completion.text.strip(), completion.model, False
                _log.warning("chat model %s returned an empty answer", completion.model)
        return self._extractive(found), EXTRACTIVE_MODEL, True

    def _extractive(self, found: _Retrieved) -> str:
        """The docs' extract, after a memory hit's lead; the lead alone when the docs are not
        relevant."""
        if found.hit is not None and not found.docs_relevant:
            return lead(found.hit)
        return _opening(found) + extractive_answer(found.text, found.sources)

    async def _checked(
        self, found: _Retrieved, reply: str, model: str, extractive: bool
    ) -> tuple[str, str, bool, Grounding | None]:
        """A generated reply checked against its passages (core.grounding); others as they are."""
        policy = self._policy.grounding
        if extractive or model == ABSTAINED_MODEL or policy is None or found.hit is not None:
            # A memory-led answer quotes the endorsed answer, which is not among the passages.
            return reply, model, extractive, None
        best = max((s.score for s in found.sources), default=0.0)
        return await self._ground(found.text, reply, model, found.sources, best, policy)

    async def _ground(
        self,
        question: str,
        reply: str,
        model: str,
        sources: list[Source],
        best: float,
        policy: GroundingPolicy,
    ) -> tuple[str, str, bool, Grounding]:
        """The generated reply checked against the passages; a poorly supported one is
        replaced by the extractive answer or, on weak evidence, by an abstention."""
        passages = [s.chunk.text for s in sources]
        headers = [
            PassageHeader(s.chunk.path, s.chunk.start_line, s.chunk.end_line) for s in sources
        ]
        if self._embed is None:
            check = check_answer(reply, passages, policy=policy, question=question, headers=headers)
        else:
            check = await asyncio.to_thread(
                check_answer,
                reply,
                passages,
                policy=policy,
                embed=self._embed,
                question=question,
                headers=headers,
            )
        grounding = Grounding(
            model=model,
            support=check.support,
            threshold=policy.min_support,
            sentences=len(check.sentences),
            unsupported=check.unsupported,
            removed_citations=check.removed_citations,
            attributed_citations=check.attributed_citations,
            relevance=check.relevance,
        )
        if check.grounded:
            return check.text, model, False, grounding
        if check.invented_sources:
            cause = INVENTED_SOURCE
            n = check.invented_sources
            reason = f"names {n} source{'s' if n != 1 else ''} the passages do not come from"
        elif check.repetitive:
            cause, reason = REPETITIVE, f"{check.repeated} lines or sentences said again"
        elif not check.sentences:
            cause, reason = NO_SENTENCE, "no sentence to check"
        elif check.support < policy.min_support:
            cause, reason = (
                LOW_SUPPORT,
                f"support {check.support:.2f} below {policy.min_support:.2f}",
            )
        else:
            cause = OFF_TOPIC
            reason = (
                f"off topic: relevance to the question {check.relevance or 0.0:.2f} "
                f"below {policy.min_question_relevance:.2f}"
            )
        if best < self._policy.min_evidence:
            reason += f"; best passage {best:.2f} below {self._policy.min_evidence:.2f}"
            text, fallback, extractive = abstention(sources), ABSTAINED_MODEL, False
        else:
            text, fallback, extractive = (
                extractive_answer(question, sources),
                EXTRACTIVE_MODEL,
                True,
            )
        _log.info("answer of %s not sent as generated: %s", model, reason)
        return (
            text,
            fallback,
            extractive,
            replace(grounding, fallback=fallback, reason=reason, cause=cause),
        )

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


def _opening(found: _Retrieved) -> str:
    """A memory hit's lead and a blank line, or nothing."""
    return f"{lead(found.hit)}\n\n" if found.hit is not None else ""
