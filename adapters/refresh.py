"""A cached value re-read from a backing service without ever holding up an event loop.

The caches of the rollout state (Redis) and of the shared catalog (S3) read through this. On
an event loop thread a due re-read is started in a thread of its own and the caller carries
on with the last good value, so a backend that accepts connections and then stays silent
costs a request nothing. Elsewhere (a CLI command, a scheduler job, a worker thread) the
caller re-reads in its own thread, as a command wants the current value.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable


def on_event_loop() -> bool:
    """Whether the calling thread is running an asyncio event loop, so must not block."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class BackgroundRefresh:
    """Runs `refresh` at most every `every` seconds, one attempt at a time.

    The interval counts from the end of the last attempt, successful or not: a backend that
    hangs until the client's timeout is asked again `every` seconds after it gave up, not at
    once. `refresh` stores what it read and handles its backend's failures (logging them
    once per outage); anything else it raises is a bug, reported by the thread it ran in.
    """

    def __init__(
        self,
        refresh: Callable[[], None],
        *,
        every: float,
        name: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if every < 0:
            raise ValueError(f"the refresh interval must be 0 or more seconds, got {every}")
        self._refresh = refresh
        self._every = every
        self._name = name
        self._clock = clock
        self._lock = threading.Lock()
        self._done_at: float | None = None
        self._running: threading.Event | None = None  # set when the attempt running ends

    def due(self) -> bool:
        """Whether no attempt ended within the last `every` seconds."""
        done = self._done_at
        return done is None or self._clock() - done >= self._every

    def mark_fresh(self) -> None:
        """Counts the value as just read: the caller learnt it otherwise (by writing it)."""
        self._done_at = self._clock()

    def refresh(self, *, wait: bool) -> None:
        """Re-reads when due: in the background on an event loop (never waiting), else in the
        caller's thread. An attempt already running is waited for only with `wait`, and
        never on an event loop."""
        if on_event_loop():
            if self._claim() is None:
                threading.Thread(target=self._attempt, name=self._name, daemon=True).start()
            return
        running = self._claim()
        if running is None:
            self._attempt()
        elif wait and running is not _NOT_DUE:
            running.wait()

    def _claim(self) -> threading.Event | None:
        """None when this caller is to run a due attempt; else the attempt running, or
        _NOT_DUE when none is due."""
        with self._lock:
            if self._running is not None:
                return self._running
            if not self.due():
                return _NOT_DUE
            self._running = threading.Event()
            return None

    def _attempt(self) -> None:
        try:
            self._refresh()
        finally:
            with self._lock:
                self._done_at = self._clock()
                ended, self._running = self._running, None
            if ended is not None:
                ended.set()


_NOT_DUE = threading.Event()
