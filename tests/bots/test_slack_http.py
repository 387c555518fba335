"""Slack's HTTP endpoint on a real uvicorn server: malformed and unsigned requests get a 4xx,
an unreachable Slack a 503, and none of them a traceback in the log."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer

from ops.api import create_app
from tests.bots.slack_fake import (
    BOT_USER,
    SIGNING_SECRET,
    SOURCES,
    EchoModel,
    FakeSlack,
    Retriever,
    command_body,
    event_body,
    mention,
    serve_fake_slack,
    with_fake_core,
)
from tests.bots.test_slack import make_settings, wait_until
from tests.support.asgi_server import serve_asgi
from tests.support.vllm_server import free_port

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def signed(
    body: bytes, *, stamp: str | None = None, secret: str = SIGNING_SECRET
) -> dict[str, str]:
    """Slack's headers for `body`: a real v0 HMAC over `v0:<stamp>:<body>`."""
    stamp = str(int(time.time())) if stamp is None else stamp
    mac = hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256)
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={mac.hexdigest()}"}


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    """Nothing was logged with a traceback, and the signing secret was never logged."""
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []
    assert "Traceback" not in caplog.text
    assert SIGNING_SECRET not in caplog.text


@dataclass
class Server:
    """A running app on uvicorn, an httpx client on it, and the fake Slack it talks to."""

    client: httpx.Client
    slack: FakeSlack

    def post(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return self.client.post("/slack/events", content=body, headers=headers)

    def posted(self) -> int:
        return len(self.slack.called("chat.postMessage"))


@contextmanager
def serve(work: Path, model_cache: Path, *, unreachable: bool = False) -> Iterator[Server]:
    """`leximind serve`'s app on uvicorn, its Web API the fake Slack or, when `unreachable`,
    a loopback port nothing listens on."""
    fake_api = HTTPServer(host="127.0.0.1", port=0)
    fake_api.start()
    try:
        fake = serve_fake_slack(fake_api)
        api_url = (
            f"http://127.0.0.1:{free_port()}/api/" if unreachable else fake_api.url_for("/api/")
        )
        settings = make_settings(work, api_url, model_cache=model_cache)
        app = create_app(settings, adjust_services=with_fake_core(EchoModel(), Retriever(SOURCES)))
        with serve_asgi(app) as url, httpx.Client(base_url=url, timeout=60) as client:
            yield Server(client, fake)
    finally:
        fake_api.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Iterator[Server]:
    with serve(tmp_path_factory.mktemp("slack"), model_cache) as running:
        yield running


EVENT = event_body(
    mention({"user": "U1", "text": f"<@{BOT_USER}> hi", "ts": "1.1"}, channel="C1"),
    event_id="Ev1",
).encode()
NOT_UTF8 = b'{"type": "event_callback", "text": "\xff\xfe"}'
NOW = str(int(time.time()))

UNSIGNED: dict[str, tuple[bytes, dict[str, str]]] = {
    "no headers": (EVENT, {}),
    "no signature": (EVENT, {"X-Slack-Request-Timestamp": NOW}),
    "no timestamp": (EVENT, {"X-Slack-Signature": signed(EVENT)["X-Slack-Signature"]}),
    "timestamp abc, signed over it": (EVENT, signed(EVENT, stamp="abc")),
    "timestamp abc, forged": (
        EVENT,
        {"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=0"},
    ),
    "fractional timestamp": (EVENT, signed(EVENT, stamp=f"{time.time():.3f}")),
    "negative timestamp": (EVENT, signed(EVENT, stamp="-1")),
    "timestamp of 400 digits": (EVENT, signed(EVENT, stamp="9" * 400)),
    "six minutes old": (EVENT, signed(EVENT, stamp=str(int(time.time()) - 360))),
    "other secret": (EVENT, signed(EVENT, secret="not-the-signing-secret")),
    "non-UTF-8 body, forged": (NOT_UTF8, {**signed(EVENT), "Content-Type": JSON}),
    "invalid JSON, forged": (b"{oops", {**signed(EVENT), "Content-Type": JSON}),
}


@pytest.mark.parametrize("case", UNSIGNED.keys())
def test_a_request_not_signed_by_slack_is_401_whatever_its_body(
    server: Server, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    """Missing headers, a timestamp that is not Unix seconds or is out of the 5-minute window,
    or a signature over other bytes: 401 with the reason, before the body is read as JSON."""
    body, headers = UNSIGNED[case]
    posted = server.posted()
    r = server.post(body, headers)
    assert r.status_code == 401, r.text
    assert isinstance(r.json()["detail"], str) and r.json()["detail"]
    assert server.posted() == posted
    no_tracebacks(caplog)


def test_a_signature_header_that_is_not_ascii_is_401(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    """Header bytes beyond ASCII (sent raw, as a client may) are compared, not decoded: 401."""
    headers = [
        (b"X-Slack-Request-Timestamp", NOW.encode()),
        (b"X-Slack-Signature", b"v0=\xe9\xff"),
        (b"Content-Type", JSON.encode()),
    ]
    r = server.client.post("/slack/events", content=EVENT, headers=headers)
    assert r.status_code == 401
    no_tracebacks(caplog)


MALFORMED: dict[str, tuple[bytes, str | None, str]] = {
    "non-UTF-8 JSON": (NOT_UTF8, JSON, "UTF-8"),
    "non-UTF-8 form": (b"payload=\xff", FORM, "UTF-8"),
    "non-UTF-8, no type": (b"\xff\xfe{", None, "UTF-8"),
    "invalid JSON": (b"{not json", JSON, "not valid JSON"),
    "a JSON list": (b"[1, 2]", JSON, "not a JSON object"),
    "payload of invalid JSON": (b"payload=" + quote("{oops").encode(), FORM, "payload"),
    "payload of a JSON list": (b"payload=" + quote("[1]").encode(), FORM, "payload"),
    "payload of a JSON string": (b"payload=" + quote('"x"').encode(), FORM, "payload"),
    "empty body": (b"", JSON, "empty"),
}


@pytest.mark.parametrize("case", MALFORMED.keys())
def test_a_signed_body_slack_would_not_send_is_400(
    server: Server, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    """With a valid signature, a body that is not UTF-8, or JSON (or a form's `payload`) that
    is not an object, gets 400 saying so."""
    body, content_type, reason = MALFORMED[case]
    headers = signed(body) | ({"Content-Type": content_type} if content_type else {})
    posted = server.posted()
    r = server.post(body, headers)
    assert r.status_code == 400, r.text
    assert reason in r.json()["detail"]
    assert server.posted() == posted
    no_tracebacks(caplog)


# Slack's envelopes and events, with their fields holding values of every JSON type: nested
# objects with the same field names reach Bolt's and the listeners' deeper reads.
_KEYS = st.sampled_from(
    [
        "type", "event", "team", "team_id", "enterprise", "enterprise_id", "user", "user_id",
        "channel", "channel_id", "authorizations", "is_enterprise_install", "event_id", "id",
        "command", "text", "trigger_id", "response_url", "response_urls", "view", "actions",
        "message", "container", "function_data", "is_ext_shared_channel", "challenge", "ts",
        "thread_ts", "item", "item_user", "reaction", "event_ts", "bot_id", "user_team",
    ]
)  # fmt: skip
_TYPES = st.sampled_from(
    ["event_callback", "url_verification", "app_mention", "reaction_added", "reaction_removed",
     "message", "block_actions", "view_submission", "shortcut", "/leximind"]
)  # fmt: skip
_SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=4)
)
_JSON = st.recursive(
    _SCALARS | _TYPES,
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=10,
)
_TEXT = st.text(max_size=4) | st.sampled_from(["C1", "U1", BOT_USER, "1.5", "abc", "1e400", ""])
_EVENT = st.fixed_dictionaries(
    {"type": _TYPES},
    optional={
        key: _TEXT
        for key in ("user", "channel", "ts", "text", "thread_ts", "bot_id", "item_user", "event_ts")
    }
    | {"item": st.dictionaries(st.sampled_from(["type", "channel", "ts"]), _TEXT | _TYPES)},
)
ENVELOPES = st.one_of(
    # any JSON under Slack's field names: mostly refused by the shape check
    st.dictionaries(_KEYS, _JSON, max_size=6),
    # events and commands of the right types and any content: these reach the listeners
    st.builds(
        lambda base, event: {**base, "type": "event_callback", "event": event},
        st.dictionaries(st.sampled_from(["team_id", "event_id", "api_app_id"]), _TEXT),
        _EVENT,
    ),
    st.fixed_dictionaries(
        {"command": st.sampled_from(["/leximind", "/other"])},
        optional={key: _TEXT for key in ("text", "channel_id", "user_id", "team_id", "trigger_id")},
    ),
)


def test_signed_json_of_any_shape_never_gets_a_5xx(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    """Signed JSON objects and form payloads whose Slack fields hold values of the wrong type
    get a 2xx or 4xx, never a 5xx, and no traceback is logged."""
    seen: list[int] = []

    @settings(
        max_examples=150,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(envelope=ENVELOPES, as_form=st.booleans())
    def check(envelope: dict[str, Any], as_form: bool) -> None:
        text = json.dumps(envelope)
        body = (f"payload={quote(text)}" if as_form else text).encode()
        r = server.post(body, signed(body) | {"Content-Type": FORM if as_form else JSON})
        seen.append(r.status_code)
        assert r.status_code < 500, (envelope, r.text)

    check()
    assert any(status == 400 for status in seen) and any(status < 400 for status in seen)
    no_tracebacks(caplog)


def test_a_slash_command_while_slack_is_unreachable_is_503(
    tmp_path: Path, model_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """With nothing listening where Slack's Web API should be, a signed /leximind and a signed
    mention get 503 (Slack retries events), logged in one line each, with no traceback."""
    command = command_body(
        "How do I run the tests?", channel="C1", response_url="http://127.0.0.1:9/", trigger="t1"
    ).encode()
    with serve(tmp_path, model_cache, unreachable=True) as down:
        r = down.post(command, signed(command) | {"Content-Type": FORM})
        assert r.status_code == 503, r.text
        assert "unreachable" in r.json()["detail"]
        r = down.post(EVENT, signed(EVENT) | {"Content-Type": JSON})
        assert r.status_code == 503, r.text
    no_tracebacks(caplog)
    assert sum("failed" in r.getMessage() for r in caplog.records if r.name == "bots.slack.app")


def test_a_signed_command_is_acknowledged_and_answered(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    """The same server accepts what Slack really signs: /leximind gets an empty 200 at once
    and the answer is posted through the Web API."""
    command = command_body(
        "How do I run the tests?", channel="C1", response_url="http://127.0.0.1:9/", trigger="t2"
    ).encode()
    updates = len(server.slack.called("chat.update"))
    r = server.post(command, signed(command) | {"Content-Type": FORM})
    assert r.status_code == 200 and r.text == ""
    update = wait_until(lambda: server.slack.called("chat.update")[updates:])[0]
    assert update["text"].startswith("Run `make test` [1].")
    no_tracebacks(caplog)
