"""The web surface over HTTP: the ask page, /ask/stream, feedback, CSRF, origins, CORS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ops.api import create_app
from ops.settings import EmbeddingSettings, Settings, WebSettings
from web.security import CONTENT_SECURITY_POLICY

OWN = "http://testserver"
DOCS = "http://docs.example.org"
CLIENT = "0123456789abcdef0123456789abcdef"


def settings_for(data: Path, model_cache: Path, **web: object) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=data,
        embedding=EmbeddingSettings(cache_dir=model_cache),
        web=WebSettings(allowed_origins=[DOCS], **web),
    )


@pytest.fixture
def client(indexed_data: Path, model_cache: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(indexed_data, model_cache))) as c:
        yield c


def csrf(client: TestClient) -> str:
    token: str = client.get("/web/session").json()["csrf"]
    return token


def events(body: str) -> list[tuple[str, dict[str, object]]]:
    """The server-sent events of a response body, as (name, data)."""
    found = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        found.append((lines["event"], json.loads(lines["data"])))
    return found


def browser_ask(c: TestClient, question: str, **extra: object) -> tuple[int, str]:
    headers = {"origin": OWN, "x-leximind-csrf": csrf(c)}
    body = {"question": question, "client": CLIENT, **extra}
    r = c.post("/ask/stream", json=body, headers=headers)
    return r.status_code, r.text


def test_ask_page_is_served_with_a_strict_csp(client: TestClient) -> None:
    """GET / renders the question box for the default knowledge base under a strict CSP,
    with the page's own script and styles and no inline code; ?kb= names another."""
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    html = r.text
    assert 'id="question"' in html and 'data-kb="default"' in html and "data-csrf=" in html
    assert '<script src="/web/app.js" defer></script>' in html
    assert "<script>" not in html and "style=" not in html
    assert client.get("/web/app.js").headers["content-type"].startswith("text/javascript")
    assert ".highlight" in client.get("/web/code.css").text
    missing = client.get("/?kb=elsewhere")
    assert missing.status_code == 404 and "elsewhere" in missing.text


def test_stream_for_an_api_caller_sends_sources_token_and_done(
    client: TestClient, indexed_data: Path
) -> None:
    """Without an Origin (not a browser) no token is needed: the extractive answer comes as
    one token between the sources and the final event, which names the recorded interaction."""
    r = client.post("/ask/stream", json={"question": "How do I enable CORS in FastAPI?"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    found = events(r.text)
    assert [name for name, _ in found] == ["sources", "token", "done"]
    sources = found[0][1]["sources"]
    assert isinstance(sources, list) and sources[0]["path"] == "docs/en/docs/tutorial/cors.md"
    done = found[2][1]
    assert done["text"] == found[1][1]["text"] and "<p>" in str(done["html"])
    assert done["confidence_words"] and not done["abstained"]
    stored = list(indexed_data.glob(f"objects/interactions/*/*/*/{done['interaction_id']}.json"))
    assert json.loads(stored[0].read_text())["question"]["platform"] == "api"


def test_stream_bad_input_is_a_4xx_before_streaming(client: TestClient) -> None:
    """An empty question or unknown knowledge base is refused with JSON, not an event."""
    r = client.post("/ask/stream", json={"question": "  "})
    assert r.status_code == 422 and "empty" in r.json()["detail"]
    r = client.post("/ask/stream", json={"question": "CORS?", "kb": "elsewhere"})
    assert r.status_code == 404
    assert browser_ask(client, "CORS?", client="short")[0] == 422


def test_browser_requests_need_an_allowed_origin_and_a_csrf_token(client: TestClient) -> None:
    """A browser request from another site, or without a valid token, is a 403."""
    body = {"question": "How do I enable CORS?", "client": CLIENT}
    evil = client.post(
        "/ask/stream",
        json=body,
        headers={"origin": "http://evil.example", "x-leximind-csrf": csrf(client)},
    )
    assert evil.status_code == 403 and "may not ask" in evil.json()["detail"]
    for token in (None, "", "123.abc", csrf(client) + "0"):
        headers = {"origin": OWN} | ({"x-leximind-csrf": token} if token is not None else {})
        r = client.post("/ask/stream", json=body, headers=headers)
        assert r.status_code == 403, token
    allowed = client.post(
        "/ask/stream", json=body, headers={"origin": DOCS, "x-leximind-csrf": csrf(client)}
    )
    assert allowed.status_code == 200


def test_cors_preflight_only_for_allowed_origins(client: TestClient) -> None:
    """The widget's preflight from an allowed docs site passes without credentials; any
    other origin gets no CORS headers, so the browser refuses to send."""
    ask = {
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type,x-leximind-csrf",
    }
    ok = client.options("/ask/stream", headers={"origin": DOCS, **ask})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == DOCS
    assert "access-control-allow-credentials" not in ok.headers
    refused = client.options("/ask/stream", headers={"origin": "http://evil.example", **ask})
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    session = client.get("/web/session", headers={"origin": "http://evil.example"})
    assert "access-control-allow-origin" not in session.headers


def test_feedback_buttons_label_the_answer_once_and_can_change(
    client: TestClient, indexed_data: Path
) -> None:
    """👍 then 👎 leaves one negative label for this browser, stored under its hash; pressing
    👎 again takes it back; an answer not given on the web cannot be labelled."""
    status, text = browser_ask(client, "How do I run background tasks?")
    assert status == 200
    interaction = str(events(text)[-1][1]["interaction_id"])
    headers = {"origin": OWN, "x-leximind-csrf": csrf(client)}

    def press(button: str, active: bool = True, interaction_id: str = interaction) -> Any:
        body = {
            "interaction_id": interaction_id,
            "client": CLIENT,
            "button": button,
            "active": active,
        }
        return client.post("/web/feedback", json=body, headers=headers)

    assert press("up").json() == {"label": "positive"}
    assert press("down").json() == {"label": "negative"}
    records = list((indexed_data / "objects" / "feedback" / interaction).glob("*.json"))
    assert len(records) == 1
    stored = json.loads(records[0].read_text())
    assert stored["label"] == "negative" and stored["platform"] == "web"
    assert stored["emoji"] == "👎" and CLIENT not in records[0].name
    assert press("down", active=False).json() == {"label": None}
    assert json.loads(records[0].read_text())["label"] is None
    assert press("fixed").json() == {"label": "positive"}

    api = client.post("/ask/stream", json={"question": "How do I run background tasks?"})
    api_interaction = str(events(api.text)[-1][1]["interaction_id"])
    assert press("up", interaction_id=api_interaction).status_code == 404
    no_token = client.post(
        "/web/feedback",
        json={"interaction_id": interaction, "client": CLIENT, "button": "up"},
        headers={"origin": OWN},
    )
    assert no_token.status_code == 403


def test_browsers_are_rate_limited_per_address(indexed_data: Path, model_cache: Path) -> None:
    """Past the per-address limit a browser question is a 429 with a message for people."""
    settings = settings_for(indexed_data, model_cache, ip_rate_limit=2)
    with TestClient(create_app(settings)) as c:
        assert browser_ask(c, "How do I enable CORS?")[0] == 200
        assert browser_ask(c, "How do I enable CORS?")[0] == 200
        status, text = browser_ask(c, "How do I enable CORS?")
        assert status == 429 and "try again" in json.loads(text)["detail"]
