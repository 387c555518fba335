"""`leximind serve` with its Redis and S3 behind stalling proxies, for the test and the benchmark
of answering while both backends go silent.

The knowledge base is indexed straight into S3 (so the catalog the server reads is the shared
one), the rollout state in Redis names a champion that the fake model server knows, and the
server reaches Redis and S3 only through a StallingProxy each.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from redis.asyncio import Redis

from adapters.llm.redis_rollout import RedisActiveModel
from ops.settings import EmbeddingSettings, Settings, StorageSettings
from rag.sources import read_tree
from tests.support.corpus import make_fastapi_repo
from tests.support.fake_vllm import FakeVllm, fake_vllm
from tests.support.leximind_server import LeximindServer, start_leximind
from tests.support.redis_server import RedisServer
from tests.support.seaweedfs import SeaweedServer
from tests.support.services import index_tree
from tests.support.stalling_proxy import StallingProxy

CHAMPION = "champion-v1"  # the model the rollout state in Redis names
QUESTION = "How do I enable CORS in my FastAPI app?"


@dataclass
class StalledStack:
    """The server and the two proxies in front of its backends."""

    server: LeximindServer
    redis: StallingProxy
    s3: StallingProxy
    model: FakeVllm

    def stall(self) -> None:
        """Both backends go silent at once."""
        self.redis.stall()
        self.s3.stall()


async def _name_the_champion(url: str, prefix: str) -> None:
    client = Redis.from_url(url, socket_timeout=5)
    try:
        await RedisActiveModel(client, key_prefix=prefix).switch(CHAMPION)
    finally:
        await client.aclose()


@contextmanager
def serve_behind_stalling_proxies(
    work: Path,
    *,
    redis: RedisServer,
    seaweedfs: SeaweedServer,
    model_cache: Path,
    backend_timeout: float,
    refresh: float = 0.2,
) -> Iterator[StalledStack]:
    """A ready server whose Redis and S3 clients give up after `backend_timeout` seconds and
    whose rollout state and catalog are due for a refresh every `refresh` seconds."""
    bucket = f"stall-{uuid.uuid4().hex[:12]}"
    storage = StorageSettings(
        backend="s3",
        endpoint=seaweedfs.endpoint,
        access_key=seaweedfs.access_key,
        secret_key=seaweedfs.secret_key,  # type: ignore[arg-type]
        secure=False,
        bucket=bucket,
    )
    data = work / "data"
    settings = Settings(
        _env_file=None,
        data_dir=data,
        embedding=EmbeddingSettings(cache_dir=model_cache),
        storage=storage,
    )
    repo = make_fastapi_repo(work / "repo")
    index_tree(settings, read_tree(repo, max_bytes=1_000_000), kb="default", source=str(repo))
    prefix = f"stall-{uuid.uuid4().hex[:12]}:"
    asyncio.run(_name_the_champion(redis.url, prefix))

    with ExitStack() as stack:
        model = stack.enter_context(fake_vllm())
        model.adapters[CHAMPION] = {}
        model.default_answer = (
            "Configure it in your FastAPI application using the CORSMiddleware [1]."
        )
        redis_proxy = stack.enter_context(StallingProxy(redis.port))
        s3_port = int(seaweedfs.endpoint.rsplit(":", 1)[1])
        s3_proxy = stack.enter_context(StallingProxy(s3_port))
        timeout = str(backend_timeout)
        env = {
            "LEXIMIND_DATA_DIR": str(data),
            "LEXIMIND_EMBEDDING__CACHE_DIR": str(model_cache),
            "LEXIMIND_LLM__BASE_URL": model.base_url,
            "LEXIMIND_LLM__MODEL": model.base_model,
            "LEXIMIND_STATE__REDIS_URL": f"redis://127.0.0.1:{redis_proxy.port}/0",
            "LEXIMIND_STATE__KEY_PREFIX": prefix,
            "LEXIMIND_STATE__SOCKET_TIMEOUT": timeout,
            "LEXIMIND_STATE__CONNECT_TIMEOUT": timeout,
            "LEXIMIND_STATE__ROLLOUT_REFRESH": str(refresh),
            "LEXIMIND_STORAGE__BACKEND": "s3",
            "LEXIMIND_STORAGE__ENDPOINT": f"127.0.0.1:{s3_proxy.port}",
            "LEXIMIND_STORAGE__ACCESS_KEY": seaweedfs.access_key,
            "LEXIMIND_STORAGE__SECRET_KEY": seaweedfs.secret_key,
            "LEXIMIND_STORAGE__SECURE": "false",
            "LEXIMIND_STORAGE__BUCKET": bucket,
            "LEXIMIND_STORAGE__CONNECT_TIMEOUT": timeout,
            "LEXIMIND_STORAGE__READ_TIMEOUT": timeout,
            "LEXIMIND_STORAGE__RETRIES": "0",
            "LEXIMIND_STORAGE__CATALOG_TTL": str(refresh),
        }
        server = stack.enter_context(start_leximind(env, log_path=work / "serve.log"))
        # Closed before the server stops, so that calls stuck on them end and it exits at once.
        stack.callback(s3_proxy.stop)
        stack.callback(redis_proxy.stop)
        yield StalledStack(server=server, redis=redis_proxy, s3=s3_proxy, model=model)
