"""An HTTP/1.1 proxy on a free loopback port that keeps the body of every request it forwards.

It stands between Leximind and a real model server, so that a test can read what was sent
(the prompt) without changing either side. Requests are parsed only far enough to find their
bodies (headers, then `Content-Length` bytes; keep-alive connections carry several in turn);
responses, streamed or not, are copied back as they come. The listener, loop and `stop()` are
`LoopbackProxy`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from typing import Any

from tests.support.loopback_proxy import HOST, LoopbackProxy, copy_stream


class RecordingProxy(LoopbackProxy):
    """Forwards 127.0.0.1:`port` to `target_port`; `requests` holds (request line, body)."""

    def __init__(self, target_port: int) -> None:
        self._lock = threading.Lock()
        self._requests: list[tuple[str, bytes]] = []
        super().__init__(target_port, name="recording-proxy")

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

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async with self._upstream() as (up_reader, up_writer):
            up, down = self._requests_up(reader, up_writer), copy_stream(up_reader, writer)
            await asyncio.gather(up, down)

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
