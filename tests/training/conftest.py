"""Fixtures for the training-data tests: slices of the shared datasets."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.datasets import codeqa_slice, conala_slice


@pytest.fixture
def codeqa_dir(tmp_path: Path) -> Path:
    """Sixty examples each of CodeQA dev and test, in the shared layout."""
    return codeqa_slice(tmp_path / "codeqa")


@pytest.fixture
def conala_dir(tmp_path: Path) -> Path:
    """Forty records of each CoNaLa file."""
    return conala_slice(tmp_path / "conala")
