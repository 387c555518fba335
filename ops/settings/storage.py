"""Settings of storage: objects (local or S3), vectors (LanceDB or Weaviate), shared state."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, Field, SecretStr, field_validator, model_validator

from ops.settings.common import RealSecret, is_placeholder, refuse_placeholder

_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_COLLECTION = re.compile(r"[A-Z][_0-9A-Za-z]{0,254}")


def _access_key(value: str | None) -> str | None:
    """An S3 access key, not a secret but refused as a placeholder (MinIO's default) too."""
    value = (value or "").strip()
    return refuse_placeholder(value) if value else None


class StorageSettings(BaseModel):
    """Where interactions, feedback and datasets go: a local folder or any S3 API (MinIO)."""

    backend: Literal["local", "s3"] = Field("local", description="local folder or S3")
    local_dir: Path | None = Field(None, description="local backend; default DATA_DIR/objects")
    endpoint: str | None = Field(None, description="S3 host:port, e.g. minio.internal:9000")
    access_key: Annotated[str | None, AfterValidator(_access_key)] = None
    secret_key: RealSecret = None
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
        if self.backend == "s3" and not (self.endpoint and self.access_key and self.secret_key):
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
    weaviate_api_key: RealSecret = None
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
        if self.backend == "weaviate" and not self.weaviate_url:
            raise ValueError(
                "LEXIMIND_VECTOR__BACKEND=weaviate needs LEXIMIND_VECTOR__WEAVIATE_URL"
            )
        return self


class StateSettings(BaseModel):
    """Where the bots keep shared state: the data dir by default, Redis for several replicas."""

    redis_url: RealSecret = Field(
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
        if is_placeholder(parts.password or ""):
            raise ValueError(
                "LEXIMIND_STATE__REDIS_URL has a placeholder password; set the real one"
            )
        return value
