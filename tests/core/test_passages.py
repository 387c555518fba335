"""A code passage of only imports, exports and comments is boilerplate; code and prose are not."""

from __future__ import annotations

import pytest

from core.passages import is_boilerplate
from core.types import ChunkKind
from tests.fakes import chunk

IMPORTS = """\
import os
import pytest

import click
from click.testing import CliRunner
from click._compat import (
    PY2,
    text_type,
)
"""
GO_PACKAGE = 'package client\n\nimport (\n\t"net/http"\n\t"time"\n)\n'
REEXPORTS = (
    '"""Public names."""\nfrom .api import get, post\n__all__ = [\n    "get",\n    "post",\n]\n'
)
JS = "const express = require('express')\nexport * from './router'\nexport { a, b } from './c'\n"
LICENCE = "# Copyright 2020 the authors.\n# Licensed under the Apache License 2.0\n\nimport sys\n"


@pytest.mark.parametrize("text", [IMPORTS, GO_PACKAGE, REEXPORTS, JS, LICENCE, "\n\n"])
def test_imports_exports_and_comments_are_boilerplate(text: str) -> None:
    assert is_boilerplate(chunk("pkg/mod.py", text, kind=ChunkKind.CODE))


@pytest.mark.parametrize(
    "text",
    [
        IMPORTS + "\n\ndef test_help(runner):\n    result = runner.invoke(cli, ['--help'])\n"
        "    assert result.exit_code == 0\n",
        "import os\nTIMEOUT = float(os.environ.get('APP_TIMEOUT', '5.0'))  # seconds per request\n",
        "test:\n\tpython -m pytest tests -x -q --maxfail=1\n",
    ],
)
def test_code_with_substance_is_not(text: str) -> None:
    assert not is_boilerplate(chunk("pkg/mod.py", text, kind=ChunkKind.CODE))


def test_prose_is_never_boilerplate() -> None:
    assert not is_boilerplate(chunk("docs/a.md", "import os", kind=ChunkKind.DOC))
