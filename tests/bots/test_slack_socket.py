"""Slack in Socket Mode: envelopes over a local websocket reach the same listeners and are acked."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSMsgType, web
from pydantic import SecretStr
from pytest_httpserver import HTTPServer

from bots.rendering import FAILED
from bots.slack.threads import USAGE
from ops.settings import Settings, SlackSettings
from ops.wiring import open_services
from tests.bots.slack_fake import (
    APP_TOKEN,
    BOT_TOKEN,
    BOT_USER,
    SOURCES,
    EchoModel,
    FakeSlack,
    Retriever,
    event_body,
    mention,
    serve_fake_slack,
    with_fake_core,
)
from tests.conftest import REPO_ROOT
from tests.support.polling import eventually


class FakeSocketModeServer:
    """Slack's side of a Socket Mode connection: says hello, sends envelopes, keeps the acks."""

    def __init__(self, envelopes: list[dict[str, Any]]) -> None:
        self._envelopes = envelopes
        self.acks: list[dict[str, Any]] = []

    async def connection(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"type": "hello", "num_connections": 1, "debug_info": {}})
        for envelope in self._envelopes:
            await ws.send_json(envelope)
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                self.acks.append(json.loads(message.data))
        return ws


@pytest.fixture
def slack_api(httpserver: HTTPServer) -> FakeSlack:
    return serve_fake_slack(httpserver)


@pytest.fixture
async def socket_server() -> AsyncIterator[Callable[[list[dict[str, Any]]], Any]]:
    runners: list[web.AppRunner] = []

    async def start(envelopes: list[dict[str, Any]]) -> tuple[FakeSocketModeServer, str]:
        server = FakeSocketModeServer(envelopes)
        app = web.Application()
        app.router.add_get("/link", server.connection)
        runner = web.AppRunner(app)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        return server, f"ws://127.0.0.1:{port}/link"

    yield start
    for runner in runners:
        await runner.cleanup()


async def test_socket_mode_answers_mentions_and_commands_with_the_same_listeners(
    tmp_path: Path,
    httpserver: HTTPServer,
    slack_api: FakeSlack,
    socket_server: Callable[[list[dict[str, Any]]], Any],
) -> None:
    """A mention is answered in its thread, its redelivery dropped, /leximind acked with help."""
    message = slack_api.post_as_user("C1", f"<@{BOT_USER}> How do I run the tests?")
    payload = json.loads(event_body(mention(message, channel="C1"), event_id="Ev1"))
    command = {
        "command": "/leximind",
        "text": "",
        "team_id": "T1",
        "channel_id": "C1",
        "user_id": "U1",
        "trigger_id": "trig-1",
        "response_url": "https://x.invalid/r",
    }
    envelopes = [
        {
            "envelope_id": "env-1",
            "type": "events_api",
            "payload": payload,
            "accepts_response_payload": False,
            "retry_attempt": 0,
        },
        {
            "envelope_id": "env-2",
            "type": "events_api",
            "payload": payload,
            "accepts_response_payload": False,
            "retry_attempt": 1,
        },
        {
            "envelope_id": "env-3",
            "type": "slash_commands",
            "payload": command,
            "accepts_response_payload": True,
        },
    ]
    server, url = await socket_server(envelopes)
    slack_api.socket_url = url
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        slack=SlackSettings(
            bot_token=SecretStr(BOT_TOKEN),
            app_token=SecretStr(APP_TOKEN),
            api_url=httpserver.url_for("/api/"),
        ),
    )
    model = EchoModel()
    adjust = with_fake_core(model, Retriever(SOURCES))
    async with open_services(settings, "slack", adjust=adjust) as process:
        assert process.slack is not None
        stop = asyncio.Event()
        serving = asyncio.create_task(process.slack.serve_socket_mode(APP_TOKEN, stop=stop))
        try:
            [update] = await eventually(lambda: slack_api.called("chat.update"))
            acks = await eventually(lambda: len(server.acks) >= 3 and server.acks)
        finally:
            stop.set()
            await serving
    assert update["text"].startswith("Run `make test` [1].")
    assert len(slack_api.called("chat.postMessage")) == 1, "the redelivery is not answered"
    by_envelope = {ack["envelope_id"]: ack.get("payload") for ack in acks}
    assert by_envelope == {
        "env-1": None,
        "env-2": None,
        "env-3": {"text": USAGE, "response_type": "ephemeral"},
    }


async def test_leximind_slack_socket_runs_until_sigterm(
    tmp_path: Path,
    httpserver: HTTPServer,
    slack_api: FakeSlack,
    socket_server: Callable[[list[dict[str, Any]]], Any],
) -> None:
    """`leximind slack --socket` answers over the socket and exits cleanly on SIGTERM."""
    message = slack_api.post_as_user("C1", f"<@{BOT_USER}> How do I run the tests?")
    payload = json.loads(event_body(mention(message, channel="C1"), event_id="Ev1"))
    envelope = {
        "envelope_id": "env-1",
        "type": "events_api",
        "payload": payload,
        "accepts_response_payload": False,
        "retry_attempt": 0,
    }
    server, url = await socket_server([envelope])
    slack_api.socket_url = url
    env = {
        **os.environ,
        "LEXIMIND_DATA_DIR": str(tmp_path),
        "LEXIMIND_SLACK__BOT_TOKEN": BOT_TOKEN,
        "LEXIMIND_SLACK__APP_TOKEN": APP_TOKEN,
        "LEXIMIND_SLACK__API_URL": httpserver.url_for("/api/"),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ops.cli",
        "slack",
        "--socket",
        env=env,
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        [update] = await eventually(lambda: slack_api.called("chat.update"), timeout=120)
        await eventually(lambda: server.acks)
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = await process.communicate()
    # Nothing is indexed in this data dir, so the core fails and the thread gets the apology.
    assert update["text"] == FAILED
    assert server.acks == [{"envelope_id": "env-1"}]
    assert process.returncode == 0, output.decode()
