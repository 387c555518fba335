"""Batch writes that retry the objects a server refused, a bounded number of times."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from core.errors import StoreUnavailable

_log = logging.getLogger(__name__)

T = TypeVar("T")
# Sends a batch; returns the refused items by their position in that batch, with the reason.
SendBatch = Callable[[Sequence[T]], Mapping[int, str]]


def send_with_retries(
    send: SendBatch[T],
    items: Sequence[T],
    *,
    attempts: int,
    pause: float,
    describe: Callable[[T], str] = str,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Sends `items`, then again only those refused, up to `attempts` sends in all.

    Each refusal is logged with a sample of the items and reasons. Waits `pause` times the
    attempt number between sends. Raises StoreUnavailable naming how many items were still
    refused after the last attempt; the accepted ones stay written (an upsert is idempotent,
    so the caller may simply retry the whole batch later).
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    pending = list(items)
    reasons: list[str] = []
    for attempt in range(1, attempts + 1):
        if not pending:
            return
        refused = send(pending)
        if not refused:
            return
        order = sorted(refused)
        reasons = [refused[i] for i in order]
        sample = "; ".join(f"{describe(pending[i])}: {refused[i]}" for i in order[:3])
        _log.warning(
            "the store refused %d of %d objects (attempt %d of %d): %s",
            len(order),
            len(pending),
            attempt,
            attempts,
            sample,
        )
        pending = [pending[i] for i in order]
        if attempt < attempts:
            sleep(pause * attempt)
    raise StoreUnavailable(
        f"the vector store refused {len(pending)} objects after {attempts} attempts: {reasons[0]}"
    )
