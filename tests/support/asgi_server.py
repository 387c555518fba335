"""An ASGI app served by uvicorn on a loopback port from a thread of the test process.

Tests talk real HTTP to it (uvicorn's parser, its body handling, its error logging) while the
app can still be built with the tests' fakes. The listening socket is bound before uvicorn
starts, so no other process can take the port in between.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

HOST = "127.0.0.1"
STARTUP_DEADLINE_S = 120.0  # start-up warms the embedder: long on a busy machine
STOP_GRACE_S = 30.0


class AsgiStartError(RuntimeError):
    """The app's start-up failed or did not finish before the deadline."""


@contextmanager
def serve_asgi(app: ASGIApp, *, deadline_s: float = STARTUP_DEADLINE_S) -> Iterator[str]:
    """Serves `app` (its lifespan included) until the block ends; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((HOST, 0))
    port = sock.getsockname()[1]
    # log_config=None leaves logging to the test process, so caplog sees uvicorn's errors.
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    stop_at = time.monotonic() + deadline_s
    try:
        while not server.started:
            if not thread.is_alive():
                raise AsgiStartError("the app's start-up failed; see the log")
            if time.monotonic() > stop_at:
                raise AsgiStartError(f"the app did not start within {deadline_s:g} s")
            time.sleep(0.01)
        yield f"http://{HOST}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=STOP_GRACE_S)
        sock.close()
