"""The rollout state (the active model and any canary) in Redis, shared by replicas on several
hosts: the Redis counterpart of adapters.llm.active_model.FileActiveModel.

The state is one JSON value under `<prefix>rollout`. Changes are made in a WATCH/MULTI
transaction, so two writers cannot interleave. Readers keep the value for `refresh` seconds:
a question costs no Redis call while it is fresh, and a change reaches every replica within
`refresh` seconds of the last read. The client is synchronous because the deployer and the
CLI change the state from synchronous code; on an event loop the state is re-read in a
thread of its own (adapters.refresh), so a question never waits for Redis.
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

from adapters.llm.active_model import parse_rollout, rollout_record
from adapters.refresh import BackgroundRefresh
from core.errors import StoreUnavailable
from core.rollout import RolloutState, staged, validate_model_name

_log = logging.getLogger(__name__)


class RedisActiveModel:
    """Implements core.ports.Rollout (and so ActiveModel) on one Redis key.

    While Redis cannot be read, the last state read stays in use (logged once per outage)
    and Redis is asked again `refresh` seconds after the failed read ended; a change that
    cannot be written raises StoreUnavailable. A value that does not parse is logged and the
    last state kept. Before the first read has ended, a reader on an event loop gets the
    empty state (the configured model answers); any other reader waits for that read.
    """

    def __init__(
        self,
        client: Redis,
        *,
        key_prefix: str = "leximind:",
        refresh: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._key = f"{key_prefix}rollout"
        self._refresh = BackgroundRefresh(
            self._reload, every=refresh, name="rollout state refresh", clock=clock
        )
        self._lock = threading.Lock()
        self._state = RolloutState()
        self._read = False
        self._writes = 0  # a read that began before a write must not undo what it wrote
        self._failing = False

    def close(self) -> None:
        """Closes the client's connections."""
        self._client.close()

    def current(self) -> str | None:
        return self.state().champion

    def state(self) -> RolloutState:
        if self._refresh.due():
            self._refresh.refresh(wait=not self._read)
        return self._state

    def _reload(self) -> None:
        writes = self._writes
        fetched = self._fetch(self._state)
        with self._lock:
            if writes == self._writes:
                self._state = fetched
            self._read = True

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
        new = RolloutState(champion=validate_model_name(name))
        try:
            self._client.set(self._key, json.dumps(rollout_record(new)))
        except RedisError as exc:
            raise StoreUnavailable(
                f"Redis rollout state: cannot switch the active model to {name}: {exc}"
            ) from exc
        self._wrote(new)
        _log.info("active model is now %s", name)

    def stage(self, challenger: str | None, share: float) -> None:
        self._change(lambda old: staged(old, challenger, share), f"stage {challenger} at {share}")
        _log.info("challenger is now %s at a share of %s", challenger, share)

    def _change(self, change: Callable[[RolloutState], RolloutState], what: str) -> None:
        written: list[RolloutState] = []

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
            written[:] = [new]  # a transaction retried after a concurrent change runs again
            pipe.multi()
            pipe.set(self._key, json.dumps(rollout_record(new)))

        try:
            self._client.transaction(apply, self._key)
        except RedisError as exc:
            raise StoreUnavailable(f"Redis rollout state: cannot {what}: {exc}") from exc
        self._wrote(written[0])

    def _wrote(self, state: RolloutState) -> None:
        """This process sees its own change at once, without reading it back."""
        with self._lock:
            self._writes += 1
            self._state, self._read = state, True
            self._refresh.mark_fresh()
