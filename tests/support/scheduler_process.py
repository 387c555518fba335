"""A scheduler process for tests: `python -m tests.support.scheduler_process`.

Runs ops.scheduler.run_scheduler with the settings of its environment (LEXIMIND_*), exactly as
`leximind scheduler` does, except that retraining uses `blocking_backends` from
tests.support.retraining (a trainer that waits for a file, then fails). SIGTERM stops it.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from ops.scheduler import run_scheduler
from ops.wiring import load_settings

BACKENDS = "tests.support.retraining:blocking_backends"


def main() -> None:
    settings = load_settings()
    logging.basicConfig(level=logging.INFO, format="%(process)d %(name)s: %(message)s")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    run_scheduler(settings, stop, backends=BACKENDS)


if __name__ == "__main__":
    main()
