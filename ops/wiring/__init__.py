"""The composition root: the one place that reads settings and builds clients and services.

Every process enters `open_services(settings, role)` (lifecycle), which builds each client
once and closes them in reverse order. One module per concern holds the builders, each
taking its own settings section: storage (object store, spool, catalog, vector store),
state (Redis, rollout), serving (embedder, retriever, answers), memory, bots (the
adapters), web and training (datasets, LlamaFactory, MLflow, deploy). A missing setting
raises ops.errors.NotConfigured. This package re-exports them.
"""

from __future__ import annotations

from typing import Any

from ops.errors import NotConfigured
from ops.settings import Settings
from ops.wiring.bots import (
    BotKit,
    build_bot_kit,
    build_bot_state,
    build_discord_client,
    build_github_api,
    build_github_webhook,
    build_reaction_poller,
    build_slack_bot,
    build_user_hasher,
)
from ops.wiring.lifecycle import (
    Process,
    Role,
    open_services,
    open_services_sync,
    run_in_services,
)
from ops.wiring.serving import (
    Services,
    answer_policy,
    build_chat_model,
    build_embedder,
    build_indexer,
    build_retriever,
    default_model_path,
)
from ops.wiring.state import build_active_model, build_redis_client, redis_timeouts
from ops.wiring.storage import (
    build_catalog,
    build_object_store,
    build_spooled_writer,
    build_vector_store,
    build_weaviate_store,
    connect_weaviate,
    file_catalog,
)
from ops.wiring.training import (
    TrainingBackends,
    adapters_dir,
    artifact_location,
    build_deployer,
    build_evaluator,
    build_label_studio,
    build_model_registry,
    build_retrain_pipeline,
    build_tracking,
    build_trainer,
    build_training_backends,
    dataset_spec,
    gate_policy,
    model_endpoint,
    tracking_uri,
)

__all__ = [
    "BotKit",
    "NotConfigured",
    "Process",
    "Role",
    "Services",
    "TrainingBackends",
    "adapters_dir",
    "answer_policy",
    "artifact_location",
    "build_active_model",
    "build_bot_kit",
    "build_bot_state",
    "build_catalog",
    "build_chat_model",
    "build_deployer",
    "build_discord_client",
    "build_embedder",
    "build_evaluator",
    "build_github_api",
    "build_github_webhook",
    "build_indexer",
    "build_label_studio",
    "build_model_registry",
    "build_object_store",
    "build_reaction_poller",
    "build_redis_client",
    "build_retrain_pipeline",
    "build_retriever",
    "build_slack_bot",
    "build_spooled_writer",
    "build_tracking",
    "build_trainer",
    "build_training_backends",
    "build_user_hasher",
    "build_vector_store",
    "build_weaviate_store",
    "connect_weaviate",
    "dataset_spec",
    "default_model_path",
    "file_catalog",
    "gate_policy",
    "load_settings",
    "model_endpoint",
    "open_services",
    "open_services_sync",
    "redis_timeouts",
    "run_in_services",
    "tracking_uri",
]


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and .env, with explicit overrides on top."""
    return Settings(**overrides)
