"""Stopping the servers tests start, each in its own process group."""

from __future__ import annotations

import contextlib
import os
import signal


def signal_group(pgid: int, sig: signal.Signals) -> None:
    """Sends `sig` to a process group; one that is already gone is not an error."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
