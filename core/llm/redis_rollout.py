"""The rollout state (the active model and any canary) in Redis, shared by replicas on several
hosts: the Redis counterpart of core.llm.active_model.FileActiveModel.

The state is one JSON value under `<prefix>rollout`. Changes are made in a WATCH/MULTI
transaction, so two writers cannot interleave. Readers keep the value for `refresh` seconds:
a question costs no Redis call while it is fresh, and a change reaches every replica within
`refresh` seconds. The client is synchronous because the state is read from synchronous
code; a read blocks for at most the client's socket timeout, and only once per `refresh`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable

from redis import Redis
from redis.client import Pipeline
from redis.exceptions import RedisError

from core.errors import StoreUnavailable
from core.llm.active_model import parse_rollout, rollout_record, staged, validate_model_name
from core.rollout import RolloutState

_log = logging.getLogger(__name__)


class RedisActiveModel:
    """Implements core.ports.Rollout (and so ActiveModel) on one Redis key.

    While Redis cannot be read, the last state read stays in use (logged once per outage)
    and Redis is asked again after `refresh` seconds; a change that cannot be written raises
    StoreUnavailable. A value that does not parse is logged and the last state kept.
    """

    def __init__(
        self,
        client: Redis,
        *,
        key_prefix: str = "leximind:",
        refresh: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if refresh < 0:
            raise ValueError(f"refresh must be 0 or more seconds, got {refresh}")
        self._client = client
        self._key = f"{key_prefix}rollout"
        self._refresh = refresh
        self._clock = clock
        self._lock = threading.Lock()
        self._state = RolloutState()
        self._read_at: float | None = None
        self._failing = False

    def close(self) -> None:
        """Closes the client's connections."""
        self._client.close()

    def current(self) -> str | None:
        return self.state().champion

    def state(self) -> RolloutState:
        now = self._clock()
        if self._read_at is not None and now - self._read_at < self._refresh:
            return self._state
        with self._lock:
            if self._read_at is None or now - self._read_at >= self._refresh:
                self._state = self._fetch(self._state)
                self._read_at = now
            return self._state

    def _fetch(self, fallback: RolloutState) -> RolloutState:
        try:
            raw = self._client.get(self._key)
        except RedisError as exc:
            if not self._failing:
                _log.error(
                    "cannot read the rollout state from Redis (%s); still using %s",
                    type(exc).__name__,
                    fallback,
                )
            self._failing = True
            return fallback
        if self._failing:
            _log.warning("the rollout state can be read from Redis again")
            self._failing = False
        if raw is None:
            return RolloutState()
        try:
            return parse_rollout(json.loads(raw))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            _log.error(
                "the rollout state in Redis is unreadable (%s); still using %s", exc, fallback
            )
            return fallback

    def switch(self, name: str) -> None:
        record = json.dumps(rollout_record(RolloutState(champion=validate_model_name(name))))
        try:
            self._client.set(self._key, record)
        except RedisError as exc:
            raise StoreUnavailable(
                f"Redis rollout state: cannot switch the active model to {name}: {exc}"
            ) from exc
        self._forget()
        _log.info("active model is now %s", name)

    def stage(self, challenger: str | None, share: float) -> None:
        self._change(lambda old: staged(old, challenger, share), f"stage {challenger} at {share}")
        _log.info("challenger is now %s at a share of %s", challenger, share)

    def _change(self, change: Callable[[RolloutState], RolloutState], what: str) -> None:
        def apply(pipe: Pipeline) -> None:
            raw = pipe.get(self._key)
            try:
                old = RolloutState() if raw is None else parse_rollout(json.loads(raw))
            except (KeyError, TypeError, AttributeError) as exc:
                raise ValueError(
                    f"the rollout state in Redis is unreadable ({exc}); promote a model to "
                    "rewrite it"
                ) from exc
            new = change(old)
            pipe.multi()
            pipe.set(self._key, json.dumps(rollout_record(new)))

        try:
            self._client.transaction(apply, self._key)
        except RedisError as exc:
            raise StoreUnavailable(f"Redis rollout state: cannot {what}: {exc}") from exc
        self._forget()

    def _forget(self) -> None:
        with self._lock:
            self._read_at = None  # this process sees its own change at once
