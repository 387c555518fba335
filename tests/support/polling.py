"""Waiting in a test for work done elsewhere (a thread, a task, a process) to show its effect.

Both helpers poll `check` until it returns something truthy and hand that value back. The
deadline only turns a hang into a failure that says what was awaited; no test asserts how
long a wait took.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

T = TypeVar("T")

DEADLINE_S = 30.0
_PAUSE_S = 0.02


def _gave_up(what: str, detail: Callable[[], str] | None) -> AssertionError:
    return AssertionError(f"gave up waiting for {what}" + (f"\n{detail()}" if detail else ""))


def wait_until(
    check: Callable[[], T],
    *,
    what: str = "the expected effect",
    timeout: float = DEADLINE_S,
    detail: Callable[[], str] | None = None,
) -> T:
    """The first truthy value of `check()`, polled from this thread; AssertionError naming
    `what`, with `detail()` (a log's tail, say), when none comes within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise _gave_up(what, detail)
        time.sleep(_PAUSE_S)
    return value


async def eventually(
    check: Callable[[], T | Awaitable[T]],
    *,
    what: str = "the expected effect",
    timeout: float = DEADLINE_S,
    detail: Callable[[], str] | None = None,
) -> T:
    """`wait_until` for a test on the event loop: the loop runs between polls, and `check`
    may return an awaitable (call a coroutine function), whose result is what counts."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return cast(T, value)
        if loop.time() > deadline:
            raise _gave_up(what, detail)
        await asyncio.sleep(_PAUSE_S)
