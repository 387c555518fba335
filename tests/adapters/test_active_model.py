"""The active model name: switched atomically in a file, seen by every reader on its next call."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from adapters.llm.active_model import FileActiveModel
from adapters.llm.openai_compatible import OpenAICompatibleChatModel
from core.rollout import validate_model_name
from core.types import ChatMessage
from tests.conftest import REPO_ROOT


def test_no_name_until_the_first_switch(tmp_path: Path) -> None:
    """Before any switch there is no active model, and the folder need not exist."""
    assert FileActiveModel(tmp_path / "deploy" / "active_model.json").current() is None


async def test_a_switch_is_seen_by_another_reader(tmp_path: Path) -> None:
    """A reader that already cached a name sees the next switch on its next call."""
    path = tmp_path / "deploy" / "active_model.json"
    writer, reader = FileActiveModel(path), FileActiveModel(path)
    await writer.switch("leximind-1")
    assert reader.current() == "leximind-1"
    await writer.switch("leximind-2")
    assert reader.current() == "leximind-2"
    assert json.loads(path.read_text())["model"] == "leximind-2"


async def test_a_switch_by_another_process_is_seen(tmp_path: Path) -> None:
    """A name switched by a separate process reaches this one without a restart."""
    path = tmp_path / "active_model.json"
    reader = FileActiveModel(path)
    await reader.switch("leximind-1")
    assert reader.current() == "leximind-1"
    code = (
        "import asyncio, sys; from pathlib import Path;"
        "from adapters.llm.active_model import FileActiveModel;"
        "asyncio.run(FileActiveModel(Path(sys.argv[1])).switch('leximind-from-elsewhere'))"
    )
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, cwd=REPO_ROOT)
    assert reader.current() == "leximind-from-elsewhere"


async def test_an_unreadable_file_keeps_the_last_name(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A hand-broken file is logged and the name read before stays in use."""
    path = tmp_path / "active_model.json"
    model = FileActiveModel(path)
    await model.switch("leximind-1")
    assert model.current() == "leximind-1"
    path.write_text("{not json")
    with caplog.at_level(logging.ERROR):
        assert model.current() == "leximind-1"
    assert "unreadable" in caplog.text
    path.write_text(json.dumps({"model": 7}))
    assert FileActiveModel(path).current() is None


@pytest.mark.parametrize("name", ["", "two words", "tab\tname", "x" * 201])
async def test_bad_names_are_refused(tmp_path: Path, name: str) -> None:
    """Empty names, whitespace, control characters and over-long names cannot be switched to."""
    with pytest.raises(ValueError, match="model name"):
        await FileActiveModel(tmp_path / "a.json").switch(name)
    assert validate_model_name("leximind-20261129T020000Z") == "leximind-20261129T020000Z"


async def test_the_chat_model_asks_for_the_active_name_per_request(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    """Requests go to the configured model until a switch, then to the switched-to one."""
    seen: list[str] = []

    def reply(request: Request) -> Response:
        model = request.get_json()["model"]
        seen.append(model)
        body = {"model": model, "choices": [{"message": {"content": f"hi from {model}"}}]}
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request("/v1/chat/completions").respond_with_handler(reply)
    active = FileActiveModel(tmp_path / "active_model.json")
    async with OpenAICompatibleChatModel(
        base_url=httpserver.url_for("/v1"), model="base-model", active_model=active
    ) as chat:
        first = await chat.complete([ChatMessage("user", "hello")])
        await active.switch("leximind-7")
        second = await chat.complete([ChatMessage("user", "hello")])
        assert chat.name == "leximind-7"
    assert seen == ["base-model", "leximind-7"]
    assert (first.model, second.model) == ("base-model", "leximind-7")
    assert "leximind-7" in repr(chat)
