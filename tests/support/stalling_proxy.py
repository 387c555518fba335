"""A TCP proxy on a free loopback port that can turn into a backend that never answers.

Until `stall()` it forwards bytes both ways to the real server behind it. After it, every
connection, open or new, stays open and is read, but nothing is forwarded and nothing comes
back: what a client sees of a server whose packets are silently dropped, until its own
timeouts give up. It stops by itself after `lifetime` seconds; the listener, loop and `stop()`
are `LoopbackProxy`'s.
"""

from __future__ import annotations

import asyncio

from tests.support.loopback_proxy import CHUNK, LoopbackProxy


class StallingProxy(LoopbackProxy):
    """Forwards 127.0.0.1:`port` to `target_port` until stalled."""

    def __init__(self, target_port: int, *, lifetime: float = 600.0) -> None:
        self._stalled = False
        self._swallowed = 0
        super().__init__(target_port, name="stalling-proxy", lifetime=lifetime)

    @property
    def swallowed(self) -> int:
        """Bytes clients sent while stalled, that no server saw."""
        return self._swallowed

    def stall(self) -> None:
        """From now on nothing passes in either direction, on old and new connections."""
        self._stalled = True

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._stalled:
            await self._pipe(reader, None)
            return
        async with self._upstream() as (up_reader, up_writer):
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

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
