"""The leximind command indexes a git URL, answers and searches, and reports errors plainly."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from ops.cli import _metrics_served, app
from ops.metrics import Metrics
from ops.settings import MetricsSettings, Settings
from tests.support.corpus import git, make_fastapi_repo

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, model_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    monkeypatch.setenv("LEXIMIND_DATA_DIR", str(data))
    monkeypatch.setenv("LEXIMIND_EMBEDDING__CACHE_DIR", str(model_cache))
    return data


def test_index_git_url_then_ask_and_search(env: Path, tmp_path: Path) -> None:
    """A git URL is cloned into the data dir and indexed; ask and search print JSON."""
    repo = make_fastapi_repo(tmp_path / "repo", files=["docs/en/docs/tutorial/cors.md"])
    bare = tmp_path / "remote.git"
    git(tmp_path, "clone", "--quiet", "--bare", str(repo), str(bare))
    url = bare.as_uri()

    result = runner.invoke(app, ["index", url, "--kb", "web"])
    assert result.exit_code == 0, result.output
    assert "1 files (1 changed" in result.output
    assert any((env / "repos").iterdir())

    again = runner.invoke(app, ["index", url, "--kb", "web"])
    assert "Nothing changed: no passage needed embedding." in again.output

    asked = runner.invoke(app, ["ask", "How do I allow CORS origins?", "--kb", "web", "--json"])
    body = json.loads(asked.output)
    assert body["sources"][0]["path"] == "docs/en/docs/tutorial/cors.md"
    assert body["model"] == "extractive" and body["interaction_id"]

    found = runner.invoke(app, ["search", "CORS", "--kb", "web", "-k", "1", "--json"])
    assert [s["path"] for s in json.loads(found.output)["sources"]] == [
        "docs/en/docs/tutorial/cors.md"
    ]
    human = runner.invoke(app, ["search", "CORS", "--kb", "web"])
    assert human.exit_code == 0 and "cors.md" in human.output


def test_errors_are_one_line_not_tracebacks(env: Path, tmp_path: Path) -> None:
    """A missing source, an unknown kb and an empty question exit 1 with a message."""
    missing = runner.invoke(app, ["index", str(tmp_path / "nope")])
    assert missing.exit_code == 1 and "does not exist" in missing.output
    unknown = runner.invoke(app, ["ask", "hello there", "--kb", "ghost"])
    assert unknown.exit_code == 1 and "unknown knowledge base 'ghost'" in unknown.output
    empty = runner.invoke(app, ["search", "   "])
    assert empty.exit_code == 1 and "empty" in empty.output
    bad = runner.invoke(app, ["index", ".", "--kb", "bad name!"])
    assert bad.exit_code == 2 and "invalid knowledge base name" in bad.output
    assert "Traceback" not in missing.output + unknown.output + empty.output


@pytest.mark.parametrize(
    "args",
    [
        [b"ask", b"opt \xff x"],
        [b"search", b"fine", b"--kb", b"caf\xe9"],
        [b"index", b"repo-\xc3"],
        [b"store", b"migrate", b"--kb", b"\xfe"],
        [b"model", b"promote", b"\xff"],
    ],
)
def test_a_non_utf8_argument_is_one_line_error(env: Path, args: list[bytes]) -> None:
    """Bytes that are not UTF-8 in any command's argument: one line on stderr, exit 1, and
    nothing loaded (the data dir is never made)."""
    done = subprocess.run(
        [sys.executable, "-m", "ops.cli", *args], capture_output=True, timeout=120, check=False
    )
    assert done.returncode == 1, done.stderr
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: argument ")
    assert "is not valid Unicode text" in lines[0]
    assert done.stdout == b"" and not env.exists()


def test_a_long_bad_knowledge_base_name_is_quoted_short(env: Path) -> None:
    """A 10,000-character invalid name is refused with only a short prefix of it."""
    result = runner.invoke(app, ["search", "CORS", "--kb", "x!" * 5000])
    assert result.exit_code == 2 and "invalid knowledge base name" in result.output
    assert "x!" * 20 in result.output and "x!" * 40 not in result.output


def test_discord_without_a_token_says_what_to_set(env: Path) -> None:
    """`leximind discord` with no token exits 1 naming the variable, before loading anything."""
    result = runner.invoke(app, ["discord"])
    assert result.exit_code == 1
    assert "LEXIMIND_DISCORD__TOKEN is not set" in result.output
    assert not env.exists()


def test_the_discord_metrics_server_follows_the_settings() -> None:
    """No port: nothing served; a port: /metrics served until stopped; a taken port: exit 1."""
    metrics = Metrics()
    with _metrics_served(Settings(_env_file=None), metrics):
        pass  # nothing to serve, nothing to stop
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings(_env_file=None, metrics=MetricsSettings(port=port))
    with _metrics_served(settings, metrics):
        assert "leximind_gateway_connected" in httpx.get(f"http://127.0.0.1:{port}/metrics").text
        with pytest.raises(typer.Exit), _metrics_served(settings, Metrics()):
            pytest.fail("the port is taken")
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/metrics")


def test_slack_command_needs_socket_mode_and_its_tokens(tmp_path: Path) -> None:
    """`leximind slack` points HTTP mode at serve; --socket without tokens says what is missing."""
    plain = runner.invoke(app, ["slack"])
    assert plain.exit_code == 1 and "POST /slack/events" in plain.output
    result = runner.invoke(app, ["slack", "--socket"], env={"LEXIMIND_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 1
    assert "LEXIMIND_SLACK__APP_TOKEN" in result.output


def _serve(port: int) -> subprocess.CompletedProcess[str]:
    """`leximind serve` on `port` in a process of its own, run until it exits."""
    return subprocess.run(
        [sys.executable, "-m", "ops.cli", "serve", "--port", str(port)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_serve_on_a_port_in_use_is_one_line(env: Path) -> None:
    """`leximind serve` on a port another process holds: one line on stderr, exit 1, no
    traceback, and nothing started (the services are never built)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _serve(port)
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [
        f"error: cannot start: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]
    assert not env.exists()


def test_serve_whose_start_up_fails_says_why_in_one_line(env: Path) -> None:
    """A start-up that fails (the data dir is a file): exit non-zero with one `cannot start`
    line naming the cause, and no traceback."""
    env.parent.mkdir(parents=True, exist_ok=True)
    env.write_text("not a folder")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = _serve(port)
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "Traceback" not in output, output
    [line] = [line for line in output.splitlines() if "cannot start" in line]
    assert line.endswith(f"Not a directory: '{env / 'spool'}'"), output
