"""Work that outlives the request that started it: tracked, logged, drained at shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

_log = logging.getLogger(__name__)


class TaskTracker:
    """Runs coroutines in the background of a server process.

    Every task is referenced until it ends (the event loop keeps only weak references), a
    failure is logged with the task's name, and `drain` waits for what is still running when
    the server stops.
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Coroutine[Any, Any, Any], *, name: str) -> None:
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    @property
    def running(self) -> int:
        return len(self._tasks)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            _log.error("%s was cancelled before it finished", task.get_name())
        elif (exc := task.exception()) is not None:
            _log.error("%s failed: %s", task.get_name(), exc, exc_info=exc)

    async def drain(self, timeout: float) -> None:
        """Waits up to `timeout` seconds for running tasks, then cancels the rest (logged)."""
        if not self._tasks:
            return
        _log.info("waiting for %d background tasks", len(self._tasks))
        _, late = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)
