"""Review items are built from stored records, and the latest corrected review wins."""

from __future__ import annotations

import pytest

from core.types import Turn
from tests.support.review import interaction
from training.review.board import review_from, sources_html, task_data
from training.review.model import (
    MalformedRecord,
    Review,
    SourceLink,
    choose_reviews,
    correction_record,
    review_item,
)


def review(
    interaction_id: str, review_id: int, at: str, text: str = "", *, skipped: bool = False
) -> Review:
    return Review(
        interaction_id=interaction_id,
        task_id=1,
        review_id=review_id,
        annotator="a@x",
        updated_at=at,
        skipped=skipped,
        corrected=text,
    )


def test_latest_corrected_review_wins_and_the_rest_is_counted() -> None:
    """Skipped, empty and foreign reviews never win; among the rest the latest does."""
    choice = choose_reviews(
        [
            review("i1", 1, "2026-11-25T10:00:00Z", "first"),
            review("i1", 3, "2026-11-25T12:00:00Z", "latest"),
            review("i1", 2, "2026-11-25T11:00:00Z", "middle"),
            review("i1", 4, "2026-11-25T13:00:00Z", "   "),
            review("i1", 5, "2026-11-25T14:00:00Z", "skipped", skipped=True),
            review("", 6, "2026-11-25T14:00:00Z", "not ours"),
        ]
    )
    assert choice.latest["i1"].corrected == "latest"
    assert (choice.skipped, choice.empty, choice.foreign) == (1, 1, 1)


def test_item_from_record_keeps_conversation_and_sources() -> None:
    """Question, earlier turns, answer and cited sources all reach the review item."""
    record = interaction("i1", history=(Turn("q0", "a0"),)).to_record()
    item = review_item(record, ["abstained"])
    assert (item.question, item.answer, item.history) == (
        "How do I enable CORS?",
        "Use CORSMiddleware [1].",
        (Turn("q0", "a0"),),
    )
    assert item.sources[0].path == "docs/tutorial/cors.md"
    assert (item.sources[0].start_line, item.sources[0].end_line) == (3, 9)


@pytest.mark.parametrize(
    "broken",
    [
        {"id": "i1", "created_at": "x", "answer": {"text": "a"}},
        {"id": "../escape", "created_at": "x", "question": {"text": "q"}, "answer": {"text": "a"}},
        {"id": "i1", "created_at": "x", "question": {"text": 3}, "answer": {"text": "a"}},
        {"id": "i1", "created_at": "x", "question": {"text": "q"}, "answer": {"sources": "s"}},
    ],
)
def test_malformed_records_are_refused(broken: dict[str, object]) -> None:
    """A missing section, a path-like id or a wrong type raises MalformedRecord."""
    with pytest.raises(MalformedRecord):
        review_item(broken, ["abstained"])


def test_sources_html_escapes_everything_and_links_only_http() -> None:
    """Markup in paths, titles or passages is shown as text; javascript: URLs are not linked."""
    html = sources_html(
        [
            SourceLink("a<b>.md", "T & <i>", "https://x/a?b=1&c=2", 1, 2, "<script>x</script>"),
            SourceLink("b.md", "", "javascript:alert(1)", None, None, ""),
        ]
    )
    assert "<script>" not in html and "&lt;script&gt;" in html and "a&lt;b&gt;.md" in html
    assert 'href="https://x/a?b=1&amp;c=2"' in html and "javascript:" not in html
    assert "(lines 1–2)" in html


def test_task_data_and_annotation_parsing() -> None:
    """Task data carries the interaction id; an annotation's text and verdict are read back."""
    item = review_item(interaction("i1").to_record(), ["abstained"])
    data = task_data(item)
    assert data["interaction_id"] == "i1" and data["reason"] == "abstained"
    task = {"id": 7, "data": data}
    annotation = {
        "id": 9,
        "completed_by": 1,
        "updated_at": "2026-11-25T10:00:00Z",
        "was_cancelled": False,
        "result": [
            {"from_name": "verdict", "value": {"choices": ["Wrong"]}},
            {"from_name": "corrected", "value": {"text": ["line one\r\n", "line two"]}},
        ],
    }
    parsed = review_from(task, annotation, {1: "rev@x"})
    assert parsed == Review(
        "i1", 7, 9, "rev@x", "2026-11-25T10:00:00Z", False, "line one\n\nline two", "wrong"
    )
    assert correction_record(parsed)["answer"] == "line one\n\nline two"
