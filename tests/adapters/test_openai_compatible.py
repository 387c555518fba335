"""OpenAICompatibleChatModel against a local fake of the OpenAI chat API (pytest-httpserver)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from adapters.llm.openai_compatible import OpenAICompatibleChatModel
from core.errors import ModelUnavailable, ServiceUnavailable
from core.types import ChatMessage, Completion

MODEL = "leximind-lora-7"
SECRET = "sk-test-do-not-leak-1234"
MESSAGES = (
    ChatMessage(role="system", content="Answer from the passages."),
    ChatMessage(role="user", content="How do I install it?"),
)


def completion_body(text: str | None = "Run pip install.", model: str = MODEL) -> dict[str, object]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14},
    }


@pytest.fixture
async def chat(httpserver: HTTPServer) -> AsyncIterator[OpenAICompatibleChatModel]:
    async with OpenAICompatibleChatModel(
        base_url=httpserver.url_for("/v1"),
        model=MODEL,
        api_key=None,
        timeout=5.0,
        max_tokens=64,
        temperature=0.1,
    ) as model:
        yield model


def chat_model(
    httpserver: HTTPServer, *, api_key: str | None, timeout: float = 5.0
) -> OpenAICompatibleChatModel:
    """A client of the fake server with small, fixed generation settings."""
    return OpenAICompatibleChatModel(
        base_url=httpserver.url_for("/v1"),
        model=MODEL,
        api_key=api_key,
        timeout=timeout,
        max_tokens=8,
        temperature=0.0,
    )


async def test_complete_posts_model_messages_and_sampling_settings(
    httpserver: HTTPServer, chat: OpenAICompatibleChatModel
) -> None:
    """complete() POSTs model, messages, max_tokens and temperature to /chat/completions."""
    httpserver.expect_oneshot_request(
        "/v1/chat/completions",
        method="POST",
        json={
            "model": MODEL,
            "messages": [
                {"role": "system", "content": "Answer from the passages."},
                {"role": "user", "content": "How do I install it?"},
            ],
            "max_tokens": 64,
            "temperature": 0.1,
        },
    ).respond_with_json(completion_body())

    completion = await chat.complete(MESSAGES)

    assert completion == Completion(text="Run pip install.", model=MODEL)
    httpserver.check_assertions()


async def test_complete_reports_the_model_name_the_server_returns(
    httpserver: HTTPServer, chat: OpenAICompatibleChatModel
) -> None:
    """The completion carries the model the server reports, not the one configured."""
    httpserver.expect_request("/v1/chat/completions").respond_with_json(
        completion_body(model="base-model-v2")
    )

    completion = await chat.complete(MESSAGES)

    assert completion.model == "base-model-v2"
    assert chat.name == MODEL


async def test_empty_completion_text_is_returned_as_is(
    httpserver: HTTPServer, chat: OpenAICompatibleChatModel
) -> None:
    """An empty or null message content comes back as an empty text, not an error."""
    httpserver.expect_oneshot_request("/v1/chat/completions").respond_with_json(
        completion_body(text="")
    )
    httpserver.expect_oneshot_request("/v1/chat/completions").respond_with_json(
        completion_body(text=None)
    )

    assert (await chat.complete(MESSAGES)).text == ""
    assert (await chat.complete(MESSAGES)).text == ""


async def test_authorization_header_is_sent_only_when_a_key_is_set(
    httpserver: HTTPServer,
) -> None:
    """A bearer token goes out when api_key is set and no Authorization header otherwise."""
    httpserver.expect_request("/v1/chat/completions").respond_with_json(completion_body())
    base_url = httpserver.url_for("/v1")

    for api_key in (SECRET, None, ""):
        async with OpenAICompatibleChatModel(
            base_url=base_url,
            model=MODEL,
            api_key=api_key,
            timeout=5.0,
            max_tokens=8,
            temperature=0.0,
        ) as model:
            await model.complete(MESSAGES)

    headers = [request.headers for request, _ in httpserver.log]
    assert headers[0].get("Authorization") == f"Bearer {SECRET}"
    assert "Authorization" not in headers[1]
    assert "Authorization" not in headers[2]


@pytest.mark.parametrize("status", [400, 401, 404, 500, 503])
async def test_non_2xx_raises_model_unavailable_with_status_and_body_excerpt(
    httpserver: HTTPServer, status: int
) -> None:
    """A non-2xx answer raises ModelUnavailable naming the status and the body's start."""
    httpserver.expect_request("/v1/chat/completions").respond_with_data(
        json.dumps({"error": {"message": "The model `x` does not exist."}}) + " " + "z" * 5000,
        status=status,
        content_type="application/json",
    )

    async with chat_model(httpserver, api_key=SECRET) as model:
        with pytest.raises(ModelUnavailable) as caught:
            await model.complete(MESSAGES)

    message = str(caught.value)
    assert str(status) in message
    assert "does not exist" in message
    assert len(message) < 400
    assert SECRET not in message


