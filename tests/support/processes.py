"""Stopping the servers tests start, each in its own process group."""

from __future__ import annotations

import contextlib
import os
import signal
from types import TracebackType
from typing import Self


def signal_group(pgid: int, sig: signal.Signals) -> None:
    """Sends `sig` to a process group; one that is already gone is not an error."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


class StoppedOnExit:
    """Makes a test server a context manager that calls its `stop()` on leaving."""

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
