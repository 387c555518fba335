"""Bad input on a real uvicorn server: a clear 4xx with `{"detail": str}`, no traceback in the
log, the body limit held on the bytes received, and /docs served without any outside URL."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from core.text import EXCERPT_CHARS
from ops.api import MAX_BODY_BYTES, create_app
from ops.settings import EmbeddingSettings, Settings
from rag.sources import read_tree
from tests.support.asgi_server import serve_asgi
from tests.support.services import index_tree

PAGES = {
    "README.md": "# Demo\n\nRun `make test` to run the tests.\n",
    "docs/cors.md": "# CORS\n\nAdd CORSMiddleware to the app to enable CORS for other origins.\n",
}


def tiny_kb_settings(work: Path, model_cache: Path) -> Settings:
    """Embedded defaults (LanceDB, MiniLM, extractive answers) with a two-page `default`
    knowledge base indexed in `work`/data."""
    source = work / "source"
    for rel, text in PAGES.items():
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        (source / rel).write_text(text, encoding="utf-8")
    settings = Settings(
        _env_file=None, data_dir=work / "data", embedding=EmbeddingSettings(cache_dir=model_cache)
    )
    tree = read_tree(source, max_bytes=1_000_000)
    index_tree(settings, tree, kb="default", source=str(source))
    return settings


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Iterator[str]:
    settings = tiny_kb_settings(tmp_path_factory.mktemp("api"), model_cache)
    with serve_asgi(create_app(settings)) as base:
        yield base


@pytest.fixture
def client(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=60) as c:
        yield c


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []
    assert "Traceback" not in caplog.text


def detail(r: httpx.Response) -> str:
    """The error's one sentence; the body must be exactly `{"detail": str}`."""
    body = r.json()
    assert list(body) == ["detail"] and isinstance(body["detail"], str), body
    text: str = body["detail"]
    return text


