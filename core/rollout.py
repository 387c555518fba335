"""A staged rollout: the champion answers everyone except a stable share of users, whom a
challenger answers.

Which arm a user falls in depends only on the keyed user hash and the challenger's name: the
same user keeps the same model for the whole canary, raising the share only adds users, and
the next challenger draws its users afresh. Questions without a user hash go to the champion.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

_BUCKETS = 2**64
MAX_NAME_CHARS = 200


def challenger_bucket(user_hash: str, challenger: str) -> float:
    """A number in [0, 1) fixed by the user and the challenger, spread evenly over users."""
    digest = hashlib.sha256(f"{challenger}\0{user_hash}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _BUCKETS


def validate_share(share: float) -> float:
    """`share` when it is a fraction from 0 to 1; else ValueError."""
    if not isinstance(share, int | float) or math.isnan(share) or not 0.0 <= share <= 1.0:
        raise ValueError(f"the challenger's share must be between 0 and 1, got {share!r}")
    return float(share)


def validate_model_name(name: str) -> str:
    """The name itself when a model server can be asked for it; else ValueError."""
    if not name or len(name) > MAX_NAME_CHARS:
        raise ValueError(f"model name must be 1-{MAX_NAME_CHARS} characters, got {len(name)}")
    if any(ch.isspace() or not ch.isprintable() for ch in name):
        raise ValueError(f"model name {name!r} contains spaces or control characters")
    return name


@dataclass(frozen=True, slots=True)
class RolloutState:
    """Who answers: `champion` (None: the configured base model) and, while a canary runs,
    `challenger` for `share` (0..1) of the users."""

    champion: str | None = None
    challenger: str | None = None
    share: float = 0.0

    def __post_init__(self) -> None:
        validate_share(self.share)

    @property
    def canary(self) -> bool:
        """Whether a challenger is set with a share above 0."""
        return self.challenger is not None and self.share > 0.0

    def model_for(self, user_hash: str | None) -> str | None:
        """The model that answers this user: the challenger when the user's bucket falls
        below the share, else the champion (None meaning the configured base model)."""
        if not self.canary or user_hash is None:
            return self.champion
        assert self.challenger is not None
        if challenger_bucket(user_hash, self.challenger) < self.share:
            return self.challenger
        return self.champion


def staged(state: RolloutState, challenger: str | None, share: float) -> RolloutState:
    """`state` with the challenger and share replaced; stopping a canary clears both."""
    share = validate_share(share)
    if challenger is None or share == 0.0:
        return RolloutState(champion=state.champion)
    validate_model_name(challenger)
    if challenger == state.champion:
        raise ValueError(f"{challenger} is the champion already; it cannot also be the challenger")
    return RolloutState(champion=state.champion, challenger=challenger, share=share)
