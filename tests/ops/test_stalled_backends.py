"""While Redis and S3 accept connections and then never answer, /ask keeps answering with the
rollout state and catalog read last, and no request waits for either backend."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.support.redis_server import RedisServer
from tests.support.seaweedfs import SeaweedServer
from tests.support.stalled_stack import CHAMPION, QUESTION, serve_behind_stalling_proxies

BACKEND_TIMEOUT = 20.0  # what the server's Redis and S3 clients would wait for an answer
PATIENCE = BACKEND_TIMEOUT / 4  # far longer than an answer takes, far shorter than a timeout
ASKS = 30


def test_answers_keep_coming_while_redis_and_s3_are_silent(
    tmp_path: Path, redis_server: RedisServer, seaweedfs: SeaweedServer, model_cache: Path
) -> None:
    """Thirty questions over several refresh periods of the rollout state and the catalog,
    with both backends silent: every one is answered by the champion Redis named before the
    stall, none takes anywhere near a backend's timeout, though both backends were asked
    (and swallowed the requests); the interactions wait in the spool."""
    with (
        serve_behind_stalling_proxies(
            tmp_path,
            redis=redis_server,
            seaweedfs=seaweedfs,
            model_cache=model_cache,
            backend_timeout=BACKEND_TIMEOUT,
        ) as stack,
        httpx.Client(base_url=stack.server.url, timeout=PATIENCE) as client,
    ):
        before = client.post("/ask", json={"question": QUESTION})
        assert before.status_code == 200 and before.json()["model"] == CHAMPION

        stack.stall()
        for _ in range(ASKS):
            try:
                answer = client.post("/ask", json={"question": QUESTION})
            except httpx.TimeoutException:
                pytest.fail(f"an answer waited on a silent backend for over {PATIENCE:g} s")
            assert answer.status_code == 200, answer.text
            assert answer.json()["model"] == CHAMPION
            assert answer.json()["sources"]
            time.sleep(0.1)  # the rollout state and the catalog fall due every 0.2 s
        health = client.get("/healthz")

    assert stack.redis.swallowed > 0, "the rollout state was never asked for during the stall"
    assert stack.s3.swallowed > 0, "the object store was never asked during the stall"
    assert health.status_code == 200
    assert health.json()["status"] == "degraded" and health.json()["spool_depth"] >= ASKS