@pytest.mark.parametrize("endpoint", ["/ask", "/search"])
def test_a_lone_surrogate_in_the_question_is_422(
    client: httpx.Client, caplog: pytest.LogCaptureFixture, endpoint: str
) -> None:
    """`"opt \\ud800 x"` (valid JSON, not valid Unicode) is refused at the boundary, as is
    the same surrogate sent raw as UTF-8-style bytes."""
    escaped = b'{"question": "opt \\ud800 x"}'
    raw = '{"question": "opt \ud800 x"}'.encode("utf-8", "surrogatepass")
    for body in (escaped, raw):
        r = client.post(endpoint, content=body, headers={"Content-Type": "application/json"})
        assert r.status_code in (400, 422), r.text
        assert "Unicode" in detail(r) or "JSON" in detail(r)
    r = client.post(endpoint, content=escaped, headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and "surrogate" in detail(r)
    no_tracebacks(caplog)


def test_a_lone_surrogate_in_a_follow_up_turn_is_422(client: httpx.Client) -> None:
    """The check covers every text field, not only the question."""
    body = b'{"question": "and then?", "history": [{"question": "q", "answer": "\\udfff"}]}'
    r = client.post("/ask", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and "history" in detail(r)


def test_a_body_that_is_not_utf8_is_a_400(client: httpx.Client) -> None:
    r = client.post(
        "/ask", content=b'{"question": "\xff"}', headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400
    detail(r)


@pytest.mark.parametrize("k", ["3", True, 3.5, 0, 51, None])
def test_k_takes_only_a_json_integer_from_1_to_50(client: httpx.Client, k: object) -> None:
    """A string, a boolean, a fraction or a number out of range is 422 naming `k`."""
    r = client.post("/search", json={"question": "How do I enable CORS?", "k": k})
    assert r.status_code == 422, r.text
    assert detail(r).startswith("k: ")


def test_k_as_a_whole_json_number_is_accepted(client: httpx.Client) -> None:
    """2 and 2.0 are the same JSON number."""
    for k in (2, 2.0):
        r = client.post("/search", json={"question": "How do I enable CORS?", "k": k})
        assert r.status_code == 200 and len(r.json()["sources"]) == 2


@pytest.mark.parametrize("endpoint", ["/ask", "/search"])
def test_a_huge_knowledge_base_name_is_refused_quoting_a_short_prefix(
    client: httpx.Client, endpoint: str
) -> None:
    """A 10,000-character name gets the CLI's message, which quotes at most a short prefix."""
    name = "k" * 10_000
    r = client.post(endpoint, json={"question": "How do I enable CORS?", "kb": name})
    assert r.status_code == 422
    message = detail(r)
    assert "invalid knowledge base name" in message
    assert "k" * (EXCERPT_CHARS + 1) not in message and len(message) < 200


@pytest.mark.parametrize("name", ["../etc", "a b", "", "x" * 65])
def test_knowledge_base_names_follow_the_cli_rule(client: httpx.Client, name: str) -> None:
    r = client.post("/search", json={"question": "How do I enable CORS?", "kb": name})
    assert r.status_code == 422 and "invalid knowledge base name" in detail(r)


def test_an_unknown_knowledge_base_is_404(client: httpx.Client) -> None:
    r = client.post("/search", json={"question": "How do I enable CORS?", "kb": "elsewhere"})
    assert r.status_code == 404 and "elsewhere" in detail(r)


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _response_head(sock: socket.socket) -> bytes:
    head = b""
    while b"\r\n\r\n" not in head:
        data = sock.recv(65536)
        if not data:
            break
        head += data
    return head


def test_a_chunked_body_over_the_limit_is_413_before_it_ends(url: str) -> None:
    """A chunked /ask (no Content-Length) that passes the limit gets 413 while the client is
    still sending: the server stopped reading at the limit and did not wait for the rest."""
    host, port = urlsplit(url).hostname, urlsplit(url).port
    assert host is not None and port is not None
    piece = b" " * 65536
    pieces = MAX_BODY_BYTES // len(piece) + 2  # just over the limit; the body never ends
    with socket.create_connection((host, port), timeout=60) as sock:
        sock.sendall(
            b"POST /ask HTTP/1.1\r\nHost: leximind\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + _chunk(b'{"question": "')
        )
        for _ in range(pieces):
            sock.sendall(_chunk(piece))
        head = _response_head(sock)
    assert head.startswith(b"HTTP/1.1 413"), head[:200]


def test_a_chunked_5_mb_body_is_413(client: httpx.Client) -> None:
    """The same for a whole 5 MB chunked body sent at once, as a client library sends it."""

    def body() -> Iterator[bytes]:
        yield b'{"question": "'
        for _ in range(80):
            yield b"a" * 65536
        yield b'"}'

    try:
        r = client.post("/ask", content=body(), headers={"Content-Type": "application/json"})
    except httpx.WriteError:
        pytest.fail("the server closed the connection without answering 413")
    assert r.status_code == 413 and "over" in detail(r)


def test_a_declared_content_length_over_the_limit_is_413_at_once(url: str) -> None:
    """A Content-Length over the limit is refused before any of the body is sent."""
    host, port = urlsplit(url).hostname, urlsplit(url).port
    assert host is not None and port is not None
    with socket.create_connection((host, port), timeout=60) as sock:
        sock.sendall(
            b"POST /ask HTTP/1.1\r\nHost: leximind\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {MAX_BODY_BYTES + 1}\r\n\r\n".encode()
        )
        head = _response_head(sock)
    assert head.startswith(b"HTTP/1.1 413"), head[:200]


def test_the_docs_page_loads_only_from_this_server(client: httpx.Client) -> None:
    """/docs names no outside URL (no CDN, no validator badge), and every script, style sheet
    and icon it references is served here with its type."""
    page = client.get("/docs")
    assert page.status_code == 200
    assert not re.search(r"(https?:)?//[^/\s'\"]", page.text), "the page names another host"
    assert json.dumps({"validatorUrl": None})[1:-1] in page.text
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    assert len(assets) == 3
    kinds = set()
    for asset in assets:
        assert asset.startswith("/")
        r = client.get(asset)
        assert r.status_code == 200 and r.content
        kinds.add(r.headers["content-type"].split(";")[0])
    assert kinds == {"text/javascript", "text/css", "image/png"}
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/docs/assets/../../etc/passwd").status_code == 404
