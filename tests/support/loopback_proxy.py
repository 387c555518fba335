"""The plumbing shared by the test proxies: a loopback listener, an asyncio loop on a daemon thread.

A subclass handles one client connection in `_handle` (opening the real server's side with
`_upstream()` when it forwards); this base keeps track of every stream either side opened, so
that `stop()` (or the end of `lifetime`) closes the listener and every connection, and no client
hangs past a test.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncIterator

from tests.support.processes import StoppedOnExit

HOST = "127.0.0.1"
CHUNK = 65536


class LoopbackProxy(StoppedOnExit):
    """Listens on 127.0.0.1:`port`; `_handle` decides what each connection to `target_port` sees."""

    def __init__(self, target_port: int, *, name: str, lifetime: float | None = None) -> None:
        self._target_port = target_port
        self._lifetime = lifetime
        self._sock = socket.create_server((HOST, 0))
        self.port: int = self._sock.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        self._done = asyncio.Event()
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Closes the listener and every connection; waits for the proxy's thread to end."""
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._done.set)
            self._thread.join(timeout=10)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    @contextlib.asynccontextmanager
    async def _upstream(self) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
        """A connection to the real server, closed on exit and by `stop()`."""
        up_reader, up_writer = await asyncio.open_connection(HOST, self._target_port)
        self._writers.add(up_writer)
        try:
            yield up_reader, up_writer
        finally:
            self._writers.discard(up_writer)
            up_writer.close()

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        server = await asyncio.start_server(self._accept, sock=self._sock)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._done.wait(), self._lifetime)
        server.close()
        for writer in list(self._writers):
            writer.close()
        pending = asyncio.all_tasks() - {asyncio.current_task()}
        if pending:  # each connection's task ends on its closed streams
            await asyncio.wait(pending, timeout=5)
        await server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            await self._handle(reader, writer)
        except (OSError, asyncio.IncompleteReadError):
            pass  # either side went away: so does the connection
        finally:
            self._writers.discard(writer)
            writer.close()


async def copy_stream(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    """Copies `source` to `sink` until end of stream, then closes `sink`."""
    while data := await source.read(CHUNK):
        sink.write(data)
        await sink.drain()
    sink.close()