async def test_api_key_echoed_in_an_error_body_is_blanked(httpserver: HTTPServer) -> None:
    """A server that echoes the bearer token in its error body does not leak it into the error."""
    httpserver.expect_request("/v1/chat/completions").respond_with_data(
        f"bad header Authorization: Bearer {SECRET}", status=401
    )

    async with chat_model(httpserver, api_key=SECRET) as model:
        with pytest.raises(ModelUnavailable) as caught:
            await model.complete(MESSAGES)

    assert SECRET not in str(caught.value)
    assert SECRET not in repr(model)


async def test_model_unavailable_is_a_service_unavailable(
    httpserver: HTTPServer, chat: OpenAICompatibleChatModel
) -> None:
    """ModelUnavailable keeps the httpx error as its cause and maps to ServiceUnavailable."""
    httpserver.expect_request("/v1/chat/completions").respond_with_data("down", status=503)

    with pytest.raises(ServiceUnavailable) as caught:
        await chat.complete(MESSAGES)

    assert isinstance(caught.value, ModelUnavailable)


@pytest.mark.parametrize(
    "body",
    ["<html>Bad gateway</html>", "", "[1, 2]", '{"choices": [', "null"],
    ids=["html", "empty", "array", "truncated", "null"],
)
async def test_malformed_json_raises_model_unavailable(
    httpserver: HTTPServer, chat: OpenAICompatibleChatModel, body: str
) -> None:
    """A 200 whose body is not a JSON object raises ModelUnavailable."""
    httpserver.expect_request("/v1/chat/completions").respond_with_data(
        body, status=200, content_type="application/json"
    )

    with pytest.raises(ModelUnavailable, match="JSON"):
        await chat.complete(MESSAGES)


@pytest.mark.parametrize(
    "body",
    [
        {"model": MODEL},
        {"model": MODEL, "choices": []},
        {"model": MODEL, "choices": [{"index": 0}]},
        {"model": MODEL, "choices": [{"message": None}]},
        {"model": MODEL, "choices": [{"message": {"content": 42}}]},
    ],
    ids=["no-choices", "empty-choices", "no-message", "null-message", "non-text"],
)
async def test_missing_choices_raise_model_unavailable(
    httpserver: HTTPServer, chat: OpenAICompatibleChatModel, body: dict[str, object]
) -> None:
    """A JSON object without a usable first choice raises ModelUnavailable."""
    httpserver.expect_request("/v1/chat/completions").respond_with_json(body)

    with pytest.raises(ModelUnavailable):
        await chat.complete(MESSAGES)


async def test_timeout_raises_model_unavailable(httpserver: HTTPServer) -> None:
    """A server slower than the timeout raises ModelUnavailable that says it timed out."""

    def slow(request: Request) -> Response:
        time.sleep(0.5)
        return Response(json.dumps(completion_body()), content_type="application/json")

    httpserver.expect_request("/v1/chat/completions").respond_with_handler(slow)

    async with OpenAICompatibleChatModel(
        base_url=httpserver.url_for("/v1"),
        model=MODEL,
        api_key=None,
        timeout=0.1,
        max_tokens=8,
        temperature=0.0,
    ) as model:
        started = time.monotonic()
        with pytest.raises(ModelUnavailable, match="timed out") as caught:
            await model.complete(MESSAGES)

    assert time.monotonic() - started < 0.45
    assert isinstance(caught.value.__cause__, httpx.TimeoutException)


