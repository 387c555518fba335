"""The OpenAPI document is true: Schemathesis, run against a live server with the embedded
defaults and a tiny knowledge base, finds no 5xx and no response the document does not
declare (status, content type or body shape)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from ops.api import create_app
from tests.ops.test_api_http import tiny_kb_settings
from tests.support.asgi_server import serve_asgi

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
# Checks that need authentication or resources that can be created and deleted: none here.
NOT_APPLICABLE = (
    "ignored_auth,use_after_free,ensure_resource_availability,object_level_authorization"
)
EXAMPLES = 25  # per operation and phase: the run stays within about a minute on a quiet machine


@pytest.fixture(scope="module")
def schemathesis() -> Path:
    if not SCHEMATHESIS.exists():
        pytest.skip("needs the test extra (schemathesis) installed beside this Python")
    return SCHEMATHESIS


def test_schemathesis_finds_the_server_true_to_its_openapi_document(
    tmp_path: Path, model_cache: Path, schemathesis: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Every check that applies (not_a_server_error, status_code_conformance,
    content_type_conformance, response_schema_conformance, negative_data_rejection,
    positive_data_acceptance, unsupported_method, ...) over examples from the coverage and
    fuzzing phases, with a fixed seed; and no traceback in the server's log."""
    settings = tiny_kb_settings(tmp_path, model_cache)
    with serve_asgi(create_app(settings)) as url:
        run = subprocess.run(
            [
                str(schemathesis),
                "run",
                f"{url}/openapi.json",
                "--checks=all",
                f"--exclude-checks={NOT_APPLICABLE}",
                f"--max-examples={EXAMPLES}",
                "--seed=20261202",
                "--generation-database=none",
                "--workers=1",
                "--request-timeout=60",
                "--no-color",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
    operations = re.search(r"Operations:\s+(\d+) selected / (\d+) total", run.stdout)
    assert operations is not None and operations[1] == operations[2], run.stdout[-4000:]
    assert int(operations[1]) >= 4  # /ask, /search, /healthz, /metrics at least
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []
