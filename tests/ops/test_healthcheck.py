"""Container health checks: a URL answering 2xx (with a text), or a fresh heartbeat file."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from ops.healthcheck import check_file, check_url, main
from tests.support.vllm_server import free_port


def test_a_url_answering_2xx_is_healthy(httpserver: HTTPServer) -> None:
    """200 is healthy; with --contains the body must also hold the text."""
    httpserver.expect_request("/metrics").respond_with_data("leximind_gateway_connected 1.0\n")
    url = httpserver.url_for("/metrics")
    assert check_url(url) is None
    assert check_url(url, contains="leximind_gateway_connected 1.0") is None
    problem = check_url(url, contains="leximind_gateway_connected 0.0")
    assert problem is not None and "does not contain" in problem


def test_an_unavailable_service_is_unhealthy(httpserver: HTTPServer) -> None:
    """/healthz answering 503 (the index store is down) fails the check with the status."""
    httpserver.expect_request("/healthz").respond_with_json({"status": "unavailable"}, status=503)
    assert (
        check_url(httpserver.url_for("/healthz"))
        == f"{httpserver.url_for('/healthz')} answered 503"
    )
    assert main([httpserver.url_for("/healthz")]) == 1


def test_nothing_listening_is_unhealthy() -> None:
    """A refused connection is a reason, not a crash."""
    # a port that was free a moment ago; stopping the shared httpserver would break later tests
    url = f"http://127.0.0.1:{free_port()}/healthz"
    problem = check_url(url, timeout=2)
    assert problem is not None and "unreachable" in problem


def test_only_http_urls_are_checked() -> None:
    """A file: or bare URL is refused, not opened."""
    assert check_url("file:///etc/passwd") == "'file:///etc/passwd' is not an http(s) URL"


def test_a_heartbeat_file_must_be_fresh(tmp_path: Path) -> None:
    """Fresh is healthy; stale or missing is unhealthy, with the reason."""
    beat = tmp_path / "heartbeat.json"
    assert "No such file" in (check_file(beat, max_age=120) or "")
    beat.write_text("{}")
    assert check_file(beat, max_age=120) is None
    old = time.time() - 300
    os.utime(beat, (old, old))
    problem = check_file(beat, max_age=120)
    assert problem is not None and "more than 120 s" in problem
    assert main(["--file", str(beat), "--max-age", "600"]) == 0
    assert main(["--file", str(beat), "--max-age", "120"]) == 1


def test_exactly_one_kind_of_check_is_asked_for(tmp_path: Path) -> None:
    """Neither or both a URL and --file is a usage error."""
    with pytest.raises(SystemExit) as neither:
        main([])
    with pytest.raises(SystemExit) as both:
        main(["http://127.0.0.1:1/", "--file", str(tmp_path / "x")])
    assert neither.value.code == both.value.code == 2
