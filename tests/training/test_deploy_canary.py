"""Staged rollout in the deployer: a smoke-tested challenger serves a share of users, the share
can change, `promote` without a version promotes it, `rollback` stops it; every step is
idempotent, kept in the ledger, and moves the registry's `challenger` alias (fake vLLM API)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.rollout import RolloutState
from core.types import Source
from tests.fakes import chunk
from tests.support.fake_vllm import FakeVllm, fake_vllm
from tests.training.test_deploy import PASSAGE, Setup
from training.deploy_ledger import DeployLedger
from training.errors import DeploymentError
from training.ports import VersionStatus


@pytest.fixture
def server() -> Iterator[FakeVllm]:
    with fake_vllm() as fake:
        fake.default_answer = "Install it with pip [1]."
        yield fake


@pytest.fixture
def setup(server: FakeVllm, tmp_path: Path) -> Setup:
    made = Setup(server, tmp_path, sources=[Source(chunk("docs/start.md", PASSAGE), score=0.8)])
    for version in ("v1", "v2", "v3"):
        made.adapter(version)
    return made


def events(setup: Setup) -> list[tuple[str, str, str]]:
    ledger = DeployLedger(setup.tmp / "deploy").read()
    return [(e["action"], e["model"], e.get("share", "")) for e in ledger.events]


async def test_a_canary_serves_a_share_after_a_smoke_answer(setup: Setup) -> None:
    """The challenger is loaded, answers the smoke question, then gets its share; the champion
    is unchanged and the registry calls the version the challenger."""
    await setup.deployer.promote("v1")

    canary = await setup.deployer.canary("v2", 0.1)

    assert (canary.challenger, canary.share, canary.previous_share) == ("v2", 0.1, 0.0)
    assert canary.champion == "v1"
    assert setup.active.state() == RolloutState("v1", "v2", 0.1)
    assert {"v1", "v2"} <= set(setup.server.adapters)
    assert setup.server.requests[-1]["model"] == "v2"  # the smoke question
    assert setup.registry.get("v2").status is VersionStatus.CHALLENGER
    assert setup.registry.get("v1").status is VersionStatus.CHAMPION
    assert events(setup)[-1] == ("canary", "v2", "0.1")


async def test_running_it_again_changes_the_share_once(setup: Setup) -> None:
    """A new share is recorded; the same share again changes nothing and records nothing."""
    await setup.deployer.canary("v2", 0.1)
    raised = await setup.deployer.canary("v2", 0.5)
    same = await setup.deployer.canary("v2", 0.5)

    assert (raised.previous_share, raised.share) == (0.1, 0.5)
    assert same.previous_share == same.share == 0.5
    assert setup.active.state() == RolloutState(None, "v2", 0.5)
    assert [e for e in events(setup) if e[0] == "canary"] == [
        ("canary", "v2", "0.1"),
        ("canary", "v2", "0.5"),
    ]


async def test_promote_without_a_version_promotes_the_challenger(setup: Setup) -> None:
    """One command: the challenger becomes the champion for everyone, the canary is over, and
    a rollback afterwards returns to the champion before."""
    await setup.deployer.promote("v1")
    await setup.deployer.canary("v2", 0.2)

    switch = await setup.deployer.promote()

    assert (switch.active, switch.previous) == ("v2", "v1")
    assert setup.active.state() == RolloutState("v2")
    assert setup.registry.get("v2").status is VersionStatus.CHAMPION
    assert setup.registry.aliases == {VersionStatus.CHAMPION: "v2"}
    back = await setup.deployer.rollback()
    assert (back.active, back.stopped_canary) == ("v1", None)
    assert setup.active.state() == RolloutState("v1")


async def test_rollback_during_a_canary_stops_it_and_keeps_the_champion(setup: Setup) -> None:
    """The challenger's share drops to 0 and the champion still serves; the challenger stays
    loaded for requests already routed to it; the next rollback is the usual one."""
    await setup.deployer.promote("v1")
    await setup.deployer.canary("v2", 0.3)

    stopped = await setup.deployer.rollback()

    assert (stopped.active, stopped.stopped_canary) == ("v1", "v2")
    assert setup.active.state() == RolloutState("v1")
    assert "v2" in setup.server.adapters
    assert setup.registry.get("v2").status is VersionStatus.REJECTED
    assert VersionStatus.CHALLENGER not in setup.registry.aliases
    assert events(setup)[-1] == ("stop canary", "v2", "0")
    back = await setup.deployer.rollback()
    assert back.active == "base-model" and back.stopped_canary is None


async def test_promoting_another_version_ends_the_canary(setup: Setup) -> None:
    """Promoting v3 while v2 is canaried gives v3 everyone; v2 is a candidate again."""
    await setup.deployer.promote("v1")
    await setup.deployer.canary("v2", 0.3)

    await setup.deployer.promote("v3")

    assert setup.active.state() == RolloutState("v3")
    assert setup.registry.get("v2").status is VersionStatus.CANDIDATE


async def test_a_new_challenger_replaces_the_running_one(setup: Setup) -> None:
    await setup.deployer.canary("v2", 0.3)
    canary = await setup.deployer.canary("v3", 0.1)
    assert (canary.replaced, canary.previous_share) == ("v2", 0.0)
    assert setup.active.state() == RolloutState(None, "v3", 0.1)
    assert setup.registry.aliases[VersionStatus.CHALLENGER] == "v3"


async def test_a_failed_smoke_answer_starts_no_canary(setup: Setup) -> None:
    await setup.deployer.promote("v1")
    setup.server.default_answer = ""
    with pytest.raises(DeploymentError, match="v2"):
        await setup.deployer.canary("v2", 0.1)
    assert setup.active.state() == RolloutState("v1")
    assert "v2" not in setup.server.adapters
    assert setup.registry.get("v2").status is VersionStatus.CANDIDATE


@pytest.mark.parametrize("share", [0.0, -0.5, 1.5, float("nan")])
async def test_a_share_outside_0_to_1_is_refused(setup: Setup, share: float) -> None:
    with pytest.raises(DeploymentError, match="share"):
        await setup.deployer.canary("v2", share)
    assert setup.active.state() == RolloutState()


async def test_the_champion_cannot_be_its_own_challenger(setup: Setup) -> None:
    await setup.deployer.promote("v1")
    with pytest.raises(DeploymentError, match="v1 is the champion"):
        await setup.deployer.canary("v1", 0.1)


async def test_promote_without_a_version_needs_a_canary(setup: Setup) -> None:
    with pytest.raises(DeploymentError, match="no canary is running"):
        await setup.deployer.promote()


async def test_the_challenger_in_service_is_never_discarded(setup: Setup) -> None:
    """Discarding a candidate that is the running challenger keeps it loaded."""
    await setup.deployer.promote("v1")
    await setup.deployer.canary("v3", 0.1)
    await setup.deployer.discard("v3")
    assert "v3" in setup.server.adapters
