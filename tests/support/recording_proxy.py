"""An HTTP/1.1 proxy on a free loopback port that keeps the body of every request it forwards.

It stands between Leximind and a real model server, so that a test can read what was sent
(the prompt) without changing either side. Requests are parsed only far enough to find their
bodies (headers, then `Content-Length` bytes; keep-alive connections carry several in turn);
responses, streamed or not, are copied back as they come. The proxy runs an asyncio loop on a
daemon thread; `stop()` closes every connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from typing import Any

from tests.support.processes import StoppedOnExit

HOST = "127.0.0.1"
CHUNK = 65536


class RecordingProxy(StoppedOnExit):
    """Forwards 127.0.0.1:`port` to `target_port`; `requests` holds (request line, body)."""

    def __init__(self, target_port: int) -> None:
        self._target_port = target_port
        self._lock = threading.Lock()
        self._requests: list[tuple[str, bytes]] = []
        self._sock = socket.create_server((HOST, 0))
        self.port: int = self._sock.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        self._done = asyncio.Event()
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._run, name="recording-proxy", daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}/v1"

    @property
    def requests(self) -> list[tuple[str, bytes]]:
        with self._lock:
            return list(self._requests)

    def json_bodies(self, path: str) -> list[dict[str, Any]]:
        """The JSON bodies of the POSTs to `path` (e.g. "/v1/chat/completions"), in order."""
        return [
            json.loads(body)
            for line, body in self.requests
            if line.split(" ")[:2] == ["POST", path] and body
        ]

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    def stop(self) -> None:
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
        await self._done.wait()
        server.close()
        for writer in list(self._writers):
            writer.close()
        pending = asyncio.all_tasks() - {asyncio.current_task()}
        if pending:
            await asyncio.wait(pending, timeout=5)
        await server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection(HOST, self._target_port)
            self._writers.add(up_writer)
            try:
                await asyncio.gather(self._requests_up(reader, up_writer), _copy(up_reader, writer))
            finally:
                self._writers.discard(up_writer)
                up_writer.close()
        except (OSError, asyncio.IncompleteReadError):
            pass  # either side went away: so does the connection
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _requests_up(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        """Forwards request after request, recording each one's line and body."""
        while True:
            with contextlib.suppress(asyncio.IncompleteReadError):
                head = await source.readuntil(b"\r\n\r\n")
                length = _content_length(head)
                body = await source.readexactly(length) if length else b""
                with self._lock:
                    self._requests.append((head.split(b"\r\n", 1)[0].decode("latin-1"), body))
                sink.write(head + body)
                await sink.drain()
                continue
            sink.close()
            return


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


async def _copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    while data := await source.read(CHUNK):
        sink.write(data)
        await sink.drain()
    sink.close()
