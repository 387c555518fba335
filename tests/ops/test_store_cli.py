"""`leximind store migrate --to weaviate` copies the embedded index, resumes, checks counts."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ops import wiring
from ops.cli import app
from ops.settings import VectorSettings
from rag.catalog import FileCatalog
from rag.shared_catalog import ObjectStoreCatalog
from rag.stores.lancedb import LanceDBStore
from rag.stores.weaviate import WeaviateStore
from tests.adapters.test_s3_storage import new_bucket, s3_store
from tests.rag.catalog_contract import record
from tests.rag.store_contract import CORPUS, DIM, make_chunk, vectors_for
from tests.support.fake_weaviate import FakeWeaviateServer
from tests.support.seaweedfs import SeaweedServer

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data dir whose embedded index holds the contract corpus (alpha: 3, beta: 1)."""
    data = tmp_path / "data"
    monkeypatch.setenv("LEXIMIND_DATA_DIR", str(data))
    store = LanceDBStore(data / "lancedb", dimension=DIM)
    store.upsert(CORPUS, vectors_for(CORPUS))
    return data


@pytest.fixture
def weaviate(monkeypatch: pytest.MonkeyPatch) -> FakeWeaviateServer:
    """Weaviate as configured, served by the in-memory stand-in through the real adapter."""
    server = FakeWeaviateServer()
    monkeypatch.setenv("LEXIMIND_VECTOR__WEAVIATE_URL", "http://weaviate.internal:8080")

    def build(vector: VectorSettings) -> WeaviateStore:
        assert vector.weaviate_url == "http://weaviate.internal:8080"
        return WeaviateStore(server.client, attempts=1, retry_pause=0)  # type: ignore[arg-type]

    monkeypatch.setattr(wiring.storage, "build_weaviate_store", build)
    return server


def weaviate_store(server: FakeWeaviateServer) -> WeaviateStore:
    return WeaviateStore(server.client)  # type: ignore[arg-type]


def test_migrate_copies_and_verifies(data_dir: Path, weaviate: FakeWeaviateServer) -> None:
    """Every knowledge base arrives with its vectors; the table shows matching counts."""
    result = runner.invoke(app, ["store", "migrate", "--to", "weaviate", "--batch", "2"])

    assert result.exit_code == 0, result.output
    assert "alpha: 2 chunks copied" in result.output
    assert "MISMATCH" not in result.output and result.output.count(" ok") == 2
    store = weaviate_store(weaviate)
    assert (store.count("alpha"), store.count("beta")) == (3, 1)
    assert store.chunks("alpha", [CORPUS[0].id]) == {CORPUS[0].id: CORPUS[0]}


def test_interrupted_migration_resumes(data_dir: Path, weaviate: FakeWeaviateServer) -> None:
    """A failed write stops with exit 1 and a hint; the next run copies only the rest."""
    weaviate.refuse = {CORPUS[2].id: 1}
    first = runner.invoke(app, ["store", "migrate", "--to", "weaviate", "--batch", "1"])
    assert first.exit_code == 1
    assert "run the command again to resume" in first.output

    second = runner.invoke(app, ["store", "migrate", "--to", "weaviate", "--batch", "1"])
    assert second.exit_code == 0, second.output
    alpha_row = next(line for line in second.output.splitlines() if line.startswith(" alpha"))
    assert alpha_row.split()[:6] == ["alpha", "│", "3", "│", "2", "│"]  # 2 already there
    assert weaviate_store(weaviate).count() == 4


def test_count_mismatch_fails_until_pruned(data_dir: Path, weaviate: FakeWeaviateServer) -> None:
    """A target holding chunks the embedded index lacks fails the check; --prune fixes it."""
    extra = make_chunk("alpha", "docs/old.md", "Removed since.")
    weaviate_store(weaviate).upsert([extra], vectors_for([extra]))

    result = runner.invoke(app, ["store", "migrate", "--to", "weaviate", "--kb", "alpha"])
    assert result.exit_code == 1
    assert "counts differ for alpha (3 embedded, 4 in weaviate)" in result.output
    assert "MISMATCH" in result.output

    pruned = runner.invoke(app, ["store", "migrate", "--to", "weaviate", "--prune"])
    assert pruned.exit_code == 0, pruned.output
    assert "(1 pruned)" in pruned.output
    assert weaviate_store(weaviate).count("alpha") == 3


def test_unconfigured_or_unknown_is_a_clear_error(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a Weaviate URL, or for a knowledge base not indexed, it says so and exits 1."""
    result = runner.invoke(app, ["store", "migrate", "--to", "weaviate"])
    assert result.exit_code == 1
    assert "set LEXIMIND_VECTOR__WEAVIATE_URL" in result.output

    monkeypatch.setattr(
        wiring,
        "build_weaviate_store",
        lambda _: WeaviateStore(FakeWeaviateServer().client),  # type: ignore[arg-type]
    )
    monkeypatch.setenv("LEXIMIND_VECTOR__WEAVIATE_URL", "http://weaviate.internal:8080")
    unknown = runner.invoke(app, ["store", "migrate", "--to", "weaviate", "--kb", "gamma"])
    assert unknown.exit_code == 1
    assert "no knowledge base 'gamma'" in unknown.output
    bad = runner.invoke(app, ["store", "migrate", "--to", "qdrant"])
    assert bad.exit_code == 2


def test_migrate_copies_the_catalog_to_the_shared_one(
    data_dir: Path,
    weaviate: FakeWeaviateServer,
    seaweedfs: SeaweedServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With s3 storage, this host's records of the migrated knowledge bases reach the shared
    catalog; a newer shared record is kept; a knowledge base with no record here is named."""
    bucket = new_bucket()
    for name, value in {
        "BACKEND": "s3",
        "ENDPOINT": seaweedfs.endpoint,
        "ACCESS_KEY": seaweedfs.access_key,
        "SECRET_KEY": seaweedfs.secret_key,
        "SECURE": "false",
        "BUCKET": bucket,
    }.items():
        monkeypatch.setenv(f"LEXIMIND_STORAGE__{name}", value)
    FileCatalog(data_dir / "catalog.json").save(record("alpha"))
    shared = ObjectStoreCatalog(s3_store(seaweedfs, bucket), ttl=0)

    result = runner.invoke(app, ["store", "migrate", "--to", "weaviate"])

    assert result.exit_code == 0, result.output
    assert "Shared catalog: 1 record(s) copied" in result.output
    assert "none here for beta" in result.output
    assert shared.names() == ["alpha"] and shared.get("alpha") == record("alpha")

    newer = record("alpha", commit="c9", indexed_at="2026-12-01T00:00:00+00:00")
    shared.save(newer)
    again = runner.invoke(app, ["store", "migrate", "--to", "weaviate", "--kb", "alpha"])
    assert again.exit_code == 0, again.output
    assert "Shared catalog: 0 record(s) copied" in again.output
    assert shared.get("alpha") == newer
