"""The rollout state (the active model and any canary) in Redis, shared by replicas on several
hosts: the Redis counterpart of adapters.llm.active_model.FileActiveModel.

The state is one JSON value under `<prefix>rollout`. Changes are made in a WATCH/MULTI
transaction, so two writers cannot interleave. Readers keep the value for `refresh` seconds:
a question costs no Redis call while it is fresh, and a change reaches every replica within
`refresh` seconds of the last read.

The client is the process's one asyncio Redis client (ops.wiring builds it and shares it with
the bot state), so every call runs on the process's event loop: a due re-read is a task of
that loop, started by `state()`, which returns the last state at once; a question never waits
for Redis. Commands and the deployer `await read()` for the state as stored now.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError

from adapters.llm.active_model import parse_rollout, rollout_record
from core.errors import StoreUnavailable
from core.rollout import RolloutState, staged, validate_model_name

_log = logging.getLogger(__name__)


class RedisActiveModel:
    """Implements core.ports.Rollout (and so ActiveModel) on one Redis key.

    While Redis cannot be read, the last state read stays in use (logged once per outage)
    and Redis is asked again `refresh` seconds after the failed read ended; `read()` and a
    change that cannot be made raise StoreUnavailable. A value that does not parse is logged
    and the last state kept. Until the first read has ended, `state()` is the empty state
    (the configured model answers).

    The client is not closed here: it belongs to whoever built it (ops.wiring closes the
    process's client once, after `aclose` here has stopped a re-read still running).
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
            raise ValueError(f"the refresh interval must be 0 or more seconds, got {refresh}")
        self._client = client
        self._key = f"{key_prefix}rollout"
        self._every = refresh
        self._clock = clock
        self._state = RolloutState()
        self._done_at: float | None = None  # when the last read (or write) ended
        self._reading: asyncio.Task[None] | None = None
        self._writes = 0  # a read that began before a write must not undo what it wrote
        self._failing = False

    async def aclose(self) -> None:
        """Stops a background re-read still running (the client stays open)."""
        reading, self._reading = self._reading, None
        if reading is not None and not reading.done():
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)

    def current(self) -> str | None:
        return self.state().champion

    def state(self) -> RolloutState:
        if self._due():
            self._start_reading()
        return self._state

    async def read(self) -> RolloutState:
        try:
            return await self._reload()
        finally:
            self._done_at = self._clock()

    def _due(self) -> bool:
        done = self._done_at
        return done is None or self._clock() - done >= self._every

    def _start_reading(self) -> None:
        """A re-read as a task of the running loop, one at a time. Without a running loop
        (a thread of its own) the last state is all there is: the client's connections
        belong to the process's loop."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._reading is None or self._reading.done():
            self._reading = loop.create_task(self._refresh(), name="rollout state refresh")

    async def _refresh(self) -> None:
        try:
            await self._reload()
        except StoreUnavailable:
            pass  # logged once per outage by _reload; the last state stays
        finally:
            self._done_at = self._clock()

    async def _reload(self) -> RolloutState:
        writes = self._writes
        fallback = self._state
        try:
            raw = await self._client.get(self._key)
        except RedisError as exc:
            if not self._failing:
                _log.error(
                    "cannot read the rollout state from Redis (%s); still using %s",
                    type(exc).__name__,
                    fallback,
                )
            self._failing = True
            raise StoreUnavailable(f"Redis rollout state: cannot read it: {exc}") from exc
        if self._failing:
            _log.warning("the rollout state can be read from Redis again")
            self._failing = False
        fetched = self._parse(raw, fallback)
        if writes == self._writes:
            self._state = fetched
        return fetched

    @staticmethod
    def _parse(raw: bytes | str | None, fallback: RolloutState) -> RolloutState:
        if raw is None:
            return RolloutState()
        try:
            return parse_rollout(json.loads(raw))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            _log.error(
                "the rollout state in Redis is unreadable (%s); still using %s", exc, fallback
            )
            return fallback

    async def switch(self, name: str) -> None:
        new = RolloutState(champion=validate_model_name(name))
        try:
            await self._client.set(self._key, json.dumps(rollout_record(new)))
        except RedisError as exc:
            raise StoreUnavailable(
                f"Redis rollout state: cannot switch the active model to {name}: {exc}"
            ) from exc
        self._wrote(new)
        _log.info("active model is now %s", name)

    async def stage(self, challenger: str | None, share: float) -> None:
        await self._change(
            lambda old: staged(old, challenger, share), f"stage {challenger} at {share}"
        )
        _log.info("challenger is now %s at a share of %s", challenger, share)

    async def _change(self, change: Callable[[RolloutState], RolloutState], what: str) -> None:
        written: list[RolloutState] = []

        async def apply(pipe: Pipeline) -> None:
            raw = await pipe.get(self._key)
            try:
                old = RolloutState() if raw is None else parse_rollout(json.loads(raw))
            except (KeyError, TypeError, AttributeError) as exc:
                raise ValueError(
                    f"the rollout state in Redis is unreadable ({exc}); promote a model to "
                    "rewrite it"
                ) from exc
            new = change(old)
            written[:] = [new]  # a transaction retried after a concurrent change runs again
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.set(self._key, json.dumps(rollout_record(new)))

        try:
            await self._client.transaction(apply, self._key)
        except RedisError as exc:
            raise StoreUnavailable(f"Redis rollout state: cannot {what}: {exc}") from exc
        self._wrote(written[0])

    def _wrote(self, state: RolloutState) -> None:
        """This process sees its own change at once, without reading it back."""
        self._writes += 1
        self._state = state
        self._done_at = self._clock()
