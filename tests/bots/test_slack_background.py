"""Background work: failures are logged, a stop waits for answers in flight, stragglers end."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bots.slack.background import BackgroundWork


async def test_drain_waits_for_work_in_flight_and_logs_failures(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Finished work is waited for; a failing task is logged, not raised."""
    done: list[str] = []

    async def answer() -> None:
        await asyncio.sleep(0)
        done.append("answered")

    async def broken() -> None:
        raise RuntimeError("slack is down")

    work = BackgroundWork()
    work.spawn(answer(), name="answer")
    work.spawn(broken(), name="broken")
    with caplog.at_level(logging.ERROR):
        await work.drain(timeout=30)
    assert done == ["answered"]
    assert "broken failed" in caplog.text and "slack is down" in caplog.text


async def test_drain_cancels_what_is_still_running_after_the_timeout() -> None:
    """Work that never finishes is cancelled once the drain's time is up."""
    ended: list[str] = []

    async def stuck() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            ended.append("cancelled")

    work = BackgroundWork()
    work.spawn(stuck(), name="stuck")
    await asyncio.sleep(0)
    await work.drain(timeout=0.01)
    assert ended == ["cancelled"]
