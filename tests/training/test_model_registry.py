"""The MLflow registry keeps adapter versions with status, reason and the two aliases."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.support.mlflow_store import MlflowStore
from training.errors import TrackingError
from training.model_registry import MlflowRegistry
from training.ports import VersionStatus
from training.tracking import MlflowTracker, mlflow_client

MODEL = "leximind-adapter"


class Registered:
    """A tracker and registry over one store, and a helper that trains-and-registers."""

    def __init__(self, store: MlflowStore) -> None:
        self.client = mlflow_client(store.uri)
        self.tracker = MlflowTracker(
            self.client,
            uri=store.uri,
            experiment="leximind-adapters",
            artifact_location=store.artifact_location,
        )
        self.registry = MlflowRegistry(self.client, uri=store.uri, model_name=MODEL)

    def run(self, version: str, loss: float = 1.5) -> str:
        run_id = self.tracker.start_run(
            version, params={}, dataset_version="ds-1", manifest_sha256="0" * 64
        )
        self.tracker.log_losses(run_id, ((1, 2.0), (2, loss)))
        self.tracker.end_run(run_id)
        return run_id

    def add(self, version: str) -> str:
        run_id = self.run(version)
        self.registry.register(version, run_id=run_id, dataset_version="ds-1")
        return run_id

    def aliases(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.client.get_registered_model(MODEL).aliases.items()}


@pytest.fixture
def reg(mlflow_store: MlflowStore) -> Registered:
    return Registered(mlflow_store)


def test_a_registered_version_is_a_candidate_with_its_run(reg: Registered) -> None:
    """register() returns the version as the registry will report it, metrics included."""
    run_id = reg.run("leximind-a", loss=1.25)
    version = reg.registry.register("leximind-a", run_id=run_id, dataset_version="ds-1")
    assert version == reg.registry.get("leximind-a")
    assert (version.version, version.run_id, version.status) == (
        "leximind-a",
        run_id,
        VersionStatus.CANDIDATE,
    )
    assert version.dataset_version == "ds-1"
    assert version.metrics["loss"] == 1.25
    assert datetime.fromisoformat(version.created_at).tzinfo is not None
    source = reg.client.search_model_versions(f"name = '{MODEL}'")[0].source
    assert source.endswith("/adapter")


def test_registering_again(reg: Registered) -> None:
    """The same version and run is idempotent; the same version from another run is refused."""
    run_id = reg.add("leximind-a")
    assert reg.registry.register("leximind-a", run_id=run_id, dataset_version="ds-1").run_id == (
        run_id
    )
    assert len(reg.registry.versions()) == 1
    with pytest.raises(TrackingError, match="already registered"):
        reg.registry.register("leximind-a", run_id=reg.run("other"), dataset_version="ds-1")


def test_unknown_versions_are_key_errors(reg: Registered) -> None:
    """get and set_status name the version they do not know."""
    with pytest.raises(KeyError, match="leximind-nope"):
        reg.registry.get("leximind-nope")
    with pytest.raises(KeyError):
        reg.registry.set_status("leximind-nope", VersionStatus.CHAMPION)
    assert reg.registry.champion() is None
    assert reg.registry.versions() == []


def test_versions_are_listed_newest_first(reg: Registered) -> None:
    """Newest registration first."""
    for name in ("leximind-1", "leximind-2", "leximind-3"):
        reg.add(name)
    assert [v.version for v in reg.registry.versions()] == [
        "leximind-3",
        "leximind-2",
        "leximind-1",
    ]


def test_promotion_moves_the_champion_alias(reg: Registered) -> None:
    """One champion at a time: the new one takes the alias, the old one is retired."""
    reg.add("leximind-1")
    reg.add("leximind-2")
    reg.registry.set_status("leximind-1", VersionStatus.CHAMPION, reason="first")
    assert reg.registry.champion() == reg.registry.get("leximind-1")
    reg.registry.set_status("leximind-2", VersionStatus.CHALLENGER, reason="against leximind-1")
    assert reg.aliases() == {"champion": "1", "challenger": "2"}
    reg.registry.set_status("leximind-2", VersionStatus.CHAMPION, reason="better ROUGE-L")
    assert reg.aliases() == {"champion": "2"}
    champion = reg.registry.champion()
    assert champion is not None
    assert (champion.version, champion.status, champion.reason) == (
        "leximind-2",
        VersionStatus.CHAMPION,
        "better ROUGE-L",
    )
    old = reg.registry.get("leximind-1")
    assert (old.status, old.reason) == (VersionStatus.RETIRED, "champion is now leximind-2")


def test_a_new_challenger_sends_the_old_one_back_to_candidate(reg: Registered) -> None:
    """One challenger at a time as well."""
    reg.add("leximind-1")
    reg.add("leximind-2")
    reg.registry.set_status("leximind-1", VersionStatus.CHALLENGER)
    reg.registry.set_status("leximind-2", VersionStatus.CHALLENGER)
    assert reg.aliases() == {"challenger": "2"}
    assert reg.registry.get("leximind-1").status is VersionStatus.CANDIDATE


def test_rejection_and_rollback_drop_the_aliases(reg: Registered) -> None:
    """A rejected challenger loses its alias and keeps the reason; a retired champion
    leaves no champion until the rollback target takes the alias."""
    reg.add("leximind-1")
    reg.add("leximind-2")
    reg.add("leximind-3")
    reg.registry.set_status("leximind-1", VersionStatus.CHAMPION)
    reg.registry.set_status("leximind-2", VersionStatus.CHAMPION)
    reg.registry.set_status("leximind-3", VersionStatus.CHALLENGER)
    reg.registry.set_status("leximind-3", VersionStatus.REJECTED, reason="BLEU-4 fell 0.03")
    rejected = reg.registry.get("leximind-3")
    assert (rejected.status, rejected.reason) == (VersionStatus.REJECTED, "BLEU-4 fell 0.03")
    assert reg.aliases() == {"champion": "2"}
    reg.registry.set_status("leximind-2", VersionStatus.RETIRED, reason="rolled back")
    assert reg.registry.champion() is None
    reg.registry.set_status("leximind-1", VersionStatus.CHAMPION, reason="rollback")
    champion = reg.registry.champion()
    assert champion is not None and champion.version == "leximind-1"


def test_a_failed_training_is_registered_as_failed(reg: Registered) -> None:
    """A failed run can be registered and marked FAILED with the trainer's message."""
    run_id = reg.run("leximind-bad", loss=float("nan"))
    reg.registry.register("leximind-bad", run_id=run_id, dataset_version="ds-1")
    reg.registry.set_status("leximind-bad", VersionStatus.FAILED, reason="x" * 10_000)
    failed = reg.registry.get("leximind-bad")
    assert failed.status is VersionStatus.FAILED
    assert failed.reason == "x" * 8000  # MLflow's tag limit


def test_versions_registered_by_hand_are_ignored(reg: Registered) -> None:
    """Only versions carrying Leximind's adapter_version tag are adapter versions."""
    reg.add("leximind-1")
    run_id = reg.run("manual")
    reg.client.create_model_version(MODEL, source="file:///elsewhere", run_id=run_id)
    assert [v.version for v in reg.registry.versions()] == ["leximind-1"]


def test_a_status_tag_edited_by_hand_is_reported(reg: Registered) -> None:
    """An unknown status is a clear TrackingError, not a crash."""
    reg.add("leximind-1")
    reg.client.set_model_version_tag(MODEL, "1", "status", "promoted-ish")
    with pytest.raises(TrackingError, match="unknown status 'promoted-ish'"):
        reg.registry.get("leximind-1")