async def test_connection_refused_raises_model_unavailable() -> None:
    """A base URL where nothing listens raises ModelUnavailable with the connect error as cause."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # The socket is closed without listen(), so connections to the port are refused.

    async with OpenAICompatibleChatModel(
        base_url=f"http://127.0.0.1:{port}/v1",
        model=MODEL,
        api_key=None,
        timeout=5.0,
        max_tokens=8,
        temperature=0.0,
    ) as model:
        with pytest.raises(ModelUnavailable, match="cannot reach") as caught:
            await model.complete(MESSAGES)
        with pytest.raises(ModelUnavailable):
            await model.check()

    assert isinstance(caught.value.__cause__, httpx.ConnectError)


async def test_check_passes_when_the_model_is_listed(
    httpserver: HTTPServer, chat: OpenAICompatibleChatModel
) -> None:
    """check() passes when GET /models lists the configured model."""
    httpserver.expect_oneshot_request("/v1/models", method="GET").respond_with_json(
        {"object": "list", "data": [{"id": "base"}, {"id": MODEL}]}
    )

    await chat.check()

    httpserver.check_assertions()


async def test_check_fails_when_the_model_is_not_listed(
    httpserver: HTTPServer, chat: OpenAICompatibleChatModel
) -> None:
    """check() raises ModelUnavailable naming what is served when the model is missing."""
    httpserver.expect_request("/v1/models").respond_with_json(
        {"object": "list", "data": [{"id": "base"}]}
    )

    with pytest.raises(ModelUnavailable, match="not served") as caught:
        await chat.check()

    assert "base" in str(caught.value)


@pytest.mark.parametrize(
    ("status", "body"),
    [(500, {"error": "boom"}), (200, {"object": "list"}), (200, {"data": [{"name": "x"}]})],
    ids=["server-error", "no-data", "no-ids"],
)
async def test_check_fails_on_errors_and_malformed_model_lists(
    httpserver: HTTPServer,
    chat: OpenAICompatibleChatModel,
    status: int,
    body: dict[str, object],
) -> None:
    """check() raises ModelUnavailable on a failed or unreadable /models answer."""
    httpserver.expect_request("/v1/models").respond_with_json(body, status=status)

    with pytest.raises(ModelUnavailable):
        await chat.check()


async def test_injected_client_is_used_and_left_open() -> None:
    """An injected AsyncClient carries the requests and is not closed by aclose()."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=completion_body())

    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as client:
        async with OpenAICompatibleChatModel(
            base_url="http://model.invalid/v1/",
            model=MODEL,
            api_key=None,
            timeout=5.0,
            max_tokens=8,
            temperature=0.0,
            client=client,
        ) as model:
            await model.complete(MESSAGES)
        assert not client.is_closed

    assert str(seen[0].url) == "http://model.invalid/v1/chat/completions"


def sse(*events: object) -> str:
    """A chat-completions event stream: each event as a `data:` line (a string is written
    as is, e.g. a comment), then `[DONE]`."""
    lines = [f"data: {json.dumps(e)}\n\n" if not isinstance(e, str) else e for e in events]
    return "".join(lines) + "data: [DONE]\n\n"


def chunk_event(text: str | None) -> dict[str, object]:
    return {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"content": text}}],
    }


async def test_stream_yields_the_pieces_and_asks_for_a_stream(
    chat: OpenAICompatibleChatModel, httpserver: HTTPServer
) -> None:
    """stream() sends `stream: true` and yields each delta's text, skipping empty ones."""
    seen: list[dict[str, object]] = []

    def handler(request: Request) -> Response:
        seen.append(json.loads(request.data))
        body = sse(chunk_event(None), chunk_event("Run "), ": keep-alive\n\n", chunk_event("pip."))
        return Response(body, content_type="text/event-stream")

    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_handler(handler)
    pieces = [p async for p in chat.stream(MESSAGES)]
    assert pieces == ["Run ", "pip."]
    assert seen[0]["stream"] is True and seen[0]["model"] == MODEL


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ("data: {not json\n\n", 200, "not a completion chunk"),
        ('{"error": "overloaded"}', 503, "HTTP 503"),
    ],
)
async def test_stream_failures_are_model_unavailable(
    chat: OpenAICompatibleChatModel,
    httpserver: HTTPServer,
    body: str,
    status: int,
    message: str,
) -> None:
    """A broken event or an error status surfaces as ModelUnavailable naming the problem."""
    httpserver.expect_request("/v1/chat/completions").respond_with_data(
        body, status=status, content_type="text/event-stream"
    )
    with pytest.raises(ModelUnavailable, match=message):
        _ = [p async for p in chat.stream(MESSAGES)]


async def test_stream_to_a_closed_port_is_model_unavailable() -> None:
    """Nothing listening: ModelUnavailable, not an httpx error."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with OpenAICompatibleChatModel(
        base_url=f"http://127.0.0.1:{port}/v1", model=MODEL, timeout=2.0
    ) as model:
        with pytest.raises(ModelUnavailable, match="cannot reach"):
            _ = [p async for p in model.stream(MESSAGES)]
