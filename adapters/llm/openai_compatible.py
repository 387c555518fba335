"""A ChatModel over any OpenAI-compatible chat-completions API (vLLM in production)."""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import Any

import httpx

from core.errors import ModelUnavailable
from core.ports import ActiveModel
from core.types import ChatMessage, Completion

_log = logging.getLogger(__name__)

_CONNECTIONS_PER_POOL = 32

_BODY_EXCERPT_CHARS = 200


class OpenAICompatibleChatModel:
    """Calls `POST {base_url}/chat/completions`; every failure surfaces as ModelUnavailable.

    `base_url` is the API root including its version, e.g. `http://127.0.0.1:8000/v1`. `model`
    is the served model name; a LoRA adapter loaded into vLLM is addressed by its name the same
    way. Pass `client` to share or fake the HTTP client (it is then not closed by `aclose`), or
    `transport` to keep the owned client but swap what it sends through.

    With `active_model`, each request asks it for the model name and uses `model` only while
    it names none: a promoted adapter is used from the next request on, without a restart.
    """

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_tokens: int = 512,
        temperature: float = 0.2,
        max_connections: int = 256,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        active_model: ActiveModel | None = None,
    ) -> None:
        if client is not None and transport is not None:
            raise ValueError("pass either client or transport, not both")
        self._base_url = base_url.rstrip("/")
        self._model = model
        self._active = active_model
        self._max_tokens = max_tokens
        self._temperature = temperature
        self._api_key = api_key or None
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout = httpx.Timeout(timeout)
        self._owns_client = client is None
        if client is not None:
            self._clients = [client]
        else:
            # httpx's default of 100 connections would queue a burst of questions behind each
            # other, while vLLM batches every request in flight. One pool per 32 connections:
            # httpcore's pool checks every connection for every queued request on each event,
            # so one pool of 256 spent most of the event loop's time there under a burst.
            shards = -(-max_connections // _CONNECTIONS_PER_POOL)
            per_pool = -(-max_connections // shards)
            limits = httpx.Limits(max_connections=per_pool, max_keepalive_connections=per_pool)
            self._clients = [
                httpx.AsyncClient(timeout=self._timeout, transport=transport, limits=limits)
                for _ in range(1 if transport is not None else shards)
            ]
        self._turn = itertools.count()

    @property
    def _client(self) -> httpx.AsyncClient:
        """The next connection pool, in turn."""
        return self._clients[next(self._turn) % len(self._clients)]

    @property
    def name(self) -> str:
        """The model the next request goes to: the active one if set, else the configured one."""
        if self._active is not None:
            return self._active.current() or self._model
        return self._model

    def __repr__(self) -> str:
        # Spelled out so that the API key (in the headers) can never appear in a repr.
        return f"OpenAICompatibleChatModel(base_url={self._base_url!r}, model={self.name!r})"

    async def complete(
        self, messages: Sequence[ChatMessage], *, model: str | None = None
    ) -> Completion:
        """The reply of `model` (default: `name`) to `messages`; an empty reply is returned
        as is.

        Raises ModelUnavailable on connection errors, timeouts, non-2xx answers and answers
        that are not a chat completion.
        """
        name = model or self.name
        body = await self._request("POST", "/chat/completions", json=self._payload(messages, name))
        try:
            choice = body["choices"][0]
            content = choice["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise ModelUnavailable(
                f"chat model {name!r} answered without a choice: {self._excerpt(body)}"
            ) from exc
        if content is not None and not isinstance(content, str):
            raise ModelUnavailable(f"chat model {name!r} answered non-text content")
        model = body.get("model")
        return Completion(text=content or "", model=model if isinstance(model, str) else name)

    async def stream(
        self, messages: Sequence[ChatMessage], *, model: str | None = None
    ) -> AsyncIterator[str]:
        """The reply of `model` (default: `name`) in pieces, as the server generates them.

        Uses the API's server-sent events (`stream: true`); pieces without text are skipped.
        Raises ModelUnavailable like `complete`, also when the stream breaks off midway.
        """
        name = model or self.name
        payload = {**self._payload(messages, name), "stream": True}
        url = self._base_url + "/chat/completions"
        where = "POST /chat/completions (stream)"
        try:
            async with self._client.stream(
                "POST", url, json=payload, headers=self._headers, timeout=self._timeout
            ) as response:
                if not response.is_success:
                    await response.aread()
                    raise ModelUnavailable(
                        f"model server answered {where} with HTTP {response.status_code}: "
                        f"{self._excerpt(response.text)}"
                    )
                async for line in response.aiter_lines():
                    piece = self._stream_piece(line, name)
                    if piece is None:
                        break
                    if piece:
                        yield piece
        except httpx.TimeoutException as exc:
            raise ModelUnavailable(
                f"model server at {self._base_url} timed out after {self._timeout.read} s ({where})"
            ) from exc
        except httpx.HTTPError as exc:
            raise ModelUnavailable(
                f"cannot reach model server at {self._base_url} ({where}): "
                f"{type(exc).__name__}: {exc}"
            ) from exc

    def _stream_piece(self, line: str, name: str) -> str | None:
        """The text of one server-sent event line; "" for none, None at the end of the stream."""
        if not line.startswith("data:"):
            return ""  # blank separators, comments, other fields
        data = line[5:].strip()
        if data == "[DONE]":
            return None
        try:
            event = json.loads(data)
            choices = event.get("choices") or []
            content = choices[0].get("delta", {}).get("content") if choices else ""
        except (ValueError, AttributeError, TypeError) as exc:
            raise ModelUnavailable(
                f"chat model {name!r} streamed an event that is not a completion chunk: "
                f"{self._excerpt(data)}"
            ) from exc
        if content is not None and not isinstance(content, str):
            raise ModelUnavailable(f"chat model {name!r} streamed non-text content")
        return content or ""

    def _payload(self, messages: Sequence[ChatMessage], name: str) -> dict[str, Any]:
        return {
            "model": name,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": self._max_tokens,
            "temperature": self._temperature,
        }

    async def check(self) -> None:
        """Raises ModelUnavailable unless the server is up and lists the configured model."""
        body = await self._request("GET", "/models")
        try:
            served = {entry["id"] for entry in body["data"]}
        except (KeyError, TypeError) as exc:
            raise ModelUnavailable(
                f"model server at {self._base_url} answered /models without a list"
            ) from exc
        name = self.name
        if name not in served:
            raise ModelUnavailable(
                f"model {name!r} is not served at {self._base_url}; "
                f"served: {', '.join(sorted(map(str, served))) or 'none'}"
            )

    async def _request(
        self, method: str, path: str, *, json: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        url = self._base_url + path
        try:
            response = await self._client.request(
                method, url, json=json, headers=self._headers, timeout=self._timeout
            )
        except httpx.TimeoutException as exc:
            raise ModelUnavailable(
                f"model server at {self._base_url} timed out after "
                f"{self._timeout.read} s ({method} {path})"
            ) from exc
        except httpx.HTTPError as exc:
            raise ModelUnavailable(
                f"cannot reach model server at {self._base_url} ({method} {path}): "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if not response.is_success:
            _log.warning(
                "model server answered %s %s with HTTP %d", method, path, response.status_code
            )
            raise ModelUnavailable(
                f"model server answered {method} {path} with HTTP {response.status_code}: "
                f"{self._excerpt(response.text)}"
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise ModelUnavailable(
                f"model server answered {method} {path} with invalid JSON: "
                f"{self._excerpt(response.text)}"
            ) from exc
        if not isinstance(body, dict):
            raise ModelUnavailable(
                f"model server answered {method} {path} with JSON that is not an object: "
                f"{self._excerpt(body)}"
            )
        return body

    def _excerpt(self, value: object) -> str:
        """The start of a response body on one line, with the API key blanked should it echo."""
        text = " ".join(str(value).split())
        if self._api_key:
            text = text.replace(self._api_key, "***")
        if len(text) > _BODY_EXCERPT_CHARS:
            return text[: _BODY_EXCERPT_CHARS - 1] + "…"
        return text or "(empty body)"

    async def aclose(self) -> None:
        """Close the HTTP client if this model created it."""
        if self._owns_client:
            for client in self._clients:
                await client.aclose()

    async def __aenter__(self) -> OpenAICompatibleChatModel:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
