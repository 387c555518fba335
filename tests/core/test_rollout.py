"""Routing a staged rollout: a user keeps one model, the challenger gets its share of users,
raising the share only adds users, and questions without a user go to the champion."""

from __future__ import annotations

import math

import pytest

from bots.identity import UserHasher
from core.rollout import RolloutState, challenger_bucket

# A fixed key and fixed ids: the same 2,000 hashed users on every run, so nothing can flake.
USERS = [UserHasher(b"k" * 32)("discord", f"user-{n}") for n in range(2000)]


def test_a_user_keeps_the_same_model_for_the_whole_canary() -> None:
    """Asking again, or from another process (a new state object), gives the same answer."""
    first = RolloutState(champion="v1", challenger="v2", share=0.3)
    again = RolloutState(champion="v1", challenger="v2", share=0.3)
    assert [first.model_for(u) for u in USERS] == [again.model_for(u) for u in USERS]
    assert {first.model_for(u) for u in USERS} == {"v1", "v2"}


@pytest.mark.parametrize("share", [0.01, 0.1, 0.25, 0.5, 0.9])
def test_the_challenger_gets_its_share_of_users(share: float) -> None:
    """The share of users routed to the challenger is within 4 standard deviations of `share`
    (fixed users: the count is exact and the same on every run)."""
    state = RolloutState(champion="v1", challenger="v2", share=share)
    routed = sum(state.model_for(u) == "v2" for u in USERS)
    spread = 4 * math.sqrt(len(USERS) * share * (1 - share))
    assert abs(routed - share * len(USERS)) <= spread


def test_raising_the_share_only_adds_users() -> None:
    """Everyone on the challenger at 10% stays on it at 50%; at 100% everyone is."""
    shares = (0.1, 0.5, 1.0)
    picked = [
        {u for u in USERS if RolloutState("v1", "v2", s).model_for(u) == "v2"} for s in shares
    ]
    assert picked[0] < picked[1] < picked[2] == set(USERS)


def test_the_next_challenger_draws_other_users() -> None:
    """A new challenger's 10% is not the same 10% as the last one's."""
    a = {u for u in USERS if challenger_bucket(u, "v2") < 0.1}
    b = {u for u in USERS if challenger_bucket(u, "v3") < 0.1}
    assert len(a & b) < len(a) / 2


def test_without_a_user_or_a_canary_the_champion_answers() -> None:
    """No user hash, no challenger or a share of 0: the champion (None: the base model)."""
    assert RolloutState("v1", "v2", 1.0).model_for(None) == "v1"
    assert RolloutState("v1").model_for(USERS[0]) == "v1"
    assert RolloutState().model_for(USERS[0]) is None
    assert not RolloutState("v1", "v2", 0.0).canary
    assert RolloutState(None, "v2", 1.0).model_for(USERS[0]) == "v2"


@pytest.mark.parametrize("share", [-0.1, 1.5, float("nan")])
def test_a_share_outside_0_to_1_is_refused(share: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        RolloutState("v1", "v2", share)
