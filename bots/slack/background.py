"""Work that runs after Slack has been acknowledged, and is waited for at shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

_log = logging.getLogger(__name__)


class BackgroundWork:
    """Runs coroutines as tasks the process keeps track of.

    A failing task is logged, never lost silently; `drain` lets the tasks in flight finish
    (cancelling what is left after `timeout`) so a graceful stop answers what it accepted.
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Coroutine[Any, Any, None], *, name: str) -> None:
        task = asyncio.get_running_loop().create_task(self._guarded(work, name), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _guarded(work: Coroutine[Any, Any, None], name: str) -> None:
        try:
            await work
        except asyncio.CancelledError:
            _log.warning("%s cancelled at shutdown", name)
            raise
        except Exception:  # noqa: BLE001 - a background task's boundary: log, keep serving
            _log.exception("%s failed", name)

    async def drain(self, timeout: float = 30.0) -> None:
        """Waits for the tasks in flight, then cancels those still running after `timeout`."""
        if not self._tasks:
            return
        _done, running = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
