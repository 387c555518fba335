"""Test-wide fixtures: a clean environment, paths to the shared data, and real servers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.label_studio import (
    LabelStudioServer,
    require_label_studio,
    start_label_studio,
)
from tests.support.redis_server import RedisServer, require_redis_server, start_redis
from tests.support.seaweedfs import SeaweedServer, start_seaweedfs
from tests.support.vllm_server import (
    VllmServer,
    require_vllm_python,
    start_vllm,
    tiny_llama_dir,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def shared_data(*parts: str) -> Path:
    """A path in the shared data beside the checkout; the calling test is skipped, with the
    reason, when the shared data (or that part of it) is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs ../shared/data/{'/'.join(parts)} beside the checkout (absent)")
    return path


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No LEXIMIND_* variable of the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("LEXIMIND_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    yield


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the exported embedding model, shared by every test of the session."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def vllm_python() -> Path:
    """The vllm venv's python; read at session scope, before the per-test env cleaning."""
    return require_vllm_python()


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory, vllm_python: Path) -> Path:
    """The tiny Llama checkpoint, built once per session."""
    return tiny_llama_dir(tmp_path_factory)


@pytest.fixture(scope="session")
def vllm_server(
    tmp_path_factory: pytest.TempPathFactory, vllm_python: Path, tiny_llama: Path
) -> Iterator[VllmServer]:
    """A vLLM server shared by the session, serving the tiny Llama as `tiny-llama`."""
    with start_vllm(
        vllm_python,
        tiny_llama,
        served_name="tiny-llama",
        work_dir=tmp_path_factory.mktemp("vllm"),
    ) as server:
        yield server


@pytest.fixture
def own_vllm_server(
    tmp_path_factory: pytest.TempPathFactory, vllm_python: Path, tiny_llama: Path
) -> Iterator[VllmServer]:
    """A server for one test only, which the test may stop."""
    with start_vllm(
        vllm_python,
        tiny_llama,
        served_name="tiny-llama-own",
        work_dir=tmp_path_factory.mktemp("vllm-own"),
    ) as server:
        yield server


@pytest.fixture(scope="session")
def label_studio_executable() -> Path:
    """The Label Studio venv's `label-studio`; read at session scope, before env cleaning."""
    return require_label_studio()


@pytest.fixture(scope="session")
def label_studio(
    tmp_path_factory: pytest.TempPathFactory, label_studio_executable: Path
) -> Iterator[LabelStudioServer]:
    """A Label Studio server shared by the session, started by the first test that needs it."""
    with start_label_studio(
        label_studio_executable, tmp_path_factory.mktemp("label-studio")
    ) as server:
        yield server


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    """A SeaweedFS S3 server shared by the session, started by the first test that asks."""
    with start_seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


@pytest.fixture
def own_seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    """A SeaweedFS server for one test only, which the test may kill and restart."""
    with start_seaweedfs(tmp_path_factory.mktemp("seaweedfs-own")) as server:
        yield server


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server shared by the session; tests keep apart by key prefix."""
    server = start_redis(require_redis_server(), tmp_path_factory.mktemp("redis"))
    try:
        yield server
    finally:
        server.stop()
