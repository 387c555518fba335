"""Leximind's configuration: one settings object, read from LEXIMIND_* variables and .env.

Only ops/wiring constructs it; everything else receives plain values. Each concern has its
own module of sections (serving, storage, bots, training); this package re-exports them.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.text import validate_kb_name
from ops.settings.bots import BotSettings, DiscordSettings, GitHubSettings, SlackSettings
from ops.settings.common import _default_data_dir
from ops.settings.memory import MemorySettings
from ops.settings.serving import (
    AnswerSettings,
    EmbeddingSettings,
    IndexSettings,
    LLMSettings,
    MetricsSettings,
    RetrievalSettings,
)
from ops.settings.storage import StateSettings, StorageSettings, VectorSettings
from ops.settings.training import (
    DatasetSettings,
    DeploySettings,
    LabelStudioSettings,
    SchedulerSettings,
    TrackingSettings,
    TrainingSettings,
)
from ops.settings.web import WebSettings

__all__ = [
    "AnswerSettings",
    "BotSettings",
    "DatasetSettings",
    "DeploySettings",
    "DiscordSettings",
    "EmbeddingSettings",
    "GitHubSettings",
    "IndexSettings",
    "LLMSettings",
    "LabelStudioSettings",
    "MetricsSettings",
    "RetrievalSettings",
    "SchedulerSettings",
    "Settings",
    "SlackSettings",
    "StateSettings",
    "StorageSettings",
    "TrackingSettings",
    "TrainingSettings",
    "VectorSettings",
    "validate_kb_name",
]


class Settings(BaseSettings):
    """Every setting, e.g. LEXIMIND_DATA_DIR or LEXIMIND_LLM__BASE_URL."""

    model_config = SettingsConfigDict(
        env_prefix="LEXIMIND_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        hide_input_in_errors=True,  # an error never repeats a secret
    )

    data_dir: Path = Field(default_factory=_default_data_dir)
    default_kb: str = Field("default", description="knowledge base used when none is named")
    log_level: str = Field("WARNING", description="DEBUG, INFO, WARNING or ERROR")
    llm: LLMSettings = Field(default_factory=LLMSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    index: IndexSettings = Field(default_factory=IndexSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    bots: BotSettings = Field(default_factory=BotSettings)
    state: StateSettings = Field(default_factory=StateSettings)
    discord: DiscordSettings = Field(default_factory=DiscordSettings)
    label_studio: LabelStudioSettings = Field(default_factory=LabelStudioSettings)
    dataset: DatasetSettings = Field(default_factory=DatasetSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    vector: VectorSettings = Field(default_factory=VectorSettings)
    github: GitHubSettings = Field(default_factory=GitHubSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    tracking: TrackingSettings = Field(default_factory=TrackingSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    deploy: DeploySettings = Field(default_factory=DeploySettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    memory: MemorySettings = Field(default_factory=MemorySettings)

    @field_validator("default_kb")
    @classmethod
    def _kb_name(cls, value: str) -> str:
        return validate_kb_name(value)
