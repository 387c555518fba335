"""A TCP proxy on a free loopback port that can turn into a backend that never answers.

Until `stall()` it forwards bytes both ways to the real server behind it. After it, every
connection, open or new, stays open and is read, but nothing is forwarded and nothing comes
back: what a client sees of a server whose packets are silently dropped, until its own
timeouts give up. The proxy runs an asyncio loop on a daemon thread, stops by itself after
`lifetime` seconds, and `stop()` closes every connection (so no client hangs past a test).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading

from tests.support.processes import StoppedOnExit

HOST = "127.0.0.1"
CHUNK = 65536


class StallingProxy(StoppedOnExit):
    """Forwards 127.0.0.1:`port` to `target_port` until stalled."""

    def __init__(self, target_port: int, *, lifetime: float = 600.0) -> None:
        self._target_port = target_port
        self._lifetime = lifetime
        self._stalled = False
        self._swallowed = 0
        self._sock = socket.create_server((HOST, 0))
        self.port: int = self._sock.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        self._done = asyncio.Event()
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._run, name="stalling-proxy", daemon=True)
        self._thread.start()

    @property
    def swallowed(self) -> int:
        """Bytes clients sent while stalled, that no server saw."""
        return self._swallowed

    def stall(self) -> None:
        """From now on nothing passes in either direction, on old and new connections."""
        self._stalled = True

    def stop(self) -> None:
        """Closes the listener and every connection; waits for the proxy's thread to end."""
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._done.set)
            self._thread.join(timeout=10)

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
            if self._stalled:
                await self._pipe(reader, None)
                return
            up_reader, up_writer = await asyncio.open_connection(HOST, self._target_port)
            self._writers.add(up_writer)
            try:
                await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
            finally:
                self._writers.discard(up_writer)
                up_writer.close()
        except OSError:
            pass  # either side went away: so does the connection
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter | None) -> None:
        """Copies `source` to `sink` until end of stream; while stalled, reads and drops."""
        while data := await source.read(CHUNK):
            if self._stalled or sink is None:
                self._swallowed += len(data)
                continue
            sink.write(data)
            await sink.drain()
        if sink is not None and not self._stalled:
            sink.close()
