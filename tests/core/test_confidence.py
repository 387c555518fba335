"""Confidence is a calibrated chance from the sources' similarities; boilerplate is no evidence."""

from __future__ import annotations

from core.answering import AnswerService
from core.calibration_table import CALIBRATION
from core.confidence import Calibration, calibrated_confidence, features
from core.types import ChunkKind, Source
from tests.fakes import ListRetriever, MemoryInteractionLog, chunk

IMPORTS = Source(
    chunk(
        "tests/test_commands.py",
        "import click\nimport pytest\nfrom click.testing import CliRunner\n",
        kind=ChunkKind.CODE,
    ),
    0.93,
)
DOC = Source(chunk("docs/testing.md", "Use CliRunner to invoke a command in a test."), 0.62)
OTHER = Source(chunk("docs/api.md", "The API reference."), 0.41)


def test_features_rank_order_and_margin() -> None:
    assert features([DOC, OTHER]) == (0.62, 0.62 - 0.41, 0.62)
    top, margin, best = features([OTHER, DOC])
    assert (top, best) == (0.41, 0.62) and margin < 0
    assert features([]) == (0.0, 0.0, 0.0)


def test_boilerplate_counts_as_no_evidence() -> None:
    assert features([IMPORTS, DOC]) == (0.0, -0.62, 0.62)
    assert calibrated_confidence([IMPORTS], CALIBRATION) == 0.0


def test_probability_grows_with_similarity_and_stays_below_one() -> None:
    model = Calibration(intercept=-4.0, weights=(8.0, 2.0, 0.0))
    low = calibrated_confidence([OTHER, DOC], model)
    high = calibrated_confidence([DOC, OTHER], model)
    assert 0.0 < low < high < 1.0


def test_the_service_reports_the_committed_calibration() -> None:
    svc = AnswerService(
        retriever=ListRetriever({"default": [DOC, OTHER]}),
        chat_model=None,
        interaction_log=MemoryInteractionLog(),
    )
    expected = CALIBRATION.probability(features([DOC, OTHER]))
    assert svc.confidence([DOC, OTHER]) == round(expected, 3)
    assert svc.confidence([IMPORTS, OTHER]) < svc.confidence([DOC, OTHER])
